"""The fault harness: a TCP proxy between a client and the test server that cuts, refuses, delays and
drops replies, and helpers to run a training script as a child process and kill it.

``Proxy()`` listens on 127.0.0.1 (a free port) and forwards every connection to the test server's
Unix socket (PGHOST/PGPORT), so a client given ``proxy.params`` goes through it:

- ``cut()``: reset every open connection (the server sees its client vanish, the client a broken
  socket); new connections still work.
- ``down()`` / ``up()``: cut, then refuse new connections until ``up()`` (a network outage).
- ``delay(seconds)``: hold every chunk of data that long in each direction (a slow link or server).
- ``drop_reply_to(*markers)``: the next client message that contains one of ``markers`` (bytes) reaches the
  server, which runs and commits it; its reply is thrown away and the connection cut: an ambiguous
  commit (the client cannot tell whether the statement ran). ``dropped`` counts them.
"""
from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from typing import Dict, List, Optional

_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a RST, as a dropped link does


class _Pair:
    def __init__(self, client: socket.socket, server: socket.socket):
        self.client, self.server = client, server
        self.closed = False
        self.drop_next_reply = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except OSError:
            pass
        for sock in (self.client, self.server):
            try:
                sock.close()
            except OSError:
                pass


class Proxy:
    """See the module docstring. Use as a context manager, or call close()."""

    def __init__(self, target: Optional[str] = None):
        self.target = target or os.path.join(os.environ["PGHOST"], f".s.PGSQL.{os.environ['PGPORT']}")
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.pairs: List[_Pair] = []
        self.lock = threading.Lock()
        self.refusing = False
        self.latency = 0.0
        self.markers: tuple = ()
        self.dropped = 0
        self.refused = 0  # connections refused while down()
        self.connections = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def params(self) -> Dict[str, str]:
        """Connection keywords for pgtrack.Client / psycopg that go through the proxy."""
        return {"host": "127.0.0.1", "port": str(self.port), "sslmode": "disable"}

    @property
    def env(self) -> Dict[str, str]:
        """The libpq environment of a child process that goes through the proxy."""
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGSSLMODE": "disable"}

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopping = True
        self.cut()
        self.listener.close()

    # -- faults ----------------------------------------------------------------------------------

    def cut(self) -> int:
        """Reset every open connection; returns how many were cut."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            pair.close()
        return len(pairs)

    def down(self) -> None:
        self.refusing = True
        self.cut()

    def up(self) -> None:
        self.refusing = False

    def delay(self, seconds: float) -> None:
        self.latency = seconds

    def drop_reply_to(self, *markers: bytes) -> None:
        self.markers = markers

    # -- forwarding ------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                self.refused += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                client.close()
                continue
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(self.target)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, server)
            with self.lock:
                self.pairs.append(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(pair, client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, server, client, False), daemon=True).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while not pair.closed:
                readable, _, _ = select.select([source], [], [], 0.2)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                if self.latency:
                    time.sleep(self.latency)
                if upstream and self.markers and any(marker in data for marker in self.markers):
                    self.markers = ()
                    pair.drop_next_reply = True
                elif not upstream and pair.drop_next_reply:
                    self.dropped += 1  # the server has answered (and committed): the client never hears
                    break
                sink.sendall(data)
        except (OSError, ValueError):
            pass
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)
        pair.close()


# -- the test server -------------------------------------------------------------------------------

def pg_ctl(*args: str) -> None:
    """pg_ctl on the test server (as its owner when run as root)."""
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = os.path.join(os.environ["PGTRACK_CLUSTER_DIR"], "data")
    log = os.path.join(os.environ["PGTRACK_CLUSTER_DIR"], "server.log")
    subprocess.run(runas + [os.path.join(os.environ["PGTRACK_PG_BIN"], "pg_ctl"), "-D", data, "-l", log, "-w", *args],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def restart_server(mode: str, down_for: float) -> None:
    """Stop the test server (``mode``: fast, immediate), wait ``down_for`` seconds, start it again."""
    pg_ctl("-m", mode, "stop")
    time.sleep(down_for)
    start_server()


def start_server() -> None:
    pg_ctl("start", "-o", f"-k {os.environ['PGHOST']} -p {os.environ['PGPORT']} -c listen_addresses='' -c fsync=off")


# -- child scripts ---------------------------------------------------------------------------------

class Script:
    """A Python child running ``source`` (dedented) with ``args``; its stdout and stderr are read by
    threads as they come (a chatty child never blocks on a full pipe). SIGINT is restored to the
    default handler in the child, whatever the parent's shell did with it."""

    def __init__(self, source: str, *args: str, env: Optional[Dict[str, str]] = None, preexec_fn=None):
        code = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n" + textwrap.dedent(source)
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args], env=dict(env or os.environ, PYTHONUNBUFFERED="1"),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)
        self.out: List[str] = []
        self.err: List[str] = []
        self.changed = threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    def _read(self, stream, lines: List[str]) -> None:
        for line in stream:
            with self.changed:
                lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        """The first stdout line that starts with ``prefix``, waiting for it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((line for line in self.out if line.startswith(prefix)), None)
                if found is not None:
                    return found
                if self.proc.poll() is not None and not any(r.is_alive() for r in self.readers):
                    raise AssertionError(f"the script ended before printing {prefix!r}: {self.stderr}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {prefix!r} line within {timeout} s: {self.stderr}")
                self.changed.wait(0.2)

    def count(self, prefix: str) -> int:
        with self.changed:
            return sum(line.startswith(prefix) for line in self.out)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 120) -> int:
        """Wait for the child to end; its exit code."""
        code = self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=10)
        return code

    @property
    def stdout(self) -> str:
        return "\n".join(self.out)

    @property
    def stderr(self) -> str:
        return "\n".join(self.err)
