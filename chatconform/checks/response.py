"""Non-streaming answers: the envelope, usage arithmetic and choice bookkeeping."""

from __future__ import annotations

from .. import schemas
from ..violations import Note, NotJudged, Violation, short
from . import check, generic_pointer, is_int, ok_json, ok_stream, relation, req, valid_request


RESPONSE_RULES = schemas.rules_of("response")


@check(*RESPONSE_RULES, applies=ok_json)
def response_schema(ex):
    """The body against schemas/response.schema.json; each error names its rule (x-rule).
    A rule counts as judged only where the body has the node it is about."""
    if ex.truncated:
        raise Violation("RESP-001", "a complete JSON body", f"the body was cut: {ex.truncated}", "body")
    if ex.json_error or not isinstance(ex.json, dict):
        raise Violation(
            "RESP-001",
            "a JSON object body",
            f"{ex.json_error or type(ex.json).__name__}: {short(ex.body[:120].decode('utf-8', 'replace'))}",
            "body",
        )
    reported = set()
    for err in schemas.errors("response", ex.json):
        # One report per rule and place: 129 choices with the same fault say no more than one.
        key = (err.rule, generic_pointer(err.pointer))
        if key not in reported:
            reported.add(key)
            yield Violation(err.rule, "valid per the response schema", f"{err.message}", err.pointer)
    yield NotJudged(
        "the answer has no such field", tuple(set(RESPONSE_RULES) - schemas.exercised("response", [ex.json]))
    )


def usage_violations(usage, where: str, prompt_nonempty: bool = True, generated: bool | None = None):
    """RESP-017/018/019 on one usage object (non-stream body or final stream chunk)."""
    if not isinstance(usage, dict):
        return
    p, c, t = usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
    ints = all(isinstance(x, int) and not isinstance(x, bool) for x in (p, c, t))
    if not ints:
        return  # types are the schema's business (RESP-016)
    if t != p + c:
        yield Violation(
            "RESP-017",
            f"total_tokens == prompt_tokens + completion_tokens ({p} + {c} = {p + c})",
            str(t),
            f"{where}/total_tokens",
        )
    if min(p, c, t) < 0:
        yield Violation("RESP-018", "token counts >= 0", short(usage), where)
    if prompt_nonempty and p < 1:
        yield Violation("RESP-018", "prompt_tokens >= 1 for a non-empty prompt", str(p), f"{where}/prompt_tokens")
    if generated and c < 1:
        yield Violation(
            "RESP-018", "completion_tokens >= 1 when text was generated", str(c), f"{where}/completion_tokens"
        )
    for parent, details in (
        ("prompt_tokens", "prompt_tokens_details"),
        ("completion_tokens", "completion_tokens_details"),
    ):
        d = usage.get(details)
        if isinstance(d, dict):
            for k, v in d.items():
                if isinstance(v, int) and not isinstance(v, bool) and v > usage[parent]:
                    yield Violation(
                        "RESP-019", f"{details}.{k} <= {parent} ({usage[parent]})", str(v), f"{where}/{details}/{k}"
                    )


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _choices(body) -> list[dict]:
    """The choices of an answer body that have a message object (none when the body is malformed)."""
    body = body if isinstance(body, dict) else {}
    return [ch for ch in _list(body.get("choices")) if isinstance(ch, dict) and isinstance(ch.get("message"), dict)]


def _generated(choices) -> bool:
    for ch in _list(choices):
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


RECENT = 3600  # seconds: a created farther from the answer's own time is not "now"


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
    createds = [
        d.get("created") for d in docs if isinstance(d.get("created"), int) and not isinstance(d.get("created"), bool)
    ]
    if not createds:
        raise NotJudged("no integer created (the schema's business)", ("RESP-006", "RESP-022"))
    created = createds[0]
    if created > 10**11 or created < 0:
        yield Violation(
            "RESP-006",
            "Unix time in seconds",
            f"{created} ({'milliseconds?' if created > 10**11 else 'negative'})",
            f"{where}/created",
        )
    elif ex.at is None:
        yield NotJudged("the time of the answer is not known", ("RESP-022",))
    elif abs(created - ex.at) > RECENT:
        yield Violation(
            "RESP-022",
            f"a created within {RECENT // 60} minutes of when the answer arrived ({int(ex.at)})",
            f"{created} ({(created - ex.at) / 3600:+.1f} h)",
            f"{where}/created",
        )


@check("RESP-007", applies=lambda ex: ok_json(ex) and isinstance(ex.json, dict) and "model" in ex.json)
def model_named(ex):
    """model is a non-empty string (its type is the schema's business); a resolved
    version of the requested alias is fine, and noted."""
    named, asked = ex.json["model"], req(ex).get("model")
    if isinstance(named, str) and not named.strip():
        raise Violation("RESP-007", "a non-empty model naming the model used", repr(named), "/model")
    if isinstance(asked, str) and isinstance(named, str) and named != asked:
        yield Note("RESP-007", f"requested {asked!r}, answered by {named!r}")


@relation("RESP-005")
def distinct_ids(*exchanges):
    """Two completions have different ids ("a unique identifier")."""
    ids = []
    for ex in exchanges:
        docs = _envelopes(ex) if ok_answer(ex) else []
        if not docs or not isinstance(docs[0].get("id"), str) or not docs[0]["id"]:
            raise NotJudged("one of the answers has no id to compare")
        ids.append(docs[0]["id"])
    if len(set(ids)) < len(ids):
        raise Violation("RESP-005", f"{len(ids)} completions with different ids", f"ids {short(ids, 120)}", "/id")


def plain_answer(ex) -> bool:
    """A complete non-streaming answer object to a valid request."""
    return ok_json(ex) and not ex.truncated and valid_request(ex) and isinstance(ex.json, dict)


@check("RESP-014", applies=plain_answer)
def natural_finish(ex):
    """A text answer (no tool call) that ended by itself or at a stop sequence does not say
    "tool_calls".  Whether a "length" was really the limit is PARAM-002's to judge (one
    owner for what "length" means; above a limit of 1024 it may be the context window)."""
    texts = [
        ch for ch in _choices(ex.json) if not ch["message"].get("tool_calls") and not ch["message"].get("function_call")
    ]
    if not texts:
        raise NotJudged("no text answer (a tool call, or no choice)")
    judged = False
    for ch in texts:
        fr, where = ch.get("finish_reason"), f"/choices/{ch.get('index')}/finish_reason"
        if fr == "stop":
            judged = True
        elif fr in ("tool_calls", "function_call"):
            judged = True
            yield Violation(
                "RESP-014", '"stop" for a text answer that ended by itself', f"{fr!r} without any tool call", where
            )
    if not judged:
        raise NotJudged("no choice shows how it ended by itself (cut by a limit, filtered)")


@check("RESP-015", applies=plain_answer)
def usage_present(ex):
    """A non-streaming answer carries usage (clients meter cost with it)."""
    if not isinstance(ex.json.get("usage"), dict):
        raise Violation(
            "RESP-015", "a usage object", "absent" if "usage" not in ex.json else short(ex.json["usage"]), "/usage"
        )


def _defined(schema: dict, *path: str) -> set[str]:
    """Property names the response schema defines at a place (through $ref/allOf/anyOf)."""
    root = schemas.load("response")
    out: set[str] = set()

    def props(node, rest):
        if isinstance(node, dict) and "$ref" in node:
            node = schemas._resolve_local(root, node["$ref"])
        if not isinstance(node, dict):
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key) or []:
                props(sub, rest)
        if not rest:
            out.update(node.get("properties") or {})
            return
        step, more = rest[0], rest[1:]
        if step == "[]":
            props(node.get("items"), more)
        else:
            props((node.get("properties") or {}).get(step), more)

    props(schema, list(path))
    return out


@check("RESP-021", applies=lambda ex: ok_json(ex) and isinstance(ex.json, dict))
def extensions_reported(ex):
    """Fields the spec does not define are extensions: listed, never failed (a MAY rule
    no answer can break, so it is never counted as judged either)."""
    root = schemas.load("response")
    places = [("", ex.json, ()), ("usage", ex.json.get("usage"), ("usage",))]
    for i, ch in enumerate(_list(ex.json.get("choices"))):
        if isinstance(ch, dict):
            places += [
                (f"choices[{i}]", ch, ("choices", "[]")),
                (f"choices[{i}].message", ch.get("message"), ("choices", "[]", "message")),
            ]
    for name, node, path in places:
        if isinstance(node, dict):
            extra = sorted(set(node) - _defined(root, *path))
            if extra:
                yield Note(
                    "RESP-021", f"extension fields {('in ' + name) if name else 'at the top level'}: {', '.join(extra)}"
                )
    raise NotJudged("extension fields are allowed anywhere: reported as notes, never judged")


# -- a conversation's history (REQ-012) ------------------------------------------------------------
@relation("REQ-012")
def history_kept(full, last_turn):
    """The same last turn, with and without the earlier turns.  Whether the earlier turns
    were honoured shows only in the model's words, and usage (the one server-side trace)
    is fabricated by gateways and mocks: both are noted, the rule is never judged."""
    if not (ok_json(full) and ok_json(last_turn)):
        raise NotJudged("one of the two answers is missing")

    def prompt_tokens(ex):
        usage = ex.json.get("usage") if isinstance(ex.json, dict) else None
        return usage.get("prompt_tokens") if isinstance(usage, dict) else None

    p_all, p_one = prompt_tokens(full), prompt_tokens(last_turn)
    if is_int(p_all) and is_int(p_one) and p_all <= p_one:
        yield Note(
            "REQ-012",
            f"prompt_tokens {p_all} for the whole conversation vs {p_one} for its last turn alone: "
            "the history may have been dropped",
        )
    content = next((ch["message"].get("content") for ch in _choices(full.json)), None)
    if isinstance(content, str):
        yield Note(
            "REQ-012",
            f"the answer to the conversation {'mentions' if '12' in content else 'does not mention'} 12 "
            "(model-dependent)",
        )
    raise NotJudged(
        "whether earlier turns are honoured shows only in the model's words (model-dependent): noted, never judged"
    )


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
    yield NotJudged(
        "n > 1 was not requested" if not many else "n > 1 was requested",
        ("RESP-009",) if many else ("PARAM-008", "STREAM-020"),
    )
    if not (many and ex.is_stream):
        yield NotJudged("not a stream with n > 1", ("STREAM-020",))
    if not ex.is_stream and not isinstance(ex.json, dict):
        raise NotJudged("no answer object (RESP-001's business)")
    if isinstance(ex.json, dict) and not isinstance(ex.json.get("choices"), list) and not ex.is_stream:
        raise NotJudged("no choices array (the schema's business)")
    if ex.is_stream:
        from .stream import ended_by_error

        if ended_by_error(ex):
            raise NotJudged("the stream ended with an error event (STREAM-024): its choices stop there")
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
    if not isinstance(usage.get("prompt_tokens_details"), dict) and not isinstance(
        usage.get("completion_tokens_details"), dict
    ):
        yield NotJudged("no token details", ("RESP-019",))


def choice_indexes(choices: list, request: dict, prefix: str, rule: str | None = None):
    n = request.get("n")
    indexes = [c.get("index") for c in choices if isinstance(c, dict)]
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        if sorted(i for i in indexes if isinstance(i, int)) != list(range(n)) or len(indexes) != n:
            yield Violation(
                rule or "PARAM-008", f"n={n} choices with indexes 0..{n - 1}", f"indexes {indexes}", f"{prefix}/choices"
            )
    else:
        if len(choices) != 1 or indexes != [0]:
            yield Violation(
                rule or "RESP-009",
                "exactly one choice with index 0 (no n requested)",
                f"{len(choices)} choice(s), indexes {indexes}",
                f"{prefix}/choices",
            )
