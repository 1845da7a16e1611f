"""The one HTTP client: every request any test makes goes through `Client.send`.

Bounded in every dimension a hostile server can stretch: connect/read timeouts, a
total deadline per exchange, a cap on body bytes and on SSE events.  Redirects are
followed by hand so that credentials never reach another origin.  Every exchange is
recorded (request, status, headers, body or SSE transcript, timings) and handed to
the observer before the test sees it.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import httpx

from . import curl, redact
from .sse import SSEParser
from .targets import Target
from .violations import CannotJudge

_DEFAULT = object()
USER_AGENT = "chatconform/0.1 (+conformance suite)"


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    request_json: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)      # lower-case names
    body: bytes = b""
    truncated: str | None = None          # why the body was cut ("size cap", "deadline", ...)
    json: Any = None
    json_error: str | None = None
    sse: SSEParser | None = None
    arrivals: list[float] = field(default_factory=list)         # seconds at which body bytes arrived
    elapsed: float = 0.0
    transport_error: str | None = None
    key_env: str | None = None
    label: str = ""

    # -- what kind of answer is this --------------------------------------------------
    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def is_stream(self) -> bool:
        return self.sse is not None

    @property
    def wants_stream(self) -> bool:
        return isinstance(self.request_json, dict) and self.request_json.get("stream") is True

    @property
    def chunks(self) -> list[dict]:
        return self.sse.chunks if self.sse else []

    def curl(self) -> str:
        return curl.command(self.method, self.url, self.request_headers, self.request_body, self.key_env)

    def transcript(self, limit: int = 64 * 1024) -> str:
        """The raw answer as text, size-capped and redacted (evidence for reports)."""
        head = f"HTTP {self.status}\n" + "".join(f"{k}: {v}\n" for k, v in redact.headers(self.headers).items())
        body = self.body[:limit].decode("utf-8", errors="replace")
        more = f"\n…({len(self.body) - limit} more bytes)" if len(self.body) > limit else ""
        cut = f"\n[body cut by the suite: {self.truncated}]" if self.truncated else ""
        return redact.text(head + "\n" + body + more + cut)


class Client:
    """Sends requests to one target and hands every exchange to `observe`."""

    def __init__(self, target: Target, observe: Callable[[Exchange], None] | None = None,
                 breaker: "Breaker | None" = None):
        self.target = target
        self.observe = observe
        self.breaker = breaker
        t = target.timeouts
        self._http = httpx.Client(
            timeout=httpx.Timeout(connect=t["connect"], read=t["read"], write=t["read"], pool=t["connect"]),
            follow_redirects=False, trust_env=False, http2=False,
        )

    def close(self) -> None:
        self._http.close()

    # -- the API tests use -------------------------------------------------------------
    def chat(self, body: Any = None, *, raw: bytes | None = None, headers: dict | None = None,
             auth: Any = _DEFAULT, content_type: str | None = "application/json", path: str = "/chat/completions",
             method: str = "POST", label: str = "") -> Exchange:
        """POST a chat request. `body` is JSON-encoded; `raw` sends bytes as they are.

        `auth`: default → the target's key as `Bearer`; None → no Authorization header;
        a string → that exact header value (for auth probes).
        """
        url = self.target.base_url.rstrip("/") + path
        hdrs = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(self.target.headers)
        if auth is _DEFAULT:
            if self.target.api_key:
                hdrs["Authorization"] = f"Bearer {self.target.api_key}"
        elif auth is not None:
            hdrs["Authorization"] = auth
        hdrs.update(headers or {})
        if raw is None and body is not None:
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        req_json = body if body is not None else _try_json(raw)
        return self._send(method, url, hdrs, raw, req_json, label)

    # -- the machinery -------------------------------------------------------------------
    def _send(self, method: str, url: str, hdrs: dict, raw: bytes | None, req_json: Any, label: str) -> Exchange:
        if self.breaker:
            self.breaker.before()
        retries = int(self.target.retries.get("max", 2))
        max_wait = float(self.target.retries.get("max_wait", 5.0))
        attempt = 0
        while True:
            ex = self._once(method, url, hdrs, raw, req_json, label)
            if ex.status in (429, 503) and attempt < retries:
                # Judged too (ERR-001/006: a 429 has the envelope), then retried.
                if self.observe:
                    self.observe(ex)
                attempt += 1
                time.sleep(min(max_wait, _retry_after(ex, attempt)))
                continue
            break
        if self.breaker:
            self.breaker.after(ex)
        if ex.transport_error:
            raise CannotJudge(ex.transport_error, ex)
        if self.observe:
            self.observe(ex)
        if ex.status in (429, 503):
            raise CannotJudge(f"HTTP {ex.status} still returned after {retries} retries (rate limit or overload)", ex)
        return ex

    def _once(self, method: str, url: str, hdrs: dict, raw: bytes | None, req_json: Any, label: str) -> Exchange:
        ex = Exchange(method=method, url=url, request_headers=dict(hdrs), request_body=raw,
                      request_json=req_json, key_env=self.target.api_key_env, label=label)
        limits, t = self.target.limits, self.target.timeouts
        start = time.monotonic()
        deadline = start + float(t["total"])
        origin = _origin(url)
        send_headers = dict(hdrs)
        try:
            for _hop in range(4):
                request = self._http.build_request(method, url, headers=send_headers, content=raw)
                resp = self._http.send(request, stream=True)
                try:
                    if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                        url = urljoin(url, resp.headers["location"])
                        if _origin(url) != origin:
                            # Credentials stay with the origin they were given for.
                            send_headers = {k: v for k, v in send_headers.items()
                                            if k.lower() not in ("authorization", "cookie", "proxy-authorization")}
                        if resp.status_code == 303:
                            method, raw = "GET", None
                        continue
                    ex.status = resp.status_code
                    ex.headers = {k.lower(): v for k, v in resp.headers.items()}
                    self._read_body(ex, resp, start, deadline, limits)
                finally:
                    resp.close()
                break
            else:
                ex.transport_error = "too many redirects (more than 3)"
        except httpx.ConnectError as exc:
            ex.transport_error = f"cannot connect to {redact.text(url)}: {redact.text(str(exc)) or 'connection refused'}"
        except httpx.TimeoutException as exc:
            ex.transport_error = f"timed out ({type(exc).__name__}) after {time.monotonic() - start:.1f}s waiting for {redact.text(url)}"
        except httpx.RemoteProtocolError as exc:
            if ex.status is not None:
                ex.truncated = f"connection broken mid-body: {redact.text(str(exc))}"
                if ex.sse:
                    ex.sse.close()
            else:
                ex.transport_error = f"protocol error from the server: {redact.text(str(exc))}"
        except httpx.HTTPError as exc:
            if ex.status is not None:
                ex.truncated = f"transport error mid-body: {type(exc).__name__}: {redact.text(str(exc))}"
                if ex.sse:
                    ex.sse.close()
            else:
                ex.transport_error = f"HTTP error: {type(exc).__name__}: {redact.text(str(exc))}"
        ex.elapsed = time.monotonic() - start
        if ex.status is not None and not ex.is_stream and ex.body:
            try:
                ex.json = json.loads(ex.body)
            except (ValueError, UnicodeDecodeError) as exc:
                ex.json_error = str(exc)[:200]
        return ex

    def _read_body(self, ex: Exchange, resp: httpx.Response, start: float, deadline: float, limits: dict) -> None:
        max_bytes, max_events = int(limits["max_body_bytes"]), int(limits["max_events"])
        sse = "text/event-stream" in ex.headers.get("content-type", "").lower() or (
            ex.wants_stream and resp.status_code == 200 and "json" not in ex.headers.get("content-type", ""))
        if sse:
            ex.sse = SSEParser()
        buf = bytearray()
        for piece in resp.iter_raw(16384):
            now = time.monotonic()
            ex.arrivals.append(now - start)
            room = max_bytes - len(buf)
            buf += piece[:room]
            if ex.sse is not None:
                ex.sse.feed(piece[:room], now - start)
            if len(buf) >= max_bytes:
                ex.truncated = f"body larger than {max_bytes} bytes (limits.max_body_bytes)"
                break
            if ex.sse is not None and len(ex.sse.events) > max_events:
                ex.truncated = f"more than {max_events} SSE events (limits.max_events)"
                break
            if now > deadline:
                ex.truncated = f"answer still arriving after {deadline - start:.0f}s (timeouts.total)"
                break
        ex.body = bytes(buf)
        if ex.sse is not None and not ex.truncated:
            ex.sse.close()


class Breaker:
    """After several consecutive timeouts the target is unresponsive: stop waiting on it."""

    def __init__(self, threshold: int = 3):
        self.threshold = threshold
        self.consecutive = 0
        self.tripped_reason: str | None = None

    def before(self) -> None:
        if self.tripped_reason:
            raise CannotJudge(f"target marked unresponsive: {self.tripped_reason}")

    def after(self, ex: Exchange) -> None:
        timed_out = bool(ex.transport_error and "timed out" in ex.transport_error) or bool(
            ex.truncated and "timeouts.total" in ex.truncated)
        self.consecutive = self.consecutive + 1 if timed_out else 0
        if self.consecutive >= self.threshold:
            self.tripped_reason = f"{self.consecutive} consecutive exchanges timed out"


def _origin(url: str) -> tuple:
    p = urlsplit(url)
    port = p.port or (443 if p.scheme == "https" else 80)
    return (p.scheme, (p.hostname or "").lower(), port)


def _retry_after(ex: Exchange, attempt: int) -> float:
    value = ex.headers.get("retry-after-ms")
    try:
        if value is not None:
            return max(0.0, float(value) / 1000)
        value = ex.headers.get("retry-after")
        if value is not None:
            return max(0.0, float(value))
    except ValueError:
        pass
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)   # backoff with jitter


def _try_json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
