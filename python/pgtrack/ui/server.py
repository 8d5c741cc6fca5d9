"""The dashboard's HTTP server: the standard library's threading server, one read-only database
connection per thread, the pages and JSON endpoints below, every asset from this package.

Pages (one HTML shell; static/app.js draws the view the path names):
  /                     experiments           /experiments/<id>   runs, charts, hyperparameters, sweep
  /runs/<id>            one run                /compare?runs=1,2   config diff and overlaid curves
JSON:
  /api/experiments, /api/experiments/<id>, /api/experiments/<id>/runs?sort=&desc=&filter=&offset=&limit=,
  /api/experiments/<id>/curves?metric=&runs=&buckets=&axis=, /api/experiments/<id>/sweep,
  /api/experiments/<id>/version, /api/runs/<id>

Safe by default: every query runs in a read-only transaction (``default_transaction_read_only``), as
``pgtrack_reader`` when that role exists and the login may use it; the server binds 127.0.0.1. Every
/api/ request needs the access token (random unless given): on a shared machine any local account can
reach 127.0.0.1, so the loopback alone guards nothing. The printed URL carries it in its fragment
(``/#token=...``, which a browser sends to no server); the page keeps it in sessionStorage (one origin,
so one port) and sends it as ``Authorization: Bearer <token, percent-encoded>``; scripts may send the
header or ``?token=`` on the /api/ URL. Never a cookie: browsers send a host's cookies to every port
of it, so any local account's web server on 127.0.0.1 would receive it. The page shell and its
script and stylesheet hold no data and need no token. The server answers only requests whose Host
names the address it serves (no DNS rebinding). Responses carry a Content-Security-Policy that allows
only this server's own script and style.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable, Dict, Optional
from urllib.parse import parse_qs, quote, unquote_to_bytes, urlsplit

import psycopg

from ..errors import PgtrackError
from . import data
from .filters import FilterError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("", "0.0.0.0", "::")
# A Host header is a name or a bracketed IPv6 address, then an optional numeric port; nothing else
# (no userinfo "localhost:1@evil.com", no fragment, no trailing text), so the name checked is the name
# the browser resolved.
HOST_HEADER = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?")
FORBIDDEN = b"forbidden: open the URL that pgtrack ui printed (it carries the access token)\n"
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
SHELL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgtrack</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header><a href="/" class="brand">pgtrack</a><span id="crumbs"></span><span id="live" title="live updates"></span></header>
<main id="app"><p class="muted">loading...</p></main>
<script src="/static/app.js"></script></body></html>
"""


class Dashboard:
    """What the handler needs: how to make a read-only Client per thread, and the access token."""

    def __init__(self, client: Any, token: str, host: str):
        self.base = client.for_reading()
        self.token = token
        self.host = host
        self.local = threading.local()
        self.role = self._reader_role()

    def _reader_role(self) -> Optional[str]:
        """pgtrack_reader when it exists and the login may SET ROLE to it."""
        probe = self.base.clone(options="-c default_transaction_read_only=on")
        try:
            return probe.value("SELECT 'pgtrack_reader' WHERE to_regrole('pgtrack_reader') IS NOT NULL "
                               "AND pg_has_role(current_user, 'pgtrack_reader', 'MEMBER') "
                               "AND has_schema_privilege('pgtrack_reader', 'pgtrack', 'USAGE') "
                               "AND has_table_privilege('pgtrack_reader', 'pgtrack.runs', 'SELECT')")
        finally:
            probe.close()

    def client(self) -> Any:
        client = getattr(self.local, "client", None)
        if client is None:
            options = "-c default_transaction_read_only=on -c statement_timeout=30s"
            if self.role:
                options += f" -c role={self.role}"
            client = self.local.client = self.base.clone(options=options)
        return client


class Handler(BaseHTTPRequestHandler):
    server_version = "pgtrack-ui"
    dashboard: Dashboard  # set on the subclass made by make_server
    server: ThreadingHTTPServer  # make_server's: a TCP server, whose address is (host, port[, ...])

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is the user's
        pass

    # -- plumbing --------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json; charset=utf-8")

    def _host_allowed(self) -> bool:
        """The Host names the address served (DNS rebinding): every request, the shell's included."""
        return host_allowed(self.headers.get("Host") or "", self.dashboard.host, self.server.server_address[1])

    def _authorized(self, raw_query: str) -> bool:
        """The token comes with this request: ``Authorization: Bearer <token>`` (as it is, or
        percent-encoded as the page sends it) or ``?token=`` on the URL. A cookie is never read: the
        browser sends this server the cookies of every server of the host, and every server of the
        host the ones it would send here."""
        token = self.dashboard.token
        for value in self.headers.get_all("Authorization") or []:
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                given = credentials.strip(" \t")
                if same_token(_latin1(given), token) or same_token(unquote_to_bytes(given), token):
                    return True
        from_query = query_token(raw_query)
        return from_query is not None and same_token(from_query, token)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/") or "/"
        if not self._host_allowed() or (path.startswith("/api/") and not self._authorized(parts.query)):
            self._send(HTTPStatus.FORBIDDEN, FORBIDDEN, "text/plain; charset=utf-8")
            return
        if path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            return
        try:
            if path.startswith("/api/"):
                self._json(HTTPStatus.OK, self._api(path[5:].split("/"), query))
            elif path.startswith("/static/"):
                name = path[len("/static/"):]
                if name not in STATIC:
                    raise LookupError(f"no asset {name}")
                # one name a step: Traversable.joinpath takes several only from Python 3.11
                body = resources.files("pgtrack.ui").joinpath("static").joinpath(name).read_bytes()
                self._send(HTTPStatus.OK, body, STATIC[name])
            elif path == "/" or path.split("/")[1] in ("experiments", "runs", "compare"):
                self._send(HTTPStatus.OK, SHELL.encode(), "text/html; charset=utf-8")
            else:
                raise LookupError(f"no page {path}")
        except LookupError as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc).strip("'\""), path)
        except (FilterError, ValueError, PgtrackError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc), path)
        except psycopg.OperationalError as exc:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"the database is unreachable: {str(exc).strip().splitlines()[0]}", path)
            self.dashboard.local.client = None
        except psycopg.Error as exc:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"the database refused the query: {exc.diag.message_primary or exc}", path)
        except BrokenPipeError:
            pass
        except Exception as exc:  # never a traceback to the browser
            traceback.print_exc()
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"unexpected {type(exc).__name__}: {exc}", path)

    def _error(self, status: int, message: str, path: str) -> None:
        if path.startswith("/api/"):
            self._json(status, {"error": message})
        else:
            import html

            body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>pgtrack: error</title>"
                    f"<link rel='stylesheet' href='/static/app.css'></head><body><header><a href='/' class='brand'>pgtrack</a>"
                    f"</header><main><p class='error'>{html.escape(message)}</p></main></body></html>")
            self._send(status, body.encode(), "text/html; charset=utf-8")

    # -- the API ---------------------------------------------------------------------------------

    def _api(self, parts: list, query: Dict[str, str]) -> Any:
        client = self.dashboard.client()
        if parts == ["experiments"]:
            return data.experiments(client)
        if len(parts) >= 2 and parts[0] == "experiments":
            experiment_id = _int(parts[1], "experiment id")
            if len(parts) == 2:
                found = data.experiment(client, experiment_id)
                if found is None:
                    raise LookupError(f"experiment {experiment_id} does not exist")
                return found
            handler = ENDPOINTS.get(parts[2]) if len(parts) == 3 else None
            if handler is None:
                raise LookupError(f"no endpoint {'/'.join(parts)}")
            return handler(client, experiment_id, query)
        if len(parts) == 2 and parts[0] == "runs":
            found = data.run(client, _int(parts[1], "run id"))
            if found is None:
                raise LookupError(f"run {parts[1]} does not exist")
            return found
        raise LookupError(f"no endpoint {'/'.join(parts)}")


def _int(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} must be a number, got {text!r}")
    return int(text)


def _ids(text: str) -> list:
    return [_int(t, "run id") for t in text.split(",") if t.strip()] if text else []


ENDPOINTS: Dict[str, Callable[[Any, int, Dict[str, str]], Any]] = {
    "runs": lambda c, e, q: data.runs_page(c, e, q.get("sort") or None, q.get("desc") in ("1", "true"), q.get("filter", ""),
                                         _int(q.get("offset", "0"), "offset"), _int(q.get("limit", "100"), "limit")),
    "curves": lambda c, e, q: data.curves(c, e, q.get("metric", ""), _ids(q.get("runs", "")),
                                          _int(q.get("buckets", "200"), "buckets"), q.get("axis", "step")),
    "sweep": lambda c, e, q: data.sweep(c, e),
    "version": lambda c, e, q: {"version": data.version(c, e)},
}


def host_allowed(header: str, bound: str, port: int) -> bool:
    """Whether a Host header names this server: parsed strictly (HOST_HEADER), its port (if any) the
    one served; bound to the loopback, a loopback name; bound to a wildcard (0.0.0.0, ::), any name
    (the token is the guard); bound to a name or address, that one."""
    match = HOST_HEADER.fullmatch(header)
    if match is None or (match["port"] is not None and int(match["port"]) != port):
        return False
    name = _ipv6(match["v6"]) if match["v6"] else match["name"].lower()
    if name is None:
        return False
    if bound in LOOPBACK:
        return name in LOOPBACK
    return bound in WILDCARD or name == (_ipv6(bound) if ":" in bound else bound.lower())


def _ipv6(text: str) -> Optional[str]:
    """An IPv6 address in its one spelling (0:0::1 is ::1); None for anything else ([127.0.0.1])."""
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def same_token(given: Any, token: str) -> bool:
    """Constant-time comparison of UTF-8 bytes (``given`` is text or the bytes a client sent):
    hmac.compare_digest raises TypeError on a str with a non-ASCII character, and a client chooses
    what it sends."""
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given, token.encode("utf-8", "surrogatepass"))


def query_token(raw_query: str) -> Optional[bytes]:
    """The bytes of the last ``token=`` of a raw query string (percent-decoded, ``+`` a space), or None."""
    found = None
    for part in raw_query.split("&"):
        key, sep, value = part.partition("=")
        if sep and key == "token":
            found = unquote_to_bytes(value.replace("+", " "))
    return found


def _latin1(text: str) -> bytes:
    """A header value as the bytes the client sent (http.server decodes headers as ISO-8859-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def make_server(client: Any, host: str = "127.0.0.1", port: int = 8765, token: Optional[str] = None) -> ThreadingHTTPServer:
    """A server bound to (host, port), not yet serving. It requires ``token``, or a random one when
    none is given (url_of gives the URL that carries it), whatever the address."""
    if token is None:
        token = secrets.token_urlsafe(24)
    if not isinstance(token, str) or not token.strip():
        raise ValueError("the dashboard's access token must be a non-empty text")
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the dashboard's access token must be valid UTF-8 text") from None
    board = Dashboard(client, token, host)
    handler = type("BoundHandler", (Handler,), {"dashboard": board})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.dashboard = board  # type: ignore[attr-defined]
    return server


def url_of(server: ThreadingHTTPServer, path: str = "/") -> str:
    """The URL of ``path`` with the access token in its fragment (``#token=...``, before any fragment
    ``path`` has: ``/experiments/3#tab=charts`` gives ``.../experiments/3#token=...&tab=charts``). A
    browser sends no fragment to any server; the page moves the token to sessionStorage and out of
    the address bar. For /api/ requests from a script, send ``auth_header(server)`` instead."""
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # an AF_INET/AF_INET6 socket's address names its host as text
    shown = f"[{host}]" if ":" in host else host
    token = server.dashboard.token  # type: ignore[attr-defined]
    path, _, fragment = path.partition("#")
    return f"http://{shown}:{port}{path}#token={quote(token, safe='')}" + (f"&{fragment}" if fragment else "")


def auth_header(server: ThreadingHTTPServer) -> Dict[str, str]:
    """The header that authorizes an /api/ request: ``{"Authorization": "Bearer <token>"}``, the token
    percent-encoded (as the page sends it; the server also takes it as it is)."""
    token = server.dashboard.token  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {quote(token, safe='')}"}
