"""What a test declared about its request (violations.Intent), judged on the answer.

`accept=RULE`: the request is valid, and RULE is the rule that says the server must take
it; any status but 200 breaks RULE.  `refuse=RULE`: the request is invalid, and RULE is
the rule that says it must be refused; a 2xx or 5xx breaks RULE, and so does a 4xx
other than the statuses the catalogue names for RULE (`statuses:` in rules.yaml).
The error body itself is judged by the ERR checks on every error answer (errors.py),
which also read the intent: the field `param` names (ERR-003), the class of the status
(ERR-011), the type of an invalid request's error (ERR-004).

A 429 or 503 is not an answer to the request but "come back later": the client retries
it, and one left after the retries ends the test as an error (CannotJudge).  The intent
is judged on the answer that ends the retries, never on the 429 before it (ERR-006/007
judge the 429 itself).
"""

from __future__ import annotations

import re

from .. import rules as rules_mod
from ..violations import NotJudged, Violation, short
from . import INTENT, check

RETRIED = (429, 503)  # statuses the client retries (client.Client._send)

# Rules whose own text makes naming the offending field part of the refusal ("→ 400 +
# envelope with `param` naming the field"): for them a refusal whose error.param does not
# name the intent's `param` breaks the rule itself.  Everywhere else that is ERR-003's
# business alone (errors.py).
NAMES_PARAM = frozenset({"PARAM-011"})


def answered(ex) -> bool:
    return ex.status is not None and ex.status not in RETRIED


def summary(ex) -> str:
    """An answer in one line: the status and the error message or the body's start."""
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    if isinstance(err, dict):
        return f"HTTP {ex.status}: {short(err.get('message'), 100)}"
    if ex.is_stream:
        return f"HTTP {ex.status}: an event stream of {len(ex.chunks)} chunk(s)"
    return f"HTTP {ex.status}: {short(ex.body[:100].decode('utf-8', 'replace'))}"


def _what(ex) -> str:
    return ex.label or "the request"


def error_object(ex) -> dict | None:
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return err if isinstance(err, dict) else None


_SEGMENT = re.compile(r"[.\[\]]+")


def first_segment(param: str) -> str:
    """`messages.[3].role` -> `messages`; `body.messages.0` -> `body`."""
    parts = [p for p in _SEGMENT.split(param.strip()) if p]
    return parts[0] if parts else ""


def names(got, field: str) -> bool:
    """Whether an error's `param` names the request field `field` (itself, or a place
    inside it: `messages.[0].role` names `messages`)."""
    if not isinstance(got, str):
        return False
    got = got.strip()
    return got == field or got.startswith(field + ".") or got.startswith(field + "[")


# What a refusal says when the prompt is longer than the model's context window: api.openai.com's
# and vLLM's "This model's maximum context length is N tokens", code context_length_exceeded,
# llama.cpp's exceed_context_size_error, llama-cpp-python's "exceed context window".
CONTEXT_OVERFLOW = re.compile(
    r"context[ _](?:length|window|size)|maximum context|context_length_exceeded|exceed_context_size", re.I
)
# No chat model has a context window under 512 tokens, and a token stands for at least one
# byte of the request (messages, and tools rendered into the prompt): a shorter request cannot
# overflow a context, so its refusal is judged.
MIN_OVERFLOW_BYTES = 512


def context_refusal(ex) -> bool:
    """A 400/413 saying the prompt does not fit the model's context window, to a request
    long enough for that to be true (ERR-008's answer, not a refusal of any feature of the
    request)."""
    if ex.status not in (400, 413):
        return False
    err = error_object(ex) or {}
    said = " ".join(str(err.get(k) or "") for k in ("code", "type", "message"))
    return bool(CONTEXT_OVERFLOW.search(said)) and len(ex.request_body or b"") >= MIN_OVERFLOW_BYTES


@check(INTENT, applies=lambda ex: answered(ex) and ex.intent is not None and ex.intent.kind == "accept")
def accepted(ex):
    if context_refusal(ex):
        raise NotJudged("the prompt is longer than the model's context window: refused as ERR-008 asks")
    if ex.status != 200:
        raise Violation(ex.intent.rule, f"HTTP 200 for {_what(ex)} (a valid request)", summary(ex), "status")


def refusal_statuses(rule) -> str:
    return "HTTP " + "/".join(map(str, rule.statuses)) if rule.statuses else "a 4xx"


@check(INTENT, applies=lambda ex: answered(ex) and ex.intent is not None and ex.intent.kind == "refuse")
def refused(ex):
    rule = rules_mod.get(ex.intent.rule)
    wanted = refusal_statuses(rule)
    if not 400 <= ex.status < 500:
        raise Violation(rule.id, f"{wanted} refusing {_what(ex)}", summary(ex), "status")
    if rule.statuses and ex.status not in rule.statuses:
        raise Violation(rule.id, f"{wanted} refusing {_what(ex)} (the status the rule names)", summary(ex), "status")
    err = error_object(ex)
    if rule.id in NAMES_PARAM and ex.intent.param and err is not None and not names(err.get("param"), ex.intent.param):
        raise Violation(rule.id, f"error.param naming {ex.intent.param!r}", short(err.get("param")), "/error/param")
