"""Every error answer, whatever provoked it, is the JSON error envelope (ERR-001/002)."""
from __future__ import annotations

from .. import schemas
from ..violations import NotJudged, Violation, short
from . import check, is_error


@check("ERR-001", "ERR-002", "ERR-006", applies=is_error)
def error_envelope(ex):
    if ex.status != 429:
        yield NotJudged("not a 429", ("ERR-006",))
    if ex.media_type != "application/json" and not ex.media_type.endswith("+json"):
        yield Violation("ERR-001", "an error body with Content-Type application/json",
                        f"{ex.headers.get('content-type')!r}: {short(ex.body[:120].decode('utf-8', 'replace'))}", "headers/content-type")
    if ex.json_error or ex.json is None:
        yield Violation("ERR-001", 'a JSON body {"error": {...}}', f"unparsable body {short(ex.body[:120].decode('utf-8', 'replace'))}", "body")
        return
    for err in schemas.errors("error", ex.json):
        yield Violation(err.rule, _expected(err), f"{err.message}", err.pointer)
    if ex.status == 429 and "retry-after" in ex.headers:
        value = ex.headers["retry-after"].strip()
        if not (value.isdigit() and int(value) >= 1):
            yield Violation("ERR-006", "Retry-After: an integer >= 1", repr(value), "headers/retry-after")


def _expected(err) -> str:
    return 'the envelope {"error": {"message": str, "type": str, "param": str|null, "code": str|null}}'
