"""Non-streaming answers: the envelope, usage arithmetic and choice bookkeeping."""
from __future__ import annotations

from .. import schemas
from ..violations import NotJudged, Violation, short
from . import check, generic_pointer, ok_json, ok_stream, req, valid_request


RESPONSE_RULES = schemas.rules_of("response")


@check(*RESPONSE_RULES, applies=ok_json)
def response_schema(ex):
    """The body against schemas/response.schema.json; each error names its rule (x-rule).
    A rule counts as judged only where the body has the node it is about."""
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
    yield NotJudged("the answer has no such field", tuple(set(RESPONSE_RULES) - schemas.exercised("response", [ex.json])))


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


def ok_answer(ex) -> bool:
    return ok_json(ex) or ok_stream(ex)


def _envelopes(ex) -> list[dict]:
    """The objects that carry id/created/model: the body, or every chunk of a stream."""
    if ex.is_stream:
        return [c for c in ex.chunks if isinstance(c, dict) and "error" not in c]
    return [ex.json] if isinstance(ex.json, dict) else []


RECENT = 3600       # seconds: a created farther from the answer's own time is not "now"


@check("RESP-005", "RESP-006", "RESP-022", applies=ok_answer)
def identity(ex):
    """id non-empty; created an integer Unix time in seconds (not milliseconds), near the
    time the answer arrived: judged against the exchange's own clock, so that re-judging
    a recorded run later gives the same verdict."""
    docs = _envelopes(ex)
    if not docs:
        raise NotJudged("no answer object to read")
    where = "chunk[0]" if ex.is_stream else ""
    ids = [d.get("id") for d in docs]
    empty = [i for i, v in enumerate(ids) if isinstance(v, str) and not v]
    if empty:
        yield Violation("RESP-005", "a non-empty id", '""', f"chunk[{empty[0]}]/id" if ex.is_stream else "/id")
    createds = [d.get("created") for d in docs if isinstance(d.get("created"), int) and not isinstance(d.get("created"), bool)]
    if not createds:
        raise NotJudged("no integer created (the schema's business)", ("RESP-006", "RESP-022"))
    created = createds[0]
    if created > 10**11 or created < 0:
        yield Violation("RESP-006", "Unix time in seconds", f"{created} ({'milliseconds?' if created > 10**11 else 'negative'})", f"{where}/created")
    elif ex.at is None:
        yield NotJudged("the time of the answer is not known", ("RESP-022",))
    elif abs(created - ex.at) > RECENT:
        yield Violation("RESP-022", f"a created within {RECENT // 60} minutes of when the answer arrived ({int(ex.at)})",
                        f"{created} ({(created - ex.at) / 3600:+.1f} h)", f"{where}/created")


def _order(ex) -> list:
    if ex.is_stream:
        from .stream import _assembled
        return [{"index": i} for i in _assembled(ex).order]
    return [c for c in ex.json.get("choices") or [] if isinstance(c, dict)] if isinstance(ex.json, dict) else []


@check("RESP-009", "PARAM-008", "STREAM-020", applies=lambda ex: ok_answer(ex) and valid_request(ex))
def choice_count(ex):
    """One choice, index 0, without n; n choices indexed 0..n-1 with it (streamed too)."""
    n = req(ex).get("n")
    many = isinstance(n, int) and not isinstance(n, bool) and n > 1
    yield NotJudged("n > 1 was not requested" if not many else "n > 1 was requested",
                    ("RESP-009",) if many else ("PARAM-008", "STREAM-020"))
    if not (many and ex.is_stream):
        yield NotJudged("not a stream with n > 1", ("STREAM-020",))
    if isinstance(ex.json, dict) and not isinstance(ex.json.get("choices"), list) and not ex.is_stream:
        raise NotJudged("no choices array (the schema's business)")
    rule = ("STREAM-020" if ex.is_stream else "PARAM-008") if many else "RESP-009"
    yield from choice_indexes(_order(ex), req(ex), "stream" if ex.is_stream else "", rule)


def _usage(ex):
    if ex.is_stream:
        from .stream import _assembled
        a = _assembled(ex)
        if not a.usage_chunks:
            return None, "", False
        pos, usage = a.usage_chunks[-1]
        return usage, f"chunk[{pos}]/usage", any((c.text or c.tool_calls) for c in a.choices.values())
    body = ex.json if isinstance(ex.json, dict) else {}
    return body.get("usage"), "/usage", _generated(body.get("choices") or [])


@check("RESP-017", "RESP-018", "RESP-019", applies=lambda ex: ok_answer(ex) and valid_request(ex))
def usage_arithmetic(ex):
    """The usage object, of a plain answer or of a stream's usage chunk, adds up."""
    usage, where, generated = _usage(ex)
    if not isinstance(usage, dict):
        raise NotJudged("no usage object")
    yield from usage_violations(usage, where, True, generated)
    if not isinstance(usage.get("prompt_tokens_details"), dict) and not isinstance(usage.get("completion_tokens_details"), dict):
        yield NotJudged("no token details", ("RESP-019",))


def choice_indexes(choices: list, request: dict, prefix: str, rule: str | None = None):
    n = request.get("n")
    indexes = [c.get("index") for c in choices if isinstance(c, dict)]
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        if sorted(i for i in indexes if isinstance(i, int)) != list(range(n)) or len(indexes) != n:
            yield Violation(rule or "PARAM-008", f"n={n} choices with indexes 0..{n - 1}", f"indexes {indexes}", f"{prefix}/choices")
    else:
        if len(choices) != 1 or indexes != [0]:
            yield Violation(rule or "RESP-009", "exactly one choice with index 0 (no n requested)", f"{len(choices)} choice(s), indexes {indexes}", f"{prefix}/choices")
