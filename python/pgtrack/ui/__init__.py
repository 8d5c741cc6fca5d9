"""``pgtrack ui``: a live dashboard of experiments and sweeps (see pgtrack.ui.server).

Standard library only (http.server): ``pip install "pgtrack[ui]"`` adds nothing but the name.
``serve(client, ...)`` runs until interrupted; ``make_server`` gives a server to run in a thread,
``url_of`` its URL with the access token.
"""
from __future__ import annotations

import html
import os
import sys
import tempfile
import webbrowser
from pathlib import Path
from typing import Any, Optional

from .server import make_server, url_of

__all__ = ["make_server", "open_in_browser", "serve", "url_of"]


def serve(client: Any, experiment_id: Optional[int] = None, host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = True, token: Optional[str] = None) -> None:
    """Serve the dashboard until Ctrl-C. Prints its URL, with the access token (``token``, else a
    random one), on stdout once it listens; opens a browser unless ``open_browser`` is False."""
    server = make_server(client, host, port, token)
    url = url_of(server, f"/experiments/{experiment_id}" if experiment_id is not None else "/")
    print(url, flush=True)
    role = server.dashboard.role  # type: ignore[attr-defined]
    print(f"pgtrack ui: read-only{' as ' + role if role else ''}; Ctrl-C stops it", file=sys.stderr, flush=True)
    redirect = open_in_browser(url) if open_browser else None
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if redirect is not None:
            redirect.unlink(missing_ok=True)


def open_in_browser(url: str) -> Path:
    """Open ``url`` in a browser through a file only this user can read that redirects to it: the
    browser is started with its address on the command line, which every local account sees in
    ps, and the URL carries the token. Returns the file (remove it when done)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pgtrack"
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)  # in the home: a sandboxed browser may not see /tmp
    fd, name = tempfile.mkstemp(prefix="ui-", suffix=".html", dir=cache)  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        target = html.escape(url)
        f.write(f'<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
                f'<title>pgtrack ui</title><a href="{target}">open the dashboard</a>\n')
    path = Path(name)
    webbrowser.open(path.as_uri())
    return path
