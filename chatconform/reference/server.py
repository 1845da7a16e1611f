"""HTTP handling, routing and SSE writing for the reference server (stdlib only).

Request pipeline for `POST /v1/chat/completions`, in the order api.openai.com
reports problems: auth → Content-Type → body size → JSON parse → validation →
model lookup → context length → generation. Each stage raises `ApiError`; one
place renders it. Defect hooks (defects/) are applied at fixed points so that
each defect changes exactly one thing.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Sequence
from urllib.parse import unquote, urlsplit

from . import dialects
from . import model as fake_model
from . import render
from .auth import check_auth
from .defects import DEFECTS, Defect
from .errors import ApiError, context_exceeded
from .exchange import Call, Reply, dumps, json_reply
from .validate import check_model, validate_request
from .variants import Transport, Variant, resolve_variants, transport_of
from .variants import send as send_with_transport

DEFAULT_MODELS = ("chatconform-reference",)
MAX_BODY = 16 * 1024 * 1024  # 16 MiB, then 413
CHAT_PATH = "/v1/chat/completions"
MODELS_CREATED = 1700000000
STREAM_DELAY = 0.002  # seconds between SSE events: a real, observable stream (HTTP-009)

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, socket.timeout)


def resolve_defects(defects: Iterable[str | Defect]) -> tuple[Defect, ...]:
    out = []
    for d in defects:
        if isinstance(d, Defect):
            out.append(d)
            continue
        if d not in DEFECTS:
            import difflib

            close = difflib.get_close_matches(str(d), DEFECTS, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown defect {d!r}.{hint} Run `python -m chatconform.reference --list-defects`.")
        out.append(DEFECTS[d])
    return tuple(out)


@dataclass
class Config:
    api_key: str | None
    models: tuple[str, ...]
    defects: tuple[Defect, ...] = ()
    verbose: bool = False
    stream_delay: float = STREAM_DELAY
    base_path: str = "/v1"  # where the API lives: a dialect may move it (dialects.py, 002: /api/v1)
    dialect: str | None = None
    record: Any = None  # a text file: one JSON line per request received (benchmarks/bench.py replays them)
    variants: tuple[Variant, ...] = ()  # conformant variants (variants.py): their hooks run before the defects'
    transport: Transport | None = None  # how replies go on the wire when a variant changes it (None: _send's way)
    latency: float = 0.0  # seconds each chat answer waits before its first byte: a slow model (benchmarks/slow.py)
    skip: frozenset[str] = field(init=False)
    flags: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.skip = frozenset().union(*(d.skip_checks for d in (*self.variants, *self.defects)))
        self.flags = frozenset().union(*(d.flags for d in (*self.variants, *self.defects)))
        self._record_lock = threading.Lock()

    def log_request(self, method: str, path: str, headers: Any, raw: bytes | None) -> None:
        """Record a request as received, for an exact replay.  The Authorization
        header's value is never written (only whether it held the right key), nor the key
        anywhere else."""
        if self.record is None:
            return

        def scrub(text: str) -> str:
            return text.replace(self.api_key, "{KEY}") if self.api_key else text

        kept = {
            k: scrub(v)
            for k, v in headers.items()
            if k.lower() not in ("authorization", "host", "content-length", "transfer-encoding")
        }
        sent = headers.get("Authorization")
        auth = None if sent is None else "valid" if self.api_key and sent == f"Bearer {self.api_key}" else "other"
        line = json.dumps(
            {
                "method": method,
                "path": path,
                "headers": kept,
                "auth": auth,
                "body": scrub((raw or b"").decode("latin-1")),
            }
        )
        with self._record_lock:
            self.record.write(line + "\n")
            self.record.flush()

    def hooks(self, name: str) -> list[Any]:
        return [getattr(d, name) for d in (*self.variants, *self.defects) if getattr(d, name) is not None]


class _TooLarge(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like the real API
    server_version = "chatconform-reference/0.1"
    sys_version = ""
    timeout = 60  # idle keep-alive connections do not pin a thread forever
    # Headers and body (and each SSE event) are separate small writes: without
    # TCP_NODELAY, Nagle + delayed ACK add ~40 ms per answer and clump events.
    disable_nagle_algorithm = True
    server: "ReferenceHTTPServer"

    # Quiet by default: a test server that prints a line per request buries the
    # output of the tests that use it.
    def log_message(self, format: str, *args: Any) -> None:
        if self.server.config.verbose:
            super().log_message(format, *args)

    def version_string(self) -> str:
        return self.server_version

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_POST

    # -- plumbing -------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    self.close_connection = True
                    raise _TooLarge
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return b""
        if length > MAX_BODY:
            # Do not read 16 MiB+ just to reject it; the connection cannot be reused.
            self.close_connection = True
            raise _TooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        cfg = self.server.config
        path = unquote(urlsplit(self.path).path)
        internal = _internal_path(path, cfg.base_path)
        call = Call(self.command, internal or path, self.headers, api_key=cfg.api_key)
        try:
            try:
                raw: bytes | None = self._read_body()
            except _TooLarge:
                raw = None
            except (ValueError, OSError):
                self.close_connection = True
                raw = b""
            cfg.log_request(self.command, self.path, self.headers, raw)
            if internal is None:  # outside a dialect's base path: nothing lives there
                check_auth(call, cfg.skip, cfg.flags)
                raise ApiError(404, f"Invalid URL ({call.method} {path})", check="http.unknown-path")
            reply = self._route(call, raw)
        except ApiError as e:
            reply = self._error_reply(call, e)
        except _DISCONNECTS:
            self.close_connection = True
            return
        except Exception:  # a bug in the reference server: still answer with the envelope
            if cfg.verbose:
                import traceback

                traceback.print_exc(file=sys.stderr)
            reply = self._error_reply(
                call,
                ApiError(
                    500, "The server had an error while processing your request.", type="server_error", check="internal"
                ),
            )
        for hook in cfg.hooks("on_reply"):
            reply = hook(call, reply)
        self._send(reply, call)

    def _error_reply(self, call: Call, e: ApiError) -> Reply:
        headers = {"Content-Type": "application/json", **e.headers}
        reply = Reply(e.status, headers, dumps(e.envelope()).encode("utf-8"), error=e.error_object(), check=e.check)
        for hook in self.server.config.hooks("on_error"):
            reply = hook(call, reply)
        return reply

    def _send(self, reply: Reply, call: Call | None = None) -> None:
        try:
            if self.server.config.transport is not None:
                send_with_transport(self, call, reply, self.server.config.transport)
                return
            self.send_response(reply.status)
            headers = dict(reply.headers)
            headers.setdefault("x-request-id", fake_model.random_id("req_", 24))
            for k, v in headers.items():
                self.send_header(k, v)
            if reply.events is None:
                self.send_header("Content-Length", str(len(reply.body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            delay = self.server.config.stream_delay
            for event in reply.events:
                data = event.encode("utf-8")
                if not data:
                    continue  # a zero-length chunk would end the chunked body early
                # One HTTP chunk per SSE event, written straight to the socket
                # (wfile is unbuffered): the client sees each event as it is made.
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                if delay:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
        except _DISCONNECTS:
            # The client went away mid-answer: nothing to report, just drop it.
            self.close_connection = True

    # -- routing ----------------------------------------------------------------------

    def _route(self, call: Call, raw: bytes | None) -> Reply:
        cfg = self.server.config
        check_auth(call, cfg.skip, cfg.flags)
        if call.path == CHAT_PATH:
            if call.method != "POST":
                raise ApiError(
                    405,
                    f"Method {call.method} is not allowed for {CHAT_PATH}; use POST.",
                    code="method_not_allowed",
                    check="http.method",
                    headers={"Allow": "POST"},
                )
            return self._chat(call, raw)
        if call.path == "/v1/models" and call.method in ("GET", "HEAD"):
            return json_reply(200, {"object": "list", "data": [_model_object(m) for m in cfg.models]})
        if call.path.startswith("/v1/models/") and call.method in ("GET", "HEAD"):
            name = call.path[len("/v1/models/") :]
            if name in cfg.models:
                return json_reply(200, _model_object(name))
            raise ApiError(
                404,
                f"The model `{name}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
                check="model.exists",
            )
        raise ApiError(404, f"Invalid URL ({call.method} {call.path})", check="http.unknown-path")

    def _chat(self, call: Call, raw: bytes | None) -> Reply:
        cfg = self.server.config
        if cfg.latency:
            time.sleep(cfg.latency)  # a model thinking: concurrent requests wait side by side (one thread each)
        ctype = call.header("Content-Type")
        media_type = ctype.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and "http.content-type" not in cfg.skip:
            raise ApiError(
                415,
                f"Invalid Content-Type header ({ctype or 'none'}), expected application/json.",
                code="unsupported_media_type",
                check="http.content-type",
            )
        if raw is None:
            raise ApiError(
                413,
                f"Request body too large: the limit is {MAX_BODY} bytes.",
                code="request_too_large",
                check="http.body-size",
            )
        call.body = _parse_json(raw)
        call.stream = call.body.get("stream") is True
        for hook in cfg.hooks("on_parsed"):
            err = hook(call)
            if isinstance(err, ApiError):
                raise err
        validate_request(call.body, cfg.skip)
        check_model(call.body, cfg.models, cfg.skip)
        prompt_tokens, _ = fake_model.count_prompt_tokens(call.body.get("messages"))
        if prompt_tokens > fake_model.CONTEXT_WINDOW and "context.length" not in cfg.skip:
            raise context_exceeded(fake_model.CONTEXT_WINDOW, prompt_tokens, "context.length")
        for hook in cfg.hooks("on_request"):
            err = hook(call)
            if isinstance(err, ApiError):
                raise err
        completion = call.completion = fake_model.generate(call.body)
        for hook in cfg.hooks("on_completion"):
            hook(call, completion)
        if not call.stream:
            body = render.completion_body(completion)
            for hook in cfg.hooks("on_response"):
                body = hook(call, body)
            return json_reply(200, body)
        options = call.body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        chunks = render.stream_chunks(completion, include_usage)
        for hook in cfg.hooks("on_chunks"):
            chunks = hook(call, chunks)
        events = render.sse_events(chunks)
        for hook in cfg.hooks("on_events"):
            events = hook(call, events)
        headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        return Reply(200, headers, events=events)


def _internal_path(path: str, base: str) -> str | None:
    """The server's own `/v1/...` route for a path under the configured base path (None:
    outside it).  Routes and defect hooks speak `/v1/...` whatever base a dialect serves under."""
    if base == "/v1":
        return path
    if path == base or path.startswith(base + "/"):
        return "/v1" + path[len(base) :]
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        # NaN/Infinity are not JSON (RFC 8259) although Python's parser takes them.
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            check="body.json",
        ) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise ApiError(
            400,
            f"Invalid type for request body: expected an object, but got {kind} instead.",
            code="invalid_type",
            check="body.object",
        )
    return value


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": "chatconform"}


class ReferenceHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: Config) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.config = config
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects are routine for a test server: no traceback for them.
        if isinstance(sys.exc_info()[1], _DISCONNECTS + (OSError,)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Hang up idle keep-alive connections so that stop() really stops serving."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RunningServer:
    """A reference server serving in a daemon thread. Use as a context manager, or call stop()."""

    def __init__(self, httpd: ReferenceHTTPServer, thread: threading.Thread, host: str) -> None:
        self._httpd = httpd
        self._thread = thread
        self.host = host
        self.port: int = httpd.server_address[1]
        url_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{url_host}:{self.port}{httpd.config.base_path}"
        self.dialect = httpd.config.dialect
        self.defects = tuple(d.name for d in httpd.config.defects)
        self.variants = tuple(v.name for v in httpd.config.variants)
        self.api_key = httpd.config.api_key
        self._stopped = False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.base_url!r}, defects={self.defects!r}, variants={self.variants!r})"


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str | None = None,
    defects: Sequence[str | Defect] = (),
    models: Sequence[str] | None = DEFAULT_MODELS,
    verbose: bool = False,
    stream_delay: float = STREAM_DELAY,
    dialect: str | None = None,
    record: Any = None,
    variants: Sequence[str | Variant] = (),
    latency: float = 0.0,
) -> RunningServer:
    """Start a reference server in a daemon thread and return once it is listening.

    `defects` names entries of DEFECTS (ValueError for an unknown name); several
    may be combined. `models` defaults to ("chatconform-reference",).
    `dialect` names an entry of dialects.DIALECTS: the server then behaves as that
    vendor documents (its base path, key handling and deviations; defects on top).
    `variants` names entries of variants.VARIANTS: conformant choices (gzip, CRLF
    events, other id formats...) the suite must pass; combinable, defects on top.
    `latency` makes every chat answer wait that many seconds first, as a model would.
    """
    d = dialects.get(dialect) if dialect else None
    chosen = resolve_variants(variants)
    if d is not None and models in (None, DEFAULT_MODELS):
        models = (d.model, *DEFAULT_MODELS)  # the model the vendor's page uses
    config = Config(
        api_key=api_key if d is None or d.validates_keys else None,
        models=tuple(models) if models else DEFAULT_MODELS,
        defects=(d.behaviours if d else ()) + resolve_defects(defects),
        verbose=verbose,
        stream_delay=stream_delay,
        base_path=d.base_path if d else "/v1",
        dialect=d.name if d else None,
        record=record,
        variants=chosen,
        transport=transport_of(chosen),
        latency=latency,
    )
    httpd = ReferenceHTTPServer((host, port), config)
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.01},
        name=f"chatconform-reference:{httpd.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return RunningServer(httpd, thread, host)
