"""Non-streaming answers: the envelope, usage arithmetic and choice bookkeeping."""
from __future__ import annotations

import time

from .. import schemas
from ..violations import Violation, short
from . import check, generic_pointer, ok_json, req, valid_request


@check("RESP-001", applies=ok_json)
def response_schema(ex):
    if ex.truncated:
        raise Violation("RESP-001", "a complete JSON body", f"the body was cut: {ex.truncated}", "body")
    if ex.json_error or not isinstance(ex.json, dict):
        raise Violation("RESP-001", "a JSON object body", f"{ex.json_error or type(ex.json).__name__}: "
                        f"{short(ex.body[:120].decode('utf-8', 'replace'))}", "body")
    reported = set()
    for err in schemas.errors("response", ex.json):
        # One report per rule and place: 129 choices with the same fault say no more than one.
        key = (err.rule, generic_pointer(err.pointer))
        if key not in reported:
            reported.add(key)
            yield Violation(err.rule, "valid per the response schema", f"{err.message}", err.pointer)


def usage_violations(usage, where: str, prompt_nonempty: bool = True, generated: bool | None = None):
    """RESP-017/018/019 on one usage object (non-stream body or final stream chunk)."""
    if not isinstance(usage, dict):
        return
    p, c, t = usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
    ints = all(isinstance(x, int) and not isinstance(x, bool) for x in (p, c, t))
    if not ints:
        return                          # types are the schema's business (RESP-016)
    if t != p + c:
        yield Violation("RESP-017", f"total_tokens == prompt_tokens + completion_tokens ({p} + {c} = {p + c})", str(t), f"{where}/total_tokens")
    if min(p, c, t) < 0:
        yield Violation("RESP-018", "token counts >= 0", short(usage), where)
    if prompt_nonempty and p < 1:
        yield Violation("RESP-018", "prompt_tokens >= 1 for a non-empty prompt", str(p), f"{where}/prompt_tokens")
    if generated and c < 1:
        yield Violation("RESP-018", "completion_tokens >= 1 when text was generated", str(c), f"{where}/completion_tokens")
    for parent, details in (("prompt_tokens", "prompt_tokens_details"), ("completion_tokens", "completion_tokens_details")):
        d = usage.get(details)
        if isinstance(d, dict):
            for k, v in d.items():
                if isinstance(v, int) and not isinstance(v, bool) and v > usage[parent]:
                    yield Violation("RESP-019", f"{details}.{k} <= {parent} ({usage[parent]})", str(v), f"{where}/{details}/{k}")


def _generated(choices) -> bool:
    for ch in choices:
        if isinstance(ch, dict) and isinstance(ch.get("message"), dict):
            m = ch["message"]
            if m.get("content") or m.get("tool_calls"):
                return True
    return False


@check("RESP-005", "RESP-006", "RESP-009", "RESP-017", "RESP-018", "RESP-019", "PARAM-008", applies=ok_json)
def response_bookkeeping(ex):
    body = ex.json
    if not isinstance(body, dict):
        return
    if isinstance(body.get("id"), str) and not body["id"]:
        yield Violation("RESP-005", "a non-empty id", '""', "/id")
    created = body.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        if created > 10**11:
            yield Violation("RESP-006", "Unix time in seconds", f"{created} (milliseconds?)", "/created")
        elif abs(created - time.time()) > 600:
            yield Violation("RESP-006", "a Unix time within 10 minutes of the suite's clock", str(created), "/created")
    choices = body.get("choices")
    if isinstance(choices, list) and valid_request(ex):
        yield from choice_indexes(choices, req(ex), "")
        yield from usage_violations(body.get("usage"), "/usage", True, _generated(choices))


def choice_indexes(choices: list, request: dict, prefix: str):
    n = request.get("n")
    indexes = [c.get("index") for c in choices if isinstance(c, dict)]
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        if sorted(i for i in indexes if isinstance(i, int)) != list(range(n)) or len(indexes) != n:
            yield Violation("PARAM-008", f"n={n} choices with indexes 0..{n - 1}", f"indexes {indexes}", f"{prefix}/choices")
    else:
        if len(choices) != 1 or indexes != [0]:
            yield Violation("RESP-009", "exactly one choice with index 0 (no n requested)", f"{len(choices)} choice(s), indexes {indexes}", f"{prefix}/choices")
