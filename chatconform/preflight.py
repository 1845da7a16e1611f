"""Before any test: can this target be judged at all?

One minimal chat request (a token limit of 1) tells a target that answers from one
that cannot be judged: nothing listens, the port does not speak HTTP, TLS fails, no
answer comes in time (or one that never ends), the key is refused, the chat path is
not there, the model is unknown, or a gateway / the server's own load turns every
request away.  Then the run stops before its first test with one message naming the
cause and the fix, and exit status 6 (EXIT_UNUSABLE, "target unusable"), instead of
hundreds of errors.  A conformance fault (a malformed body, a wrong field, a 500) is
never a reason: the suite is there to judge those.

More is sent only to explain a failure: the same request with `max_tokens` when the
target refuses `max_completion_tokens` by name (the field it takes is then
`Preflight.token_field`, and the Target's), the chat path with `/v1` appended after a
404, and `GET {base}/models` for an unknown model.

The preflight request is bounded like any other (client.py), with a deadline of
timeouts.connect + timeouts.read instead of timeouts.total: a one-token answer comes
at once, so a server that dribbles it, or never ends it, is judged within about the
read timeout.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import redact
from .client import Client, Exchange
from .targets import Target
from .violations import CannotJudge

EXIT_UNUSABLE = 6
MAX_LINES = 18  # the message; pytest adds two lines of its own (exit): 20 in all
TOKEN_FIELDS = ("max_completion_tokens", "max_tokens")
_MODEL_WORDS = re.compile(
    r"(?i)\bmodel\b.{0,80}\b(not found|does not exist|doesn't exist|not exist|unknown|no such|"
    r"not available|not supported|not loaded|not served|invalid)\b|\b(unknown|invalid|unsupported) model\b"
)


@dataclass
class Preflight:
    """What the preflight found: data first (results.json `run.preflight`), the message rendered from it."""

    usable: bool
    cause: str | None = None  # refused, dns, connect, proxy, not-http, tls-certificate, tls, timeout,
    # stalled, never-ends, auth, not-found, unknown-model, rate-limited,
    # overloaded, gateway; None when usable
    summary: str = ""  # the cause in one line
    details: list[str] = field(default_factory=list)  # what was seen
    fix: list[str] = field(default_factory=list)  # what to do about it
    token_field: str | None = None  # the token-limit field the target takes (None: not established)
    notes: list[str] = field(default_factory=list)  # for a usable target: what the suite may want to know
    requests: list[dict] = field(default_factory=list)  # what was sent: method, url, label, status or error, seconds
    elapsed: float = 0.0

    def record(self) -> dict:
        return redact.deep(dataclasses.asdict(self))

    def message(self, target: Target) -> str:
        """The one message for an unusable target, at most MAX_LINES lines."""
        first = self.requests[0] if self.requests else {}
        lines = [
            f"chatconform: the target {target.name} cannot be judged: {self.summary}",
            f"  sent:  {first.get('method', 'POST')} {first.get('url', target.chat_url)} "
            f"(model {target.model!r}, a token limit of 1){_answer(first)}",
        ]
        lines += [f"  seen:  {d}" for d in self.details]
        lines += [f"  {'fix:  ' if i == 0 else '      '} {f}" for i, f in enumerate(self.fix)]
        tail = (
            f"  no test was run ({len(self.requests)} preflight request(s), {self.elapsed:.1f}s); "
            f"exit status {EXIT_UNUSABLE}: target unusable (--no-preflight skips this check)"
        )
        lines = [_clip(x) for x in lines]
        if len(lines) + 1 > MAX_LINES:
            lines = lines[: MAX_LINES - 2] + ["  …"]
        return redact.text("\n".join(lines + [tail]))


def _answer(req: dict) -> str:
    if req.get("status") is not None:
        return f" -> HTTP {req['status']}"
    return ""


def _clip(line: str, width: int = 300) -> str:
    line = line.replace("\r", " ").replace("\n", " ")
    return line if len(line) <= width else line[: width - 1] + "…"


def run(target: Target) -> Preflight:
    """Judge whether `target` can be judged; sends as little as the diagnosis needs."""
    return _Preflight(target).run()


class _Preflight:
    def __init__(self, target: Target):
        self.target = target
        t = target.timeouts
        # A one-token answer comes at once: a trickle or an endless answer is judged within
        # the read timeout, not the total one meant for whole streams.
        self.probe = dataclasses.replace(target, timeouts={**t, "total": min(t["total"], t["connect"] + t["read"])})
        self.client = Client(self.probe)
        self.result = Preflight(usable=True)
        self.t0 = time.monotonic()

    # -- sending ------------------------------------------------------------------------------
    def send(
        self,
        body: Any = None,
        *,
        base: str | None = None,
        path: str = "/chat/completions",
        method: str = "POST",
        label: str = "preflight",
    ) -> Exchange:
        client = self.client
        if base is not None:
            client = Client(dataclasses.replace(self.probe, base_url=base))
        try:
            ex = client.chat(
                body,
                path=path,
                method=method,
                label=label,
                content_type="application/json" if body is not None else None,
            )
        except CannotJudge as exc:
            ex = exc.exchange
        finally:
            if client is not self.client:
                client.close()
        self.result.requests.append(
            {
                "method": ex.method,
                "url": redact.text(ex.url),
                "label": label,
                "status": ex.status,
                "error": redact.text(ex.transport_error or ex.truncated or "") or None,
                "error_kind": ex.error_kind,
                "proxy": ex.proxy,
                "seconds": round(ex.elapsed, 3),
                "retried": ex.retried,
            }
        )
        return ex

    def chat_body(self, token_field: str) -> dict:
        return {"model": self.target.model, "messages": [{"role": "user", "content": "Say OK."}], token_field: 1}

    # -- the diagnosis --------------------------------------------------------------------------
    def run(self) -> Preflight:
        try:
            self._run()
        finally:
            self.client.close()
            self.result.elapsed = round(time.monotonic() - self.t0, 3)
        return self.result

    def _run(self) -> None:
        # The field the target is configured with (token_limit_field), else the current one.
        field = self.target.token_field or "max_completion_tokens"
        ex = self.send(self.chat_body(field))
        if self._unusable_transport(ex):
            return
        if ex.status is not None and 200 <= ex.status < 300:
            self.result.token_field = field
            return
        if (
            field == "max_completion_tokens"
            and _refuses_field(ex, "max_completion_tokens")
            and not _about_model(ex, self.target.model)
        ):
            first = ex
            ex = self.send(self.chat_body("max_tokens"), label="preflight: max_tokens")
            if self._unusable_transport(ex):
                return
            if ex.status is not None and 200 <= ex.status < 300:
                self.result.token_field = "max_tokens"
                self.result.notes.append(
                    f"the target refused max_completion_tokens (HTTP {first.status}: "
                    f"{_error_text(first)}) and took max_tokens"
                )
                return
            if _refuses_field(ex, "max_tokens"):
                self.result.notes.append(
                    "the target refused both max_completion_tokens and max_tokens by name "
                    "(a conformance fault the suite judges)"
                )
                return
        self._judge_status(ex)

    def _unusable(self, cause: str, summary: str, details=(), fix=()) -> bool:
        r = self.result
        r.usable, r.cause, r.summary = False, cause, summary
        r.details, r.fix = [redact.text(d) for d in details], [redact.text(f) for f in fix]
        return True

    def _where_url(self) -> str:
        t = self.target
        return "--base-url" if t.source == "command line" else f"targets.{t.name}.base_url in {t.source}"

    def _unusable_transport(self, ex: Exchange) -> bool:
        """A request that got no usable answer: the cause, named by the client's error_kind."""
        kind, t = ex.error_kind, self.target.timeouts
        if not ex.transport_error and kind not in ("deadline", "event-cap"):
            return False  # an answer (perhaps cut by the size cap: judged as a fault)
        parts = urlsplit(ex.url)
        hostport = parts.netloc.rsplit("@", 1)[-1]
        err = _short_error(ex.transport_error or ex.truncated or "")
        via = f" through the proxy {ex.proxy}" if ex.proxy else ""
        proxy_fix = [f"or reach it without the proxy: add {parts.hostname} to NO_PROXY"] if ex.proxy else []
        if kind == "refused":
            return self._unusable(
                "refused",
                f"connection refused at {hostport}",
                [f"nothing accepts connections on {hostport}"],
                [f"start the server, or correct the host and port in {self._where_url()}"],
            )
        if kind == "proxy":
            return self._unusable(
                "proxy",
                f"the proxy {ex.proxy} failed",
                [err],
                ["check the proxy settings (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY)", *proxy_fix],
            )
        if kind == "dns":
            return self._unusable(
                "dns",
                f"the host name {parts.hostname} does not resolve",
                [err],
                [f"correct the host in {self._where_url()}, or check DNS"],
            )
        if kind == "tls-certificate":
            why = _cert_problem(ex.transport_error or "")
            trusted = (
                f"--ca-bundle / ca_bundle {self.target.ca_bundle}"
                if self.target.ca_bundle
                else f"SSL_CERT_FILE={os.environ['SSL_CERT_FILE']}"
                if os.environ.get("SSL_CERT_FILE")
                else f"SSL_CERT_DIR={os.environ['SSL_CERT_DIR']}"
                if os.environ.get("SSL_CERT_DIR")
                else "certifi's public CA bundle"
            )
            fix = [
                "pass the CA certificate that signed the server's (PEM): --ca-bundle FILE, "
                "`ca_bundle: FILE` in targets.yaml, or SSL_CERT_FILE=FILE"
            ]
            if "hostname" in why.lower() or "ip address mismatch" in why.lower():
                fix = [f"use the host name the certificate was issued for in {self._where_url()}"] + fix
            return self._unusable(
                "tls-certificate",
                f"TLS: a certificate problem ({why})",
                [f"the server's certificate is not trusted; trusted now: {trusted}"],
                fix,
            )
        if kind == "tls":
            fix = ["check that the port serves https (TLS), and the TLS versions both sides allow"]
            if re.search(r"(?i)wrong.version.number|record.layer.failure|packet.length.too.long|unknown.protocol", err):
                fix = [f"the port seems to speak plain HTTP: use http:// in {self._where_url()}"]
            return self._unusable("tls", "TLS handshake failed (not a certificate problem)", [err], fix)
        if kind == "connect":
            return self._unusable(
                "connect",
                f"cannot connect to {hostport}{via}",
                [err],
                [f"check the host and port in {self._where_url()} and the network between"],
            )
        if kind == "connect-timeout":
            return self._unusable(
                "timeout",
                f"no connection within {t['connect']:g}s (timeouts.connect){via}",
                [
                    f"{hostport} did not accept the connection: a firewall dropping packets, a wrong "
                    "host, or a server too busy to accept"
                ],
                ["check the host and port; a slow network: --connect-timeout SECONDS", *proxy_fix],
            )
        if kind in ("read-timeout", "write-timeout"):
            return self._unusable(
                "timeout",
                f"unresponsive: no answer within {t['read']:g}s (the read timeout){via}",
                [f"{hostport} accepted the connection and the request, then sent nothing"],
                [
                    "if the server is only slow (a model still loading, CPU inference), give it more "
                    "time: --timeout SECONDS (targets.yaml timeouts.read); else it hangs: restart it"
                ],
            )
        if kind == "stalled":
            return self._unusable(
                "stalled",
                f"unresponsive: HTTP {ex.status} headers arrived, then the body stalled",
                [f"{len(ex.body)} bytes of body, then nothing for {t['read']:g}s (the read timeout)"],
                [
                    "if the server is only slow, give it more time: --timeout SECONDS "
                    "(targets.yaml timeouts.read); else it hangs mid-answer: restart it"
                ],
            )
        if kind in ("deadline", "event-cap"):
            limit = self.probe.timeouts["total"]
            what = (
                f"headers still arriving after {limit:g}s"
                if ex.status is None
                else f"more than {self.target.limits['max_events']} SSE events"
                if kind == "event-cap"
                else f"HTTP {ex.status}: {len(ex.body)} bytes in {ex.elapsed:.0f}s, the answer still arriving"
            )
            return self._unusable(
                "never-ends",
                "unresponsive: the answer to a one-token request never ends",
                [f"{what} (a trickle, or an endless stream)"],
                [
                    "a whole one-token answer must arrive within the connect + read timeouts "
                    f"({limit:g}s): a server that slow needs --timeout SECONDS"
                ],
            )
        if kind == "run-time-limit":
            return self._unusable(
                "timeout", "the run's time limit ran out during the preflight", [err], ["raise --max-time"]
            )
        # protocol, reset, dropped, other: something answered, but not in HTTP.
        tls = "\\x15\\x03" in (ex.transport_error or "") or "\\x16\\x03" in (ex.transport_error or "")
        fix = (
            [f"the port speaks TLS: use https:// in {self._where_url()}"]
            if tls
            else [
                f"check the port in {self._where_url()}: it must be the server's HTTP port",
                "if the port serves https, use https://",
            ]
            if parts.scheme == "http"
            else [f"check the port in {self._where_url()}: it must be the server's HTTPS port"]
        )
        return self._unusable("not-http", f"the port {hostport} does not speak HTTP", [err], fix)

    def _judge_status(self, ex: Exchange) -> None:
        status, t = ex.status, self.target
        if status in (401, 403):
            return self._auth(ex)
        if status in (404, 405) or (status in (400, 422) and _about_model(ex, t.model)):
            if _about_model(ex, t.model):
                return self._unknown_model(ex)
            return self._not_found(ex)
        if status == 429:
            return self._unusable(
                "rate-limited",
                f"HTTP 429 (rate limited), still after {int(t.retries.get('max', 2))} retries",
                [_error_text(ex)],
                ["wait and run again; pace the run: rate_limit.requests_per_minute in targets.yaml"],
            )
        if status == 503:
            return self._unusable(
                "overloaded",
                f"HTTP 503 (unavailable), still after {int(t.retries.get('max', 2))} retries",
                [_error_text(ex)],
                [
                    "the server is overloaded or still loading its model: wait until it answers, or "
                    "give it time with retries.max_wait / retries.max in targets.yaml"
                ],
            )
        if status in (502, 504):
            who = f"the proxy {ex.proxy}" if ex.proxy else "a gateway in front of the server"
            return self._unusable(
                "gateway",
                f"HTTP {status} from {who}: the server behind it did not answer",
                [_error_text(ex)],
                [
                    "start or fix the server behind the gateway"
                    + (f"; or reach it directly: add {urlsplit(ex.url).hostname} to NO_PROXY" if ex.proxy else "")
                ],
            )
        # Anything else (another 4xx, a 500, a malformed 200) is an answer the suite judges.
        if status is not None and not 200 <= status < 300:
            self.result.notes.append(f"the minimal request got HTTP {status}: {_error_text(ex)} (judged by the tests)")

    def _auth(self, ex: Exchange) -> None:
        t = self.target
        var = t.api_key_env
        if var and var not in os.environ:
            key, fix = f"the key's environment variable {var} is unset: no key was sent", [f"export {var}=<your key>"]
        elif var and not os.environ[var]:
            key, fix = (
                f"the key's environment variable {var} is set but empty: no key was sent",
                [f"export {var}=<your key>"],
            )
        elif var:
            key = f"the key from the environment variable {var} was sent, and refused"
            fix = [
                f"put a valid key for this server in {var}"
                + (f", one with access to the model {t.model!r}" if ex.status == 403 else "")
            ]
        elif t.api_key:
            key, fix = "the configured key was sent, and refused", ["configure a valid key for this server"]
        else:
            key = "no API key is configured: none was sent"
            fix = [
                "export MY_KEY=<your key>, then "
                + (
                    "--api-key-env MY_KEY"
                    if t.source == "command line"
                    else f"`api_key: ${{MY_KEY}}` in targets.{t.name} ({t.source})"
                )
            ]
        creds = sorted(k for k in t.headers if k.lower() in ("authorization", "api-key", "x-api-key", "cookie"))
        if creds:
            key += f"; credential headers from the targets file also went: {', '.join(creds)}"
        what = "unauthorized" if ex.status == 401 else "forbidden"
        sent = "the key was refused" if "refused" in key else "no key was sent"
        self._unusable("auth", f"HTTP {ex.status} ({what}): {sent}", [key, f"the server said: {_error_text(ex)}"], fix)

    def _not_found(self, ex: Exchange) -> None:
        base = self.target.base_url.rstrip("/")
        details = [f"the server said: {_error_text(ex)}"]
        if base.endswith("/chat/completions"):
            other = base[: -len("/chat/completions")]
            hint = "the base URL must not end with /chat/completions: the suite appends it"
        elif not re.search(r"/v\d+$", base):
            other = base + "/v1"
            hint = "the base URL lacks the /v1 suffix most servers serve under"
        else:
            other, hint = None, ""
        fix = []
        if other:
            ex2 = self.send(
                self.chat_body(self.result.token_field or "max_completion_tokens"),
                base=other,
                label="preflight: other base URL",
            )
            answers = ex2.status is not None and (ex2.status not in (404, 405) or _about_model(ex2, self.target.model))
            if answers:
                details.append(f"{other}/chat/completions answers (HTTP {ex2.status}): {hint}")
                fix.append(f"use {other} as the base URL ({self._where_url()})")
            else:
                got = (
                    f"HTTP {ex2.status}" if ex2.status is not None else _short_error(ex2.transport_error or "no answer")
                )
                details.append(f"{other}/chat/completions does not answer either ({got})")
        if not fix:
            fix.append(
                f"find the path the server serves chat completions under (e.g. /v1, /api/v1, /openai/v1) "
                f"and put the part before /chat/completions in {self._where_url()}"
            )
        self._unusable("not-found", f"HTTP {ex.status}: no chat completions at {ex.url}", details, fix)

    def _unknown_model(self, ex: Exchange) -> None:
        t = self.target
        details = [f"the server said: {_error_text(ex)}"]
        ex2 = self.send(None, method="GET", path="/models", label="preflight: models")
        ids = _model_ids(ex2)
        if ids:
            shown = ", ".join(ids[:10]) + (f" … ({len(ids)} in all)" if len(ids) > 10 else "")
            details.append(f"GET {t.base_url.rstrip('/')}/models offers: {shown}")
            fix = [
                "use one of those: "
                + ("--model ID" if t.source == "command line" else f"model: ID in targets.{t.name} ({t.source})")
            ]
        else:
            got = f"HTTP {ex2.status}" if ex2.status is not None else _short_error(ex2.transport_error or "no answer")
            details.append(f"GET {t.base_url.rstrip('/')}/models did not list models ({got})")
            fix = ["use a model id the server serves (see its documentation or its startup log)"]
        self._unusable("unknown-model", f"the target does not know the model {t.model!r}", details, fix)


# -- reading answers ------------------------------------------------------------------------------
def _error_text(ex: Exchange, limit: int = 200) -> str:
    """The server's error message (the envelope's, else the body's start), one line."""
    msg = None
    if isinstance(ex.json, dict):
        err = ex.json.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            msg = err["message"]
        elif isinstance(err, str):
            msg = err
        elif isinstance(ex.json.get("detail"), (str, list)):
            msg = json.dumps(ex.json["detail"]) if isinstance(ex.json["detail"], list) else ex.json["detail"]
        elif isinstance(ex.json.get("message"), str):
            msg = ex.json["message"]
    if msg is None:
        msg = ex.body[:limit].decode("utf-8", "replace").strip() or "(empty body)"
    return _clip(redact.text(msg), limit)


def _short_error(text: str) -> str:
    return _clip(redact.text(text), 240)


def _body_text(ex: Exchange) -> str:
    return ex.body[:8192].decode("utf-8", "replace")


def _refuses_field(ex: Exchange, name: str) -> bool:
    """A 4xx (not auth, not 404) whose error names the token-limit field `name`."""
    return ex.status in (400, 422) and name in _body_text(ex)


def _about_model(ex: Exchange, model: str) -> bool:
    """Whether an error answer is about the requested model (unknown, not served)."""
    if ex.status is None or ex.status < 400:
        return False
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    if isinstance(err, dict):
        if err.get("code") in ("model_not_found", "invalid_model", "unknown_model") or err.get("param") == "model":
            return True
    text = _body_text(ex)
    if model and len(model) >= 2 and re.search(r"[`'\"]" + re.escape(model) + r"[`'\"]", text):
        return True
    return bool(_MODEL_WORDS.search(text))


def _model_ids(ex: Exchange) -> list[str]:
    data = ex.json.get("data") if isinstance(ex.json, dict) else ex.json if isinstance(ex.json, list) else None
    if not isinstance(data, list):
        data = ex.json.get("models") if isinstance(ex.json, dict) else None
    ids = []
    for m in data or []:
        mid = (
            m.get("id") or m.get("name") or m.get("model") if isinstance(m, dict) else m if isinstance(m, str) else None
        )
        if isinstance(mid, str):
            ids.append(redact.text(mid)[:100])
    return ids


def _cert_problem(text: str) -> str:
    m = re.search(r"certificate verify failed:\s*([^(]+)", text)
    return m.group(1).strip() if m else "the certificate could not be verified"
