"""Hostile HTTP servers for the client's self-tests: one misbehaviour per mode.

Raw sockets on purpose: a framework would refuse to send what these servers send
(bad chunk sizes, half a response, a reset).  Each server listens on 127.0.0.1 only,
serves every request with its mode whatever the path, and is stopped by the test
that started it (`with HostileServer("hang") as srv:`); `stop()` joins every thread.

    hang            reads the request, never answers
    headers-only    sends 200 headers announcing a body, then nothing
    drip            a valid answer, one byte per `drip_interval` seconds from the status line on
    endless-stream  200 text/event-stream, valid chunks forever
    huge-body       a 200 MB body (JSON, or one giant SSE event), generated on the fly
    reset-mid-stream  headers and part of the body, then a TCP reset
    invalid-utf8    a complete answer whose body is not UTF-8
    bad-chunked     Transfer-Encoding: chunked with an invalid chunk header
    redirect        307 to a second listener (another origin) that records Authorization;
                    with same_origin=True, 307 to /landed/... on this server instead
    429-storm       always 429, Retry-After: 1 (`retry_after`), a proper error envelope
    503-then-ok     503 without Retry-After for the first `failures` requests, then valid answers
    echo-key        always 401 whose message and headers echo the Authorization received
    ok              a valid answer (JSON or SSE), arrival times recorded
    not-http        answers a request with an SSH banner, then closes (the port does not speak HTTP)
    refuses-max-completion-tokens
                    400 naming max_completion_tokens when the request has it, else a valid answer
    close-after-error
                    a request with the header X-Fail gets a 500 on a keep-alive connection (no
                    Connection: close); the server closes that connection with a reset as soon as
                    the next request arrives on it, unanswered (uvicorn after an error, without the race)
    reset-before-answer
                    reads the request, then resets the connection without a byte of answer

Options: `healthy_first=N` answers the first N requests validly, then turns to its mode
(a target that passes the preflight and misbehaves later); `tls=(certfile, keyfile)`
serves https.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

MODES = (
    "hang",
    "headers-only",
    "drip",
    "endless-stream",
    "huge-body",
    "reset-mid-stream",
    "invalid-utf8",
    "bad-chunked",
    "redirect",
    "429-storm",
    "503-then-ok",
    "echo-key",
    "gzip-anyway",
    "ok",
    "not-http",
    "refuses-max-completion-tokens",
    "close-after-error",
    "reset-before-answer",
)
_HANDLERS = {m: "_" + m.replace("-", "_") for m in MODES} | {"429-storm": "_storm", "503-then-ok": "_flaky"}
HUGE = 200 * 1024 * 1024
_POLL = 0.1  # how often blocked threads look at the stop flag


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes
    at: float  # time.time() when the request was complete


@dataclass
class Stats:
    requests: list = field(default_factory=list)
    bytes_sent: list = field(default_factory=list)  # per answer, for huge-body
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seen: Seen) -> None:
        with self.lock:
            self.requests.append(seen)


class HostileServer:
    def __init__(
        self,
        mode: str,
        *,
        drip_interval: float = 1.0,
        chunk_interval: float = 0.01,
        huge_bytes: int = HUGE,
        retry_after: str = "1",
        failures: int = 2,
        same_origin: bool = False,
        healthy_first: int = 0,
        tls: tuple[str, str] | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        self.mode = mode
        self.drip_interval = drip_interval
        self.chunk_interval = chunk_interval
        self.huge_bytes = huge_bytes
        self.retry_after = retry_after
        self.failures = failures
        self.same_origin = same_origin
        self.healthy_first = healthy_first
        self._tls = None
        if tls:
            import ssl

            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(*tls)
        self.connections = 0  # TCP connections accepted
        self.stats = Stats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._sock = _listen()
        self.port = self._sock.getsockname()[1]
        self.other: HostileServer | None = HostileServer("ok") if mode == "redirect" and not same_origin else None

    @property
    def base_url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}/v1"

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "HostileServer":
        if self.other:
            self.other.start()
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                break
            for t in alive:
                t.join(5)
                if t.is_alive():
                    raise RuntimeError(f"hostile server thread {t.name} did not stop")
        if self.other:
            self.other.stop()

    def __enter__(self) -> "HostileServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, fn, *args) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True, name=f"hostile-{self.mode}")
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # the listening socket was closed by stop()
            self.connections += 1
            self._spawn(self._serve, conn)

    # -- one connection ------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn.settimeout(5)
                try:
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (OSError, ValueError):
                    conn.close()  # the client refused our certificate: its business
                    return
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
                while not self._stop.is_set():
                    seen, buf = _read_request(conn, buf, self._stop)
                    if seen is None:
                        return
                    self.stats.add(seen)
                    handler = getattr(self, _HANDLERS[self.mode])
                    if len(self.stats.requests) <= self.healthy_first:
                        handler = self._ok
                    if not handler(conn, seen):
                        return  # the mode closes the connection after one answer
        except OSError:
            pass  # the client went away: the usual end of a hostile exchange

    def _send(self, conn: socket.socket, data: bytes) -> None:
        """sendall that waits as long as the client takes to read, but not past stop()
        (the socket's short poll timeout would otherwise abort a slow client's answer)."""
        view = memoryview(data)
        while view:
            if self._stop.is_set():
                raise OSError("server stopping")
            try:
                view = view[conn.send(view) :]
            except socket.timeout:
                continue

    # -- the modes: return True to keep the connection for another request -----------------
    def _hang(self, conn, seen) -> bool:
        _wait_closed(conn, self._stop)
        return False

    def _headers_only(self, conn, seen) -> bool:
        self._send(conn, _head(200, "application/json", length=1000))
        _wait_closed(conn, self._stop)
        return False

    def _drip(self, conn, seen) -> bool:
        data = _valid_answer(seen, close=True)
        for i in range(len(data)):
            if self._stop.wait(self.drip_interval if i else 0):
                break
            self._send(conn, data[i : i + 1])
        return False

    def _endless_stream(self, conn, seen) -> bool:
        self._send(conn, _head(200, "text/event-stream", chunked=True))
        n = 0
        while not self._stop.wait(self.chunk_interval):
            delta = {"role": "assistant", "content": ""} if n == 0 else {"content": "la "}
            self._send(conn, _chunked(_event(_chunk(delta))))
            n += 1
        return False

    def _huge_body(self, conn, seen) -> bool:
        stream = _wants_stream(seen)
        if stream:
            head, tail = (
                b'data: {"id":"chatcmpl-h","object":"chat.completion.chunk","created":1700000000,'
                b'"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"',
                b'"},"finish_reason":null}]}\n\n',
            )
        else:
            head, tail = (
                b'{"id":"chatcmpl-h","object":"chat.completion","created":1700000000,"model":"m",'
                b'"choices":[{"index":0,"message":{"role":"assistant","content":"',
                b'"},"finish_reason":"stop"}]}',
            )
        total = self.huge_bytes
        self._send(conn, _head(200, "text/event-stream" if stream else "application/json", length=total))
        sent, piece = 0, b"a" * 65536
        try:
            self._send(conn, head)
            sent += len(head)
            while sent < total - len(tail) and not self._stop.is_set():
                n = min(len(piece), total - len(tail) - sent)
                self._send(conn, piece[:n])  # generated as it goes: never 200 MB in memory
                sent += n
            self._send(conn, tail)
            sent += len(tail)
        finally:
            with self.stats.lock:
                self.stats.bytes_sent.append(sent)
        return False

    def _reset_mid_stream(self, conn, seen) -> bool:
        if _wants_stream(seen):
            self._send(conn, _head(200, "text/event-stream", chunked=True))
            self._send(conn, _chunked(_event(_chunk({"role": "assistant", "content": ""}))))
            self._send(conn, _chunked(_event(_chunk({"content": "Hel"}))))
        else:
            self._send(conn, _head(200, "application/json", length=400))
            self._send(conn, b'{"id":"chatcmpl-r","object":"chat.completion","choices":[{"index":0,')
        time.sleep(0.05)  # let the client see the first bytes before the reset
        # SO_LINGER 0: close() sends RST instead of FIN, a reset as a crashed proxy sends it.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _invalid_utf8(self, conn, seen) -> bool:
        if _wants_stream(seen):
            body = (
                _event(_chunk({"role": "assistant", "content": ""}))
                + _event(_chunk({"content": "caf"})).replace(b'"caf"', b'"caf\xe9 \xff\xfe"')
                + _event(_chunk({}, finish="stop"))
                + b"data: [DONE]\n\n"
            )
            self._send(conn, _head(200, "text/event-stream", length=len(body)) + body)
        else:
            body = json.dumps(_completion("caf")).encode().replace(b'"caf"', b'"caf\xe9 \xff\xfe"')
            self._send(conn, _head(200, "application/json", length=len(body)) + body)
        return True

    def _bad_chunked(self, conn, seen) -> bool:
        ct = "text/event-stream" if _wants_stream(seen) else "application/json"
        self._send(conn, _head(200, ct, chunked=True) + b'zz;not-hex\r\n{"id":\r\n')
        _wait_closed(conn, self._stop)
        return False

    def _redirect(self, conn, seen) -> bool:
        if seen.path.startswith("/landed/"):
            return self._ok(conn, seen)
        if self.same_origin:
            location = f"/landed{seen.path}"
        else:
            assert self.other is not None
            location = f"http://127.0.0.1:{self.other.port}{seen.path}"
        self._send(conn, _head(307, "text/plain", length=0, extra={"Location": location}))
        return True

    def _storm(self, conn, seen) -> bool:
        body = json.dumps(
            {
                "error": {
                    "message": "Rate limit reached. Please try again in 1s.",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
        ).encode()
        self._send(
            conn, _head(429, "application/json", length=len(body), extra={"Retry-After": self.retry_after}) + body
        )
        return True

    def _flaky(self, conn, seen) -> bool:
        with self.stats.lock:
            failing = len(self.stats.requests) <= self.failures
        if not failing:
            return self._ok(conn, seen)
        body = json.dumps(
            {"error": {"message": "The server is overloaded.", "type": "server_error", "param": None, "code": None}}
        ).encode()
        self._send(conn, _head(503, "application/json", length=len(body)) + body)
        return True

    def _echo_key(self, conn, seen) -> bool:
        presented = seen.headers.get("authorization", "(none)")
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {presented}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        self._send(
            conn,
            _head(
                401,
                "application/json",
                length=len(body),
                extra={"X-Echo-Authorization": presented, "WWW-Authenticate": f'Bearer realm="{presented}"'},
            )
            + body,
        )
        return True

    def _gzip_anyway(self, conn, seen) -> bool:
        """A valid answer gzip-compressed although the client asked for identity (JSON,
        or an event stream sent in small chunked pieces of one gzip stream)."""
        head, _, body = _valid_answer(seen, close=False).partition(b"\r\n\r\n")
        packed = gzip.compress(body)
        ctype = "text/event-stream" if _wants_stream(seen) else "application/json"
        pieces = b"".join(_chunked(packed[i : i + 7]) for i in range(0, len(packed), 7)) + b"0\r\n\r\n"
        self._send(conn, _head(200, ctype, chunked=True, extra={"Content-Encoding": "gzip"}) + pieces)
        return True

    def _not_http(self, conn, seen) -> bool:
        self._send(conn, b"SSH-2.0-OpenSSH_9.6\r\n")
        return False

    def _refuses_max_completion_tokens(self, conn, seen) -> bool:
        if b"max_completion_tokens" not in seen.body:
            return self._ok(conn, seen)
        body = json.dumps(
            {
                "error": {
                    "message": "Unrecognized request argument supplied: max_completion_tokens",
                    "type": "invalid_request_error",
                    "param": "max_completion_tokens",
                    "code": None,
                }
            }
        ).encode()
        self._send(conn, _head(400, "application/json", length=len(body)) + body)
        return True

    def _close_after_error(self, conn, seen) -> bool:
        if "x-fail" not in seen.headers:
            return self._ok(conn, seen)
        body = json.dumps(
            {"error": {"message": "Internal Server Error", "type": "server_error", "param": None, "code": None}}
        ).encode()
        self._send(conn, _head(500, "application/json", length=len(body)) + body)
        # Keep-alive as far as the client can tell; closed, unanswered, once the next
        # request is here: with unread bytes, close() sends a reset.
        conn.settimeout(_POLL)
        while not self._stop.is_set():
            try:
                if conn.recv(1, socket.MSG_PEEK):
                    break
                return False  # the client closed it first
            except socket.timeout:
                continue
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _reset_before_answer(self, conn, seen) -> bool:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _ok(self, conn, seen) -> bool:
        self._send(conn, _valid_answer(seen, close=False))
        return True


# -- HTTP plumbing ---------------------------------------------------------------------------
def _listen() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))  # loopback only, never a public interface
    s.listen(64)
    s.settimeout(_POLL)
    return s


def _recv(conn: socket.socket, stop: threading.Event) -> bytes | None:
    """One read that gives up when the server stops; None means stopped."""
    conn.settimeout(_POLL)
    while not stop.is_set():
        try:
            return conn.recv(65536)
        except socket.timeout:
            continue
    return None


def _read_request(conn, buf: bytes, stop) -> tuple[Seen | None, bytes]:
    while b"\r\n\r\n" not in buf:
        data = _recv(conn, stop)
        if not data or len(buf) > 65536:
            return None, b""
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = (lines[0].split(" ") + ["", ""])[:2]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        data = _recv(conn, stop)
        if not data:
            return None, b""
        rest += data
    return Seen(method, path, headers, rest[:length], time.time()), rest[length:]


def _wait_closed(conn, stop) -> None:
    """Hold the connection open, reading nothing of use, until the client or the test ends it."""
    while True:
        data = _recv(conn, stop)
        if not data:
            return


def _head(
    status: int,
    ctype: str,
    *,
    length: int | None = None,
    chunked: bool = False,
    extra: dict | None = None,
    close: bool = False,
) -> bytes:
    reason = {
        200: "OK",
        307: "Temporary Redirect",
        400: "Bad Request",
        401: "Unauthorized",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "X")
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {ctype}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    if close:
        lines.append("Connection: close")
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _wants_stream(seen: Seen) -> bool:
    try:
        return json.loads(seen.body).get("stream") is True
    except (ValueError, AttributeError):
        return False


def _completion(text: str = "OK") -> dict:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _event(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _valid_answer(seen: Seen, close: bool) -> bytes:
    """A whole, valid response (status line to last byte) for this request."""
    if _wants_stream(seen):
        body = (
            _event(_chunk({"role": "assistant", "content": ""}))
            + _event(_chunk({"content": "OK"}))
            + _event(_chunk({}, finish="stop"))
            + b"data: [DONE]\n\n"
        )
        return _head(200, "text/event-stream", length=len(body), close=close) + body
    body = json.dumps(_completion()).encode()
    return _head(200, "application/json", length=len(body), close=close) + body
