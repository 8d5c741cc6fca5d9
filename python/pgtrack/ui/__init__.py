"""``pgtrack ui``: a live dashboard of experiments and sweeps (see pgtrack.ui.server).

Standard library only (http.server): ``pip install "pgtrack[ui]"`` adds nothing but the name.
``serve(client, ...)`` runs until interrupted; ``make_server`` gives a server to run in a thread.
"""
from __future__ import annotations

import sys
import webbrowser
from typing import Any, Optional

from .server import make_server, url_of

__all__ = ["make_server", "serve", "url_of"]


def serve(client: Any, experiment_id: Optional[int] = None, host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = True, token: Optional[str] = None) -> None:
    """Serve the dashboard until Ctrl-C. Prints its URL on stdout once it listens (with the token
    when bound off the loopback); opens a browser unless ``open_browser`` is False."""
    server = make_server(client, host, port, token)
    url = url_of(server, f"/experiments/{experiment_id}" if experiment_id is not None else "/")
    print(url, flush=True)
    role = server.dashboard.role  # type: ignore[attr-defined]
    print(f"pgtrack ui: read-only{' as ' + role if role else ''}; Ctrl-C stops it", file=sys.stderr, flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
