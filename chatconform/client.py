"""The one HTTP client: every request any test makes goes through `Client.send`.

Bounded in every dimension a hostile server can stretch: connect/read timeouts, a
total deadline per exchange that holds on every socket operation (a server dripping
its headers one byte a second cannot stretch it), a cap on body bytes and on SSE
events (the body is streamed; no more than the cap is ever kept).  Redirects are
followed by hand so that credentials never reach another origin, and a server that
echoes the key gets it masked before anything else sees the answer.  429/503 are
retried as Retry-After says, under the target's client-side rate limit
(ratelimit.py).  A request that failed before any byte of an answer on a reused
keep-alive connection (the server closed it meanwhile: uvicorn does after a 500) is
sent once more on a new connection.  Every exchange is recorded (request, status,
headers, body or SSE transcript, timings) and handed to the observer before the test
sees it.

Like curl and the SDKs, a client for a target the suite did not start honours
HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY and SSL_CERT_FILE / SSL_CERT_DIR (a
target's `ca_bundle`, or --ca-bundle, wins over those); the deadline holds through a
proxy as well, since every socket, the proxy's included, is made by the same backend.
"""

from __future__ import annotations

import email.utils
import errno
import functools
import json
import logging
import math
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from . import curl, ratelimit, redact, runclock
from .sharedfile import state_dir, update
from .sse import SSEParser
from .targets import Target
from .violations import CannotJudge, Intent

_DEFAULT = object()
USER_AGENT = "chatconform/0.1 (+conformance suite)"
MAX_ARRIVALS = 10000  # arrival times kept per exchange: a 1-byte drip must not grow a list for ever
# Headers that carry credentials: none of them follows a redirect to another origin
# (nor does any header from targets.yaml, which may hold a key under any name).
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "openai-api-key"}
# Jitter has its own generator: the client must not draw from the global `random`,
# whose sequence seeded tests and property tests rely on.  Jitter only ever changes
# how long we sleep, never what is sent or how it is judged.
_JITTER = random.Random()


# Content codings the client undoes itself (zlib) when a server applies one unasked.
DECODED_CODINGS = ("gzip", "x-gzip", "deflate")

# Exchange.error_kind: why an exchange ended without a whole answer, as data (the
# breaker counts by it, the preflight names the cause by it).
UNREACHABLE = frozenset({"refused", "dns", "connect", "tls-certificate", "tls", "proxy"})
TIMED_OUT = frozenset({"connect-timeout", "read-timeout", "write-timeout", "deadline", "stalled"})
CUT = frozenset({"size-cap", "event-cap"})


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    request_json: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    truncated: str | None = None  # why the body was cut ("size cap", "deadline", ...)
    json: Any = None
    json_error: str | None = None
    sse: SSEParser | None = None
    arrivals: list[float] = field(default_factory=list)  # seconds at which body bytes arrived
    elapsed: float = 0.0
    transport_error: str | None = None
    key_env: str | None = None
    label: str = ""
    timed_out: bool = False  # a timeout (connect, read or total) ended this exchange
    content_coding: str | None = None  # a Content-Encoding the server applied although identity was asked
    intent: Intent | None = None  # what the test declared about the request (checks/intent.py)
    at: float | None = None  # wall-clock time (Unix seconds) the answer's headers arrived
    # Why it ended without a whole answer: one of UNREACHABLE, TIMED_OUT, CUT, or "protocol",
    # "reset", "dropped" (a reused connection closed under it), "broken" (mid-body),
    # "run-time-limit", "other"; None for a whole answer.
    error_kind: str | None = None
    proxy: str | None = None  # the proxy it went through (from the environment), credentials masked
    retried: str | None = None  # why it was sent again on a new connection (a dropped keep-alive)

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

    def __repr__(self) -> str:
        # Compact and without request headers: pytest and hypothesis print reprs of
        # values in failed assertions, and the request headers hold the key.
        cut = f", cut: {self.truncated}" if self.truncated else ""
        err = f", {self.transport_error}" if self.transport_error else ""
        return redact.text(
            f"<Exchange {self.label or '-'}: {self.method} {self.url} -> HTTP {self.status}, "
            f"{len(self.body)} bytes{cut}{err}>"
        )

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

    def __init__(
        self, target: Target, observe: Callable[[Exchange], None] | None = None, breaker: "Breaker | None" = None
    ):
        self.target = target
        self.observe = observe
        self.breaker = breaker
        self.limiter = ratelimit.for_target(target)
        self._echo_guard = _sent_secrets(target)
        # The embedded reference is the suite's own loopback server: no proxy, no CA settings.
        self._ssl = _ssl_context(*_trust(target))
        self._proxies = {} if target.embedded else _env_proxies()
        self._http = self._new_http()

    def _new_http(self) -> httpx.Client:
        t = self.target.timeouts
        return httpx.Client(
            transport=_Router(self._ssl, self._proxies),
            timeout=httpx.Timeout(connect=t["connect"], read=t["read"], write=t["read"], pool=t["connect"]),
            follow_redirects=False,
            trust_env=False,
            # iter_raw hands us the bytes as sent: asking for no compression keeps them
            # the JSON/SSE we judge (and rules out decompression bombs).
            headers={"Accept-Encoding": "identity"},
        )

    def proxy_for(self, url: str) -> str | None:
        """The proxy (from the environment) a request to `url` goes through, credentials masked."""
        proxy = _proxy_for(httpx.URL(url), self._proxies)
        return _shown_proxy(proxy) if proxy else None

    def close(self) -> None:
        self._http.close()

    # -- the API tests use -------------------------------------------------------------
    def chat(
        self,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict | None = None,
        auth: Any = _DEFAULT,
        content_type: str | None = "application/json",
        path: str = "/chat/completions",
        method: str = "POST",
        label: str = "",
        accept: str | None = None,
        refuse: str | None = None,
        param: str | None = None,
    ) -> Exchange:
        """POST a chat request. `body` is JSON-encoded; `raw` sends bytes as they are.

        `auth`: default → the target's key as `Bearer`; None → no Authorization header;
        a string → that exact header value (for auth probes).
        `accept=RULE`: the request is valid and RULE says it must be answered;
        `refuse=RULE` (with the `param` the error should name): it is invalid and RULE
        says it must be refused.  The checks judge both (violations.Intent).
        """
        if isinstance(auth, str):
            auth = _Secret(auth)  # masked in this frame's locals too (tracebacks, --showlocals)
        if accept and refuse:
            raise ValueError("a request is either accepted or refused, not both")
        intent = Intent("accept", accept) if accept else Intent("refuse", refuse, param) if refuse else None
        return self._send(*self._request(body, raw, headers, auth, content_type, path, method), label, intent)

    def _request(self, body, raw, headers, auth, content_type, path, method) -> tuple:
        url = self.target.base_url.rstrip("/") + path
        hdrs = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(self.target.headers)
        if auth is _DEFAULT:
            if self.target.api_key:
                hdrs["Authorization"] = f"Bearer {self.target.api_key}"
        elif auth is not None:
            hdrs["Authorization"] = auth = _Secret(auth) if isinstance(auth, str) else auth
        hdrs.update(headers or {})
        # (a comprehension: a loop variable would leave a raw value among the locals)
        hdrs = {k: _Secret(v) if k.lower() in CREDENTIAL_HEADERS and isinstance(v, str) else v for k, v in hdrs.items()}
        if raw is None and body is not None:
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        req_json = body if body is not None else _try_json(raw)
        return method, url, hdrs, raw, req_json

    # -- the machinery -------------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        hdrs: dict,
        raw: bytes | None,
        req_json: Any,
        label: str,
        intent: Intent | None = None,
    ) -> Exchange:
        runclock.check()
        if self.breaker:
            self.breaker.before()
        retries = int(self.target.retries.get("max", 2))
        max_wait = float(self.target.retries.get("max_wait", 5.0))
        attempt, gave_up, dropped_once = 0, "", False
        while True:
            if self.limiter:
                self.limiter.acquire()  # every attempt counts against requests_per_minute
            ex = self._once(method, url, hdrs, raw, req_json, label)
            if ex.error_kind == "dropped" and not dropped_once:
                dropped_once = True
                # Not one byte of an answer came, on a connection an earlier answer had
                # used: the server closed it meanwhile (uvicorn does after a 500), and the
                # request never reached anything that answers.  Once, on a new connection.
                if self.limiter:
                    self.limiter.acquire()
                first = ex.transport_error
                ex = self._once(method, url, hdrs, raw, req_json, label, fresh=True)
                ex.retried = f"sent again on a new connection: {first}"
            ex.intent = intent
            if ex.status not in (429, 503) or attempt >= retries:
                break
            delay, asked = _retry_delay(ex, attempt + 1, max_wait)
            if asked and delay > max_wait:
                # Retrying before the server said we may is pointless (and rude).
                gave_up = f"; the server asked to wait {delay:g}s, more than retries.max_wait ({max_wait:g}s)"
                break
            # Judged too (ERR-001/006: a 429 has the envelope), then retried.
            if self.observe:
                self.observe(ex)
            attempt += 1
            time.sleep(min(delay, max_wait))
        if self.breaker:
            self.breaker.after(ex)
        if ex.transport_error:
            raise CannotJudge(ex.transport_error, ex)
        if self.observe:
            self.observe(ex)
        if ex.status in (429, 503):
            what = "rate limited" if ex.status == 429 else "overloaded"
            raise CannotJudge(
                f"HTTP {ex.status} ({what}) still returned after {attempt} "
                f"{'retry' if attempt == 1 else 'retries'}{gave_up}: the target could not be judged",
                ex,
            )
        return ex

    def _once(
        self, method: str, url: str, hdrs: dict, raw: bytes | None, req_json: Any, label: str, fresh: bool = False
    ) -> Exchange:
        """One attempt; `fresh`: on a connection of its own, made for it and closed after."""
        ex = Exchange(
            method=method,
            url=url,
            request_headers=dict(hdrs),
            request_body=raw,
            request_json=req_json,
            key_env=self.target.api_key_env,
            label=label,
        )
        limits, t = self.target.limits, self.target.timeouts
        start = time.monotonic()
        deadline = start + float(t["total"])
        run_end = runclock.deadline()
        run_bound = run_end is not None and run_end < deadline
        if run_bound:
            deadline = run_end  # the run's --max-time ends first
        origin = _origin(url)
        send_headers = dict(hdrs)
        secret_names = CREDENTIAL_HEADERS | {k.lower() for k in self.target.headers}
        http = self._new_http() if fresh else self._http
        try:
            ex.proxy = self.proxy_for(url)
        except (httpx.InvalidURL, ValueError):
            pass
        attempt = _local.attempt = _Attempt()  # what the transport saw: a reused connection, answer bytes
        _local.deadline = deadline  # read by the transport on every socket operation
        try:
            for _hop in range(4):
                request = http.build_request(method, url, headers=send_headers, content=raw)
                resp = http.send(request, stream=True)
                try:
                    if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                        try:
                            url = urljoin(url, resp.headers["location"])
                            other = _origin(url) != origin
                        except ValueError:
                            ex.transport_error = f"HTTP {resp.status_code} redirect to an invalid Location {redact.text(resp.headers['location'])[:200]!r}"
                            break
                        if other:
                            # Credentials stay with the origin they were given for.
                            send_headers = {k: v for k, v in send_headers.items() if k.lower() not in secret_names}
                        if resp.status_code == 303:
                            method, raw = "GET", None
                        continue
                    ex.status = resp.status_code
                    ex.at = time.time()
                    ex.headers = {k.lower(): v for k, v in resp.headers.items()}
                    self._read_body(ex, resp, start, deadline, limits)
                finally:
                    resp.close()
                break
            else:
                ex.transport_error = "too many redirects (more than 3)"
                ex.error_kind = "other"
        except httpx.ConnectError as exc:
            ex.error_kind = _connect_kind(exc, ex.proxy)
            via = f" through the proxy {ex.proxy}" if ex.proxy else ""
            ex.transport_error = (
                f"cannot connect to {redact.text(url)}{via}: {redact.text(str(exc)) or 'connection refused'}"
            )
        except httpx.ProxyError as exc:
            ex.error_kind = "proxy"
            ex.transport_error = f"the proxy {ex.proxy} refused to reach {redact.text(url)}: {redact.text(str(exc))}"
        except httpx.TimeoutException as exc:
            self._timed_out(ex, exc, start, deadline, url)
        except httpx.InvalidURL as exc:
            ex.transport_error = f"invalid URL {redact.text(url)[:200]!r}: {redact.text(str(exc))}"
            ex.error_kind = "other"
        except httpx.RemoteProtocolError as exc:
            if ex.status is not None:
                ex.truncated = f"connection broken mid-body: {redact.text(str(exc))}"
                ex.error_kind = "broken"
                if ex.sse:
                    ex.sse.close()
            else:
                ex.transport_error = f"protocol error from the server: {redact.text(str(exc))}"
                ex.error_kind = "dropped" if attempt.dropped() else "protocol"
        except httpx.HTTPError as exc:
            if ex.status is not None:
                ex.truncated = f"transport error mid-body: {type(exc).__name__}: {redact.text(str(exc))}"
                ex.error_kind = "broken"
                if ex.sse:
                    ex.sse.close()
            else:
                ex.transport_error = f"HTTP error: {type(exc).__name__}: {redact.text(str(exc))}"
                dropped = attempt.dropped() and isinstance(exc, (httpx.ReadError, httpx.WriteError))
                ex.error_kind = "dropped" if dropped else "reset" if _is_reset(exc) else "other"
        finally:
            _local.deadline = None
            _local.attempt = None
            if fresh:
                http.close()
        if run_bound and ex.error_kind in TIMED_OUT and time.monotonic() >= deadline - 0.05:
            # Cut by the run's time limit, not by the target's timeouts: not the target's fault.
            ex.error_kind, ex.timed_out, ex.truncated = "run-time-limit", False, None
            ex.transport_error = f"not judged: {runclock.reason()} while this request was in flight"
        ex.elapsed = time.monotonic() - start
        self._scrub_echo(ex)
        if ex.status is not None and not ex.is_stream and ex.body:
            try:
                ex.json = json.loads(ex.body)
            except (ValueError, UnicodeDecodeError) as exc:
                ex.json_error = str(exc)[:200]
        return ex

    def _scrub_echo(self, ex: Exchange) -> None:
        """Mask the secrets this client sent wherever the answer echoes them (a 401 that
        quotes the key in full).  Done at the source because an answer's text travels
        far: into Violation messages, pytest and Allure reports, hypothesis output, logs.
        The mask keeps JSON and SSE framing intact (no quote, backslash or line break),
        and the wrong keys the auth tests send are not secrets, so AUTH-005 still sees
        an echo of those."""
        if not self._echo_guard or ex.status is None:
            return
        mask = redact.MASK.encode()
        for k, v in ex.headers.items():
            if any(s.decode() in v for s in self._echo_guard):
                ex.headers[k] = redact.text(v)
        body = ex.body
        for s in self._echo_guard:
            body = body.replace(s, mask)
        if body == ex.body:
            return
        ex.body = body
        if ex.sse is not None:
            # Re-parse the masked text; the mask has no line break, so the events are the
            # same ones, in the same order, and keep their arrival times.
            old, ex.sse = ex.sse, SSEParser()
            ex.sse.feed(body)
            if not ex.truncated or "mid-body" in ex.truncated:
                ex.sse.close()  # as _once did: EOF was reached, or the connection broke
            for new_ev, old_ev in zip(ex.sse.events, old.events):
                new_ev.arrival = old_ev.arrival

    def _timed_out(self, ex: Exchange, exc: Exception, start: float, deadline: float, url: str) -> None:
        """Name which limit ran out and where: before the headers, or mid-body."""
        t = self.target.timeouts
        ex.timed_out = True
        waited = time.monotonic() - start
        if time.monotonic() >= deadline - 0.05:
            limit, ex.error_kind = f"timeouts.total {t['total']:g}s", "deadline"
        elif isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
            limit, ex.error_kind = f"timeouts.connect {t['connect']:g}s", "connect-timeout"
        elif isinstance(exc, httpx.WriteTimeout):
            limit, ex.error_kind = (
                f"timeouts.read {t['read']:g}s: the server stopped reading the request",
                "write-timeout",
            )
        else:
            limit = f"timeouts.read {t['read']:g}s without a byte"
            ex.error_kind = "read-timeout" if ex.status is None else "stalled"
        if ex.status is None:
            ex.transport_error = (
                f"timed out after {waited:.1f}s waiting for the response headers from {redact.text(url)} ({limit})"
            )
        elif limit.startswith("timeouts.total"):
            # Same verdict as a body cut by the loop below: the answer did not end in time.
            ex.truncated = f"answer still arriving after {t['total']:g}s (timeouts.total)"
        else:
            ex.transport_error = (
                f"timed out after {waited:.1f}s: HTTP {ex.status} headers arrived, then the body "
                f"stalled after {len(ex.body)} bytes ({limit})"
            )

    def _read_body(self, ex: Exchange, resp: httpx.Response, start: float, deadline: float, limits: dict) -> None:
        max_bytes, max_events = int(limits["max_body_bytes"]), int(limits["max_events"])
        sse = "text/event-stream" in ex.headers.get("content-type", "").lower() or (
            ex.wants_stream and resp.status_code == 200 and "json" not in ex.headers.get("content-type", "")
        )
        if sse:
            ex.sse = SSEParser()
        buf = bytearray()
        # The client asks for identity (Accept-Encoding); a server that compresses anyway
        # is decoded as the SDK would (httpx does), with the size cap on the decoded bytes,
        # and noted (checks/http.py).  Codings zlib cannot decode stay as they came.
        coding = ex.headers.get("content-encoding", "").strip().lower()
        if coding and coding != "identity":
            ex.content_coding = coding
        inflate = zlib.decompressobj(32 + zlib.MAX_WBITS) if coding in DECODED_CODINGS else None
        try:
            # iter_raw() without a chunk size yields what each socket read returned
            # (httpcore reads at most 64 KiB, h11 keeps no more): SSE arrival times are
            # true, a failed read loses nothing already received (a chunk size would
            # hold up to that many bytes back), stopping here stops reading, and
            # resp.close() then drops the connection instead of draining the rest.
            for piece in resp.iter_raw():
                now = time.monotonic()
                if len(ex.arrivals) < MAX_ARRIVALS:
                    ex.arrivals.append(now - start)
                if inflate is not None:
                    try:
                        piece = inflate.decompress(piece, max_bytes - len(buf) + 1)
                    except zlib.error as exc:
                        ex.truncated = f"the body does not decode as Content-Encoding {coding}: {exc}"
                        ex.error_kind = "other"
                        break
                piece = piece[: max_bytes - len(buf)]
                buf += piece
                if ex.sse is not None:
                    ex.sse.feed(piece, now - start)
                if len(buf) >= max_bytes:
                    ex.truncated = f"body larger than {max_bytes} bytes (limits.max_body_bytes)"
                    ex.error_kind = "size-cap"
                    break
                if ex.sse is not None and len(ex.sse.events) > max_events:
                    ex.truncated = f"more than {max_events} SSE events (limits.max_events)"
                    ex.error_kind = "event-cap"
                    break
                if now > deadline:
                    ex.timed_out = True
                    ex.truncated = f"answer still arriving after {deadline - start:g}s (timeouts.total)"
                    ex.error_kind = "deadline"
                    break
        finally:
            ex.body = bytes(buf)  # what arrived is evidence even when the read failed
        if ex.sse is not None and not ex.truncated:
            ex.sse.close()


class Breaker:
    """After several consecutive exchanges that ended without a whole answer (a
    connection refused or otherwise impossible, a timeout, the total deadline, the size
    or event cap), the target is unresponsive or unreachable: stop waiting on it (the
    remaining tests end at once, each saying why, without sending).  The exchanges
    that tripped it are kept (method, URL, label, what happened, curl): the run's
    summary shows them as the finding they are.

    With `path` the state lives in that file (sharedfile.update, under flock), so the
    processes of one run (pytest-xdist workers) share one breaker; else in memory."""

    COUNTED = UNREACHABLE | TIMED_OUT | CUT
    TRAIL_CURL = 2000  # characters of each tripping request's curl kept

    def __init__(self, threshold: int = 3, path=None):
        self.threshold = threshold
        self.path = path
        self._lock = threading.Lock()
        self._mem: dict = {}

    @classmethod
    def for_run(cls, run_id: str, threshold: int = 3) -> "Breaker":
        return cls(threshold, state_dir() / f"breaker-{re.sub(r'[^A-Za-z0-9]', '', run_id)[:64]}.json")

    def _change(self, fn: Callable[[dict], dict | None]) -> dict:
        if self.path is None:
            with self._lock:
                new = fn(dict(self._mem))
                if new is not None:
                    self._mem = new
                return dict(self._mem)
        out: dict = {}

        def change(raw: bytes) -> bytes:
            try:
                state = json.loads(raw.decode() or "{}")
            except ValueError:
                state = {}  # a torn or foreign file: start afresh
            new = fn(dict(state))
            out.update(state if new is None else new)
            return raw if new is None else json.dumps(new).encode()

        update(self.path, change, size=1 << 20)
        return out

    def state(self) -> dict:
        return self._change(lambda s: None)

    @property
    def tripped_reason(self) -> str | None:
        return self.state().get("tripped")

    @property
    def consecutive(self) -> int:
        return int(self.state().get("consecutive", 0))

    @property
    def trail(self) -> list[dict]:
        """The exchanges that tripped it (or the current run of bad ones), oldest first."""
        return list(self.state().get("trail", []))

    def before(self) -> None:
        reason = self.tripped_reason
        if reason:
            raise CannotJudge(f"target marked unresponsive: {reason}; the remaining tests were not run")

    def after(self, ex: Exchange) -> None:
        bad = (
            ex.error_kind in self.COUNTED
            or ex.timed_out
            or bool(ex.transport_error and ex.transport_error.startswith("cannot connect"))
        )
        entry = _trail_entry(ex) if bad else None

        def change(s: dict) -> dict | None:
            if s.get("tripped"):
                return None
            if not bad:
                return None if not s.get("consecutive") else {**s, "consecutive": 0, "trail": []}
            trail = (s.get("trail", []) + [entry])[-self.threshold :]
            s.update(consecutive=int(s.get("consecutive", 0)) + 1, trail=trail)
            if s["consecutive"] >= self.threshold:
                s["tripped"] = f"{s['consecutive']} consecutive exchanges {_what(trail)} (last: {entry['what']})"
            return s

        self._change(change)

    def remove(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass


def _trail_entry(ex: Exchange) -> dict:
    curl_text = ex.curl()
    if len(curl_text) > Breaker.TRAIL_CURL:
        curl_text = curl_text[: Breaker.TRAIL_CURL] + "…(truncated)"
    what = ex.transport_error or ex.truncated or "timed out"
    return {
        "method": ex.method,
        "url": redact.text(ex.url),
        "label": ex.label,
        "kind": ex.error_kind or "timeout",
        "what": redact.text(what)[:400],
        "elapsed": round(ex.elapsed, 2),
        "curl": curl_text,
    }


def _what(trail: list[dict]) -> str:
    kinds = {e["kind"] for e in trail}
    if kinds <= UNREACHABLE:
        return "could not connect"
    if kinds <= TIMED_OUT | {"timeout"}:
        return "timed out"
    if kinds <= CUT:
        return "were cut at a size or event cap"
    return "timed out or were cut"


class _Secret(str):
    """A credential header value: sent as it is, shown masked.  pytest --showlocals,
    hypothesis and assertion messages print reprs of the client's locals (the headers
    dict); they see the mask."""

    def __repr__(self) -> str:
        return repr(redact.MASK)


def _sent_secrets(target: Target) -> list[bytes]:
    values = [target.api_key] + [v for k, v in target.headers.items() if k.lower() in CREDENTIAL_HEADERS]
    out = set()
    for v in values:
        if v:
            out.add(v)
            scheme, _, token = v.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                out.add(token.strip())
    # Longest first, so a header value is masked whole before the key inside it.
    return sorted((v.encode() for v in out if len(v) >= 8), key=len, reverse=True)


class _RedactLogs(logging.Filter):
    """httpcore logs the response headers as received at DEBUG: a server echoing the
    key would put it in pytest's captured logs, JUnit, Allure and --log-file."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's business, not ours
            return True
        clean = redact.text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


# A filter on a logger sees only that logger's own records, so each emitting logger of
# the HTTP stack gets one.
for _name in (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
):
    logging.getLogger(_name).addFilter(_RedactLogs())


def _origin(url: str) -> tuple:
    p = urlsplit(url)
    port = p.port or (443 if p.scheme == "https" else 80)
    return (p.scheme, (p.hostname or "").lower(), port)


def _retry_delay(ex: Exchange, attempt: int, max_wait: float) -> tuple[float, bool]:
    """(seconds to wait, whether the server said so): Retry-After-Ms, Retry-After
    (seconds or an HTTP date), else exponential backoff with jitter capped at max_wait."""
    asked = _server_delay(ex)
    if asked is not None:
        return asked, True
    backoff = min(max_wait, 8.0, 0.5 * 2 ** (attempt - 1))
    return backoff * (0.5 + _JITTER.random() / 2), False


def _server_delay(ex: Exchange) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = (ex.headers.get(name) or "").strip()
        if not value:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                continue  # unreadable: fall back to backoff
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


# -- the total deadline, enforced on every socket operation ------------------------------------
# httpx's timeouts are per operation: a server that sends one byte every few seconds
# never trips them, during the headers as well as the body.  The transport below
# bounds each connect/read/write by what is left of the current exchange's deadline
# (a thread-local, set by Client._once), so no exchange outlives timeouts.total.
_local = threading.local()


def _bounded(timeout: float | None, exc: type) -> float | None:
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("timeouts.total passed")
    return left if timeout is None else min(timeout, left)


class _Attempt:
    """What the transport saw during one attempt (Client._once), for the keep-alive retry."""

    __slots__ = ("reused", "got_bytes")

    def __init__(self):
        self.reused = False  # it ran on a connection an earlier attempt had used
        self.got_bytes = False  # at least one byte of an answer arrived

    def dropped(self) -> bool:
        return self.reused and not self.got_bytes


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner
        self._carried: _Attempt | None = None  # the attempt this connection last carried

    def _attempt(self) -> _Attempt | None:
        att = getattr(_local, "attempt", None)
        if att is not None and self._carried is not att:
            att.reused = att.reused or self._carried is not None
            self._carried = att
        return att

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        att = self._attempt()
        data = self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        if data and att is not None:
            att.got_bytes = True
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._attempt()
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> "_DeadlineStream":
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self):
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(
            self._inner.connect_tcp(
                host, port, _bounded(timeout, httpcore.ConnectTimeout), local_address, socket_options
            )
        )

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, _bounded(timeout, httpcore.ConnectTimeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# -- trust and proxies, as the environment says --------------------------------------------------
def _trust(target: Target) -> tuple[str | None, str | None]:
    """(cafile, capath) to verify https with: the target's ca_bundle (--ca-bundle), else
    SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle.  The embedded reference: certifi."""
    if target.ca_bundle:
        return target.ca_bundle, None
    if not target.embedded:
        if os.environ.get("SSL_CERT_FILE"):
            return os.environ["SSL_CERT_FILE"], None
        if os.environ.get("SSL_CERT_DIR"):
            return None, os.environ["SSL_CERT_DIR"]
    import certifi

    return certifi.where(), None


@functools.lru_cache(maxsize=8)
def _ssl_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # Loading a CA bundle takes ~50 ms: once per process and bundle, not once per test's client.
    return ssl.create_default_context(cafile=cafile, capath=capath)


def _env_proxies() -> dict[str, str]:
    """HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY (either case), as urllib reads them:
    {"http": url, "https": url, "all": url, "no": "host,.domain"}."""
    return {k: v for k, v in urllib.request.getproxies_environment().items() if v}


def _proxy_for(url: httpx.URL, proxies: dict[str, str]) -> str | None:
    if not proxies:
        return None
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    if urllib.request.proxy_bypass_environment(host, proxies):
        return None  # NO_PROXY: host, host:port, a domain suffix, or *
    return proxy if "://" in proxy else "http://" + proxy


def _shown_proxy(proxy: str) -> str:
    """The proxy URL without its credentials (which redact learns, in case they show anyway)."""
    u = httpx.URL(proxy)
    if u.password:
        redact.register(u.password)
    return f"{u.scheme}://{u.host}" + (f":{u.port}" if u.port else "")


class _Router(httpx.BaseTransport):
    """Each request goes straight to its origin, or through the proxy the environment names
    for it; every connection either way is made by the deadline backend."""

    def __init__(self, ssl_context: ssl.SSLContext, proxies: dict[str, str]):
        self._ssl, self._proxies = ssl_context, proxies
        self._direct = _deadline_transport(ssl_context)
        self._via: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy = _proxy_for(request.url, self._proxies)
        if proxy is None:
            return self._direct.handle_request(request)
        with self._lock:
            transport = self._via.get(proxy)
            if transport is None:
                transport = self._via[proxy] = _deadline_transport(self._ssl, proxy)
        return transport.handle_request(request)

    def close(self) -> None:
        for t in [self._direct, *self._via.values()]:
            t.close()


def _deadline_transport(ssl_context: ssl.SSLContext, proxy: str | None = None) -> httpx.BaseTransport:
    if proxy is not None:
        p = httpx.Proxy(proxy)
        if p.url.scheme not in ("http", "https"):
            return _Refuse(
                f"the proxy {_shown_proxy(proxy)} (from the environment) is not http:// or https://: "
                "only those are supported"
            )
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False, http2=False)
    # httpx offers no public hook for the network backend; its transport is a thin
    # shell over an httpcore pool, which does.  tests/test_hostile.py (drip) fails
    # if a future httpx stops honouring this.
    if isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        pool = dict(
            ssl_context=ssl_context,
            max_connections=10,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            network_backend=_DeadlineBackend(),
        )
        if proxy is None:
            transport._pool = httpcore.ConnectionPool(**pool)
        else:
            transport._pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(
                    scheme=p.url.raw_scheme, host=p.url.raw_host, port=p.url.port, target=p.url.raw_path
                ),
                proxy_auth=p.raw_auth,
                proxy_headers=p.headers.raw,
                proxy_ssl_context=ssl_context if p.url.scheme == "https" else None,
                **pool,
            )
    return transport


class _Refuse(httpx.BaseTransport):
    def __init__(self, why: str):
        self.why = why

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError(self.why)


def _causes(exc: BaseException):
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1


def _connect_kind(exc: Exception, proxy: str | None) -> str:
    """Which way a connection failed: refused, dns, tls-certificate, tls, proxy, connect."""
    for e in _causes(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return "tls-certificate"
        if isinstance(e, ssl.SSLError):
            return "tls"
        if isinstance(e, socket.gaierror):
            return "dns"
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "proxy" if proxy else "refused"
    text = str(exc).lower()
    if "certificate verify failed" in text:
        return "tls-certificate"
    if "ssl" in text or "tls" in text:
        return "tls"
    if "refused" in text:
        return "proxy" if proxy else "refused"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "dns"
    return "connect"


def _is_reset(exc: Exception) -> bool:
    return (
        any(isinstance(e, ConnectionResetError) or getattr(e, "errno", None) == errno.ECONNRESET for e in _causes(exc))
        or "reset by peer" in str(exc).lower()
    )


def _try_json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
