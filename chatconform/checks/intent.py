"""What a test declared about its request (violations.Intent), judged on the answer.

`accept=RULE`: the request is valid, and RULE is the rule that says the server must take
it; any status but 200 breaks RULE.  `refuse=RULE`: the request is invalid, and RULE is
the rule that says it must be refused; a 2xx or 5xx breaks RULE, and so does a 4xx
other than the statuses the catalogue names for RULE (`statuses:` in rules.yaml).
The error body itself is judged by the ERR checks on every error answer.
"""
from __future__ import annotations

from .. import rules as rules_mod
from ..violations import Violation, short
from . import INTENT, check


def answered(ex) -> bool:
    return ex.status is not None


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


@check(INTENT, applies=lambda ex: answered(ex) and ex.intent is not None and ex.intent.kind == "accept")
def accepted(ex):
    if ex.status != 200:
        raise Violation(ex.intent.rule, f"HTTP 200 for {_what(ex)} (a valid request)", summary(ex), "status")


@check(INTENT, applies=lambda ex: answered(ex) and ex.intent is not None and ex.intent.kind == "refuse")
def refused(ex):
    rule = rules_mod.get(ex.intent.rule)
    statuses = rule.statuses
    wanted = "/".join(map(str, statuses)) if statuses else "a 4xx"
    if not 400 <= ex.status < 500:
        raise Violation(rule.id, f"HTTP {wanted} refusing {_what(ex)}", summary(ex), "status")
    if statuses and ex.status not in statuses:
        raise Violation(rule.id, f"HTTP {wanted} refusing {_what(ex)} (the status the rule names)", summary(ex), "status")
