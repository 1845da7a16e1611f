"""A tiny HTTP proxy on loopback for the client's self-tests: CONNECT tunnels (https
targets) and absolute-form forwarding (http targets), as a corporate proxy does.

It forwards to 127.0.0.1 / localhost only (anything else gets a 403), records what it
was asked for (`seen`: "CONNECT 127.0.0.1:PORT", "POST http://127.0.0.1:PORT/v1/..."),
and is stopped by the test that started it (`with LoopbackProxy() as proxy:`).
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

_LOOPBACK = ("127.0.0.1", "localhost")


class LoopbackProxy:
    def __init__(self):
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LoopbackProxy":
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
        for t in list(self._threads):
            t.join(5)

    def _spawn(self, fn, *args) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True, name="loopback-proxy")
        self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        upstream = None
        try:
            conn.settimeout(0.1)
            head = b""
            while b"\r\n\r\n" not in head:
                data = self._recv(conn)
                if not data:
                    return
                head += data
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            self.seen.append(f"{method} {target}")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
            else:
                u = urlsplit(target)
                host, port = u.hostname or "", str(u.port or 80)
            if host not in _LOOPBACK:
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=2)
            except OSError:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            upstream.settimeout(0.1)
            if method == "CONNECT":
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
            else:
                # One request per connection: origin-form upstream, and Connection: close.
                u = urlsplit(target)
                path = (u.path or "/") + (f"?{u.query}" if u.query else "")
                kept = [h for h in lines[1:] if not h.lower().startswith(("connection:", "proxy-"))]
                upstream.sendall(
                    "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"]).encode("latin-1")
                    + b"\r\n\r\n"
                    + rest
                )
            self._pipe(conn, upstream)
        except OSError:
            pass
        finally:
            conn.close()
            if upstream is not None:
                upstream.close()

    def _recv(self, sock: socket.socket) -> bytes | None:
        while not self._stop.is_set():
            try:
                return sock.recv(65536)
            except socket.timeout:
                continue
        return None

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        """Both directions until either side closes (or the proxy stops)."""
        done = threading.Event()

        def one_way(src, dst):
            try:
                while not done.is_set() and not self._stop.is_set():
                    try:
                        data = src.recv(65536)
                    except socket.timeout:
                        continue
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        t = threading.Thread(target=one_way, args=(b, a), daemon=True)
        t.start()
        one_way(a, b)
        t.join(5)
