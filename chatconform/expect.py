"""Assertion helpers for suite tests: each raises a Violation naming its rule."""
from __future__ import annotations

from .client import Exchange
from .violations import Violation, short


def error_field(ex: Exchange, name: str):
    """error.<name> of an error answer, or None when the body is not the envelope (a
    string `error`, HTML, ...): the envelope itself is judged by ERR-001/002."""
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return err.get(name) if isinstance(err, dict) else None


def _error_summary(ex: Exchange) -> str:
    if isinstance(ex.json, dict) and isinstance(ex.json.get("error"), dict):
        return f"HTTP {ex.status}: {short(ex.json['error'].get('message'), 100)}"
    return f"HTTP {ex.status}: {short(ex.body[:100].decode('utf-8', 'replace'))}"


def ok(ex: Exchange, rule: str, what: str = "the request") -> Exchange:
    """The server must answer 200: `rule` says this request is valid."""
    if ex.status != 200:
        raise Violation(rule, f"HTTP 200 for {what}", _error_summary(ex), "status", ex)
    return ex


def rejected(ex: Exchange, rule: str, what: str, statuses: tuple[int, ...] = (400,), param: str | None = None,
             recorder=None) -> Exchange:
    """The server must refuse an invalid request with a 4xx error envelope.

    `statuses` are the preferred codes; any other 4xx is accepted and noted, a 2xx or
    5xx is a violation.  When `param` is given, naming another field is noted (ERR-003).
    """
    if ex.status is None or ex.status < 400 or ex.status >= 500:
        raise Violation(rule, f"HTTP {'/'.join(map(str, statuses))} (a 4xx) for {what}", _error_summary(ex), "status", ex)
    if recorder is not None:
        if ex.status not in statuses:
            recorder.note(rule, f"{what}: answered HTTP {ex.status} (preferred {'/'.join(map(str, statuses))})")
        if param and isinstance(ex.json, dict) and isinstance(ex.json.get("error"), dict):
            got = ex.json["error"].get("param")
            if got is None or param not in str(got):
                recorder.note("ERR-003", f"{what}: error.param is {got!r}, expected it to name {param!r}")
    return ex


def field(ex: Exchange, rule: str, value, expected: str, ok_: bool, where: str) -> None:
    if not ok_:
        raise Violation(rule, expected, short(value), where, ex)


def once(recorder, v: Violation) -> None:
    """Raise `v` unless the observer already recorded this rule on this exchange: the
    test fails either way, and the report names the fault once."""
    if any(o.rule == v.rule and o.exchange is v.exchange for o in recorder.violations):
        return
    raise v
