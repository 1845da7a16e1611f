"""Parameters (PARAM): what a request's token limit, stop sequences, logprobs and response
format oblige the answer to, streamed or not.  They hold for any model, because the
server enforces them; what the model chose (whether a stop sequence would have come, what
a non-strict schema got) is a Note.

The relations at the end judge one or two exchanges a test names: requests a conformant
server may either answer or refuse in one precise way (max_tokens on a reasoning model, an
optional field it does not implement), where neither `accept=` nor `refuse=` fits.
"""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from .. import fixtures, rules as rules_mod
from ..violations import Note, NotJudged, Violation, short
from . import (
    answer_of,
    answered,
    check,
    choices_of,
    is_int,
    ok_json,
    ok_stream,
    relation,
    req,
    stop_strings,
    valid_request,
)
from .intent import summary
from .stream import _assembled

# A "length" finish may come from the context window rather than from the limit: a server
# that caps an answer at its window (vLLM, llama.cpp) says "length" with fewer tokens.  So
# usage is compared with the limit only where prompt and limit together fit in this many
# tokens, less than any context a chat server runs with (PARAM-002; variant context-fills).
CONTEXT_FLOOR = 512


def _limit(r: dict) -> tuple[str, int] | None:
    """The binding token limit of a request: (field, value); only valid limits bind (an
    invalid one, 0 or -1, is the business of PARAM-003)."""
    limits = [(k, r[k]) for k in ("max_tokens", "max_completion_tokens") if is_int(r.get(k)) and r[k] >= 1]
    return min(limits, key=lambda kv: kv[1]) if limits else None


def _n(r: dict) -> int:
    return r["n"] if is_int(r.get("n")) and r["n"] >= 1 else 1


def _visible(msg: dict) -> bool:
    content = msg.get("content")
    return isinstance(content, str) and bool(content) and not msg.get("tool_calls")


@check("PARAM-001", "PARAM-002", applies=answered)
def token_limit(ex):
    """PARAM-001: usage.completion_tokens <= the limit (x n).  PARAM-002: a visible token under
    a limit of 1 was cut ("length"); and "length" means the limit was used up: when every
    choice was cut, completion_tokens == the limit x n."""
    r = req(ex)
    lim = _limit(r)
    if lim is None:
        raise NotJudged("no token limit in the request")
    name, limit = lim
    body = answer_of(ex)
    if not body:
        raise NotJudged("no answer to read")
    n = _n(r)
    times = f" x n={n}" if n > 1 else ""
    usage = body.get("usage")
    ct = usage.get("completion_tokens") if isinstance(usage, dict) and is_int(usage.get("completion_tokens")) else None
    where = "chunks/usage/completion_tokens" if ex.is_stream else "/usage/completion_tokens"
    if ct is None:
        yield NotJudged("no usage.completion_tokens to compare with the limit", ("PARAM-001",))
    elif ct > limit * n:
        # completion_tokens counts all n choices together.
        yield Violation("PARAM-001", f"completion_tokens <= {name} ({limit}{times})", str(ct), where)
    choices = choices_of(body)
    judged = False
    if limit == 1 and not stop_strings(r):  # a stop sequence inside that one token ends it with "stop" legitimately
        # One token allowed: a visible token means the limit ended the answer (an
        # end-of-sequence token shows no text), so the reason must be "length".
        for ch in choices:
            if _visible(ch["message"]):
                judged = True
                if ch.get("finish_reason") == "stop":
                    yield Violation(
                        "PARAM-002",
                        f'finish_reason "length" when {name}=1 cut the answer',
                        f'"stop" with content {short(ch["message"]["content"], 40)}',
                        f"/choices/{ch.get('index')}/finish_reason",
                    )
    cut = choices and len(choices) == n and all(ch.get("finish_reason") == "length" for ch in choices)
    pt = usage.get("prompt_tokens") if isinstance(usage, dict) and is_int(usage.get("prompt_tokens")) else None
    if cut and ct is not None and pt is not None and pt + limit <= CONTEXT_FLOOR:
        judged = True
        if ct != limit * n:
            yield Violation(
                "PARAM-002",
                f'completion_tokens == {name} ({limit}{times}) when every choice finished "length"',
                f"{ct}",
                where,
            )
    if not judged:
        yield NotJudged(
            "no choice was shown to be cut by the limit (the answer may have ended by itself)", ("PARAM-002",)
        )


@check("PARAM-005", applies=answered)
def stop_sequences(ex):
    """The returned text never holds a stop sequence, wherever it falls (inside a token, across
    two tokens, across two chunks: a stream is judged on its assembled text)."""
    stops = stop_strings(req(ex))
    if not stops:
        raise NotJudged("no stop sequence in the request")
    texts = [
        (ch, ch["message"]["content"])
        for ch in choices_of(answer_of(ex) or {})
        if isinstance(ch["message"].get("content"), str)
    ]
    if not texts:
        raise NotJudged("no text in the answer to search")
    for ch, content in texts:
        for s in stops:
            if s in content:
                at = content.index(s)
                yield Violation(
                    "PARAM-005",
                    f"no stop sequence {s!r} in the returned text",
                    f"found at offset {at}: …{short(content[max(0, at - 20) : at + 20])}…",
                    f"/choices/{ch.get('index')}/message/content",
                )
                break


# -- logprobs ------------------------------------------------------------------------------------
def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _logprob_nodes(ex):
    """(where, the item holding `logprobs`) for every choice of a plain answer, or every
    choice item of every chunk of a stream."""
    if ex.is_stream:
        for pos, c in enumerate(ex.chunks):
            if "error" in c:
                continue
            for it in c.get("choices") or []:
                if isinstance(it, dict):
                    yield f"chunk[{pos}]/choices/{it.get('index')}/logprobs", it
    elif isinstance(ex.json, dict):
        for ch in ex.json.get("choices") or []:
            if isinstance(ch, dict):
                yield f"/choices/{ch.get('index')}/logprobs", ch


def _entries(ex):
    """(where, entry) for every token entry of `content` and `refusal`, streamed or not."""
    for where, node in _logprob_nodes(ex):
        lp = node.get("logprobs")
        if isinstance(lp, dict):
            for key in ("content", "refusal"):
                for k, e in enumerate(lp.get(key) or [] if isinstance(lp.get(key), list) else []):
                    if isinstance(e, dict):
                        yield f"{where}/{key}/{k}", e


def _constrained(r: dict) -> bool:
    """Whether something besides the model masks tokens (the alternatives may then be fewer)."""
    rf = r.get("response_format")
    return bool(
        r.get("logit_bias")
        or r.get("tools")
        or r.get("functions")
        or (isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"))
    )


MIN_TOKENS_FOR_FEWER = 3  # "may be fewer" in some cases: judged only over a few tokens


@check("PARAM-016", "PARAM-017", "PARAM-018", applies=lambda ex: (ok_json(ex) or ok_stream(ex)) and valid_request(ex))
def logprobs_values(ex):
    """The same judgement for a plain answer and for every chunk of a stream: without
    `logprobs: true` no logprobs (PARAM-018); with it, each token entry has logprob <= 0,
    its UTF-8 bytes, at most top_logprobs alternatives and, over the answer, as many as
    asked for at least once (PARAM-017); a plain text answer carries a content list, whose
    tokens join into its content (PARAM-016/017; in streams PARAM-019 judges presence and
    joining, the chunk schema the shape)."""
    r = req(ex)
    if r.get("logprobs") is not True:
        yield NotJudged("logprobs were not requested", ("PARAM-016", "PARAM-017"))
        for where, node in _logprob_nodes(ex):
            if node.get("logprobs") is not None:
                yield Violation("PARAM-018", "logprobs null when not requested", short(node["logprobs"], 80), where)
                return
        return
    yield NotJudged("logprobs were requested", ("PARAM-018",))
    top = r.get("top_logprobs") if is_int(r.get("top_logprobs")) else 0
    if ex.is_stream:
        yield NotJudged("streamed: the chunk schema judges the shape, PARAM-019 the presence", ("PARAM-016",))
    else:
        yield from _plain_presence(ex)
    seen = set()

    def once(kind, v):
        if kind not in seen:
            seen.add(kind)
            return [v]
        return []

    counts = []
    for where, e in _entries(ex):
        tok, val, byts, alts = e.get("token"), e.get("logprob"), e.get("bytes"), e.get("top_logprobs")
        if _num(val) and val > 0:
            yield from once("positive", Violation("PARAM-017", "logprob <= 0", str(val), f"{where}/logprob"))
        if isinstance(byts, list) and isinstance(tok, str) and byts != list(tok.encode("utf-8")):
            yield from once(
                "bytes",
                Violation(
                    "PARAM-017", "bytes == the UTF-8 bytes of token", f"{short(byts, 40)} for {tok!r}", f"{where}/bytes"
                ),
            )
        if isinstance(alts, list):
            counts.append(len(alts))
            if len(alts) > top:
                yield from once(
                    "count",
                    Violation(
                        "PARAM-017", f"at most top_logprobs={top} alternatives", str(len(alts)), f"{where}/top_logprobs"
                    ),
                )
            for alt in alts:
                if isinstance(alt, dict) and _num(alt.get("logprob")) and alt["logprob"] > 0:
                    yield from once(
                        "positive-alt",
                        Violation(
                            "PARAM-017", "logprob <= 0 in top_logprobs", str(alt["logprob"]), f"{where}/top_logprobs"
                        ),
                    )
                    break
    if not counts:
        raise NotJudged("no token entries to check", ("PARAM-017",))
    if top and len(counts) >= MIN_TOKENS_FOR_FEWER and not _constrained(r) and max(counts) < top:
        yield Violation(
            "PARAM-017",
            f"top_logprobs={top} alternatives for the tokens (fewer only in some cases)",
            f"at most {max(counts)} for every one of {len(counts)} tokens",
            "logprobs/content/#/top_logprobs",
        )
    if not ex.is_stream:
        yield from _plain_join(ex)


def _plain_presence(ex):
    for ch in (ex.json or {}).get("choices") or []:
        if not isinstance(ch, dict):
            continue
        lp = ch.get("logprobs")
        msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
        if isinstance(lp, dict) and "content" in lp and lp["content"] is None and not msg.get("content"):
            continue  # no text (a tool call): content logprobs may be null
        if not isinstance(lp, dict) or not isinstance(lp.get("content"), list):
            yield Violation(
                "PARAM-016",
                "a logprobs object with a content list (logprobs: true)",
                short(lp, 80),
                f"/choices/{ch.get('index')}/logprobs",
            )


def _plain_join(ex):
    for ch in choices_of(ex.json):
        lp = ch.get("logprobs") if isinstance(ch.get("logprobs"), dict) else {}
        entries = (
            [e for e in lp.get("content") or [] if isinstance(e, dict)] if isinstance(lp.get("content"), list) else []
        )
        tokens = "".join(e["token"] for e in entries if isinstance(e.get("token"), str))
        content = ch["message"].get("content")
        if isinstance(content, str) and entries and tokens != content:
            yield Violation(
                "PARAM-017",
                "the logprobs tokens joined == message.content",
                f"{short(tokens, 60)} vs {short(content, 60)}",
                f"/choices/{ch.get('index')}/logprobs/content",
            )


@check("PARAM-019", applies=lambda ex: ok_stream(ex) and req(ex).get("logprobs") is True and valid_request(ex))
def stream_logprobs(ex):
    a = _assembled(ex)
    texts = [(idx, a.choices[idx]) for idx in a.order if a.choices[idx].text]
    if not texts:
        raise NotJudged("no streamed text to carry logprobs")
    for idx, c in texts:
        if not c.saw_logprobs:
            yield Violation(
                "PARAM-019",
                "logprobs.content on the content chunks (logprobs: true)",
                f"choice {idx}: no logprobs in any chunk",
                f"choices/{idx}/logprobs",
            )
            continue
        joined = "".join(e.get("token", "") for e in c.logprobs_content if isinstance(e.get("token"), str))
        if joined != c.text:
            yield Violation(
                "PARAM-019",
                "the logprobs tokens joined == the streamed content",
                f"tokens {short(joined, 60)} vs content {short(c.text, 60)}",
                f"choices/{idx}/logprobs",
            )


# -- response_format --------------------------------------------------------------------------
def _rf(ex) -> dict:
    rf = req(ex).get("response_format")
    return rf if isinstance(rf, dict) else {}


@check(
    "PARAM-024", "PARAM-026", applies=lambda ex: answered(ex) and _rf(ex).get("type") in ("json_object", "json_schema")
)
def json_modes(ex):
    """json_object: a finished answer is a JSON object.  json_schema with strict: true: it
    parses and validates.  Without strict nothing is promised (noted).  A cut, refused or
    tool-calling answer, or one a stop sequence may have cut, is not held to the format."""
    rf = _rf(ex)
    rule = "PARAM-024" if rf["type"] == "json_object" else "PARAM-026"
    yield NotJudged(f"response_format is {rf['type']}", ("PARAM-026" if rule == "PARAM-024" else "PARAM-024",))
    js = rf.get("json_schema") if isinstance(rf.get("json_schema"), dict) else {}
    strict = rule == "PARAM-024" or js.get("strict") is True
    if req(ex).get("stop"):
        raise NotJudged("a stop sequence may legitimately cut the JSON short", (rule,))
    judged = False
    for ch in choices_of(answer_of(ex) or {}):
        msg = ch["message"]
        if ch.get("finish_reason") != "stop" or msg.get("tool_calls") or msg.get("refusal"):
            continue  # a cut or refused answer is not held to the format
        judged = True
        content = msg.get("content")
        where = f"/choices/{ch.get('index')}/message/content"
        fenced = " (no markdown fences)" if isinstance(content, str) and content.lstrip().startswith("```") else ""
        try:
            parsed, ok = (json.loads(content), True) if isinstance(content, str) else (None, False)
        except ValueError:
            parsed, ok = None, False
        if rule == "PARAM-024":
            if not isinstance(parsed, dict):
                yield Violation(
                    rule, f"content that parses as a JSON object (json_object){fenced}", short(content, 80), where
                )
            continue
        schema = js.get("schema") if isinstance(js.get("schema"), dict) else None
        errs = (
            sorted(Draft202012Validator(schema).iter_errors(parsed), key=lambda e: list(e.absolute_path))
            if ok and schema
            else []
        )
        if not strict:
            if not ok or errs:
                yield Note(
                    rule,
                    f"json_schema without strict (nothing promised): choice {ch.get('index')} "
                    + (
                        f"is not JSON: {short(content, 60)}"
                        if not ok
                        else f"does not follow the schema: {errs[0].message}"
                    ),
                )
            continue
        if not ok:
            yield Violation(
                rule, f"content that parses as JSON (json_schema, strict){fenced}", short(content, 80), where
            )
        elif errs:
            at = "/".join(map(str, errs[0].absolute_path))
            yield Violation(
                rule,
                f"content valid against the json_schema {js.get('name')!r}",
                f"{errs[0].message} (at /{at})",
                where,
            )
    if not strict:
        raise NotJudged("json_schema without strict: true; the schema is not enforced", (rule,))
    if not judged:
        raise NotJudged("no finished, unrefused text answer to hold to the format", (rule,))


@check("PARAM-022", applies=lambda ex: answered(ex) and _rf(ex).get("type") == "text")
def text_format(ex):
    """response_format text behaves as the default: a text answer."""
    judged = False
    for ch in choices_of(answer_of(ex) or {}):
        msg = ch["message"]
        if msg.get("tool_calls") or msg.get("refusal"):
            continue
        judged = True
        if not isinstance(msg.get("content"), str):
            yield Violation(
                "PARAM-022",
                "a text answer (content a string) for response_format text",
                short(msg.get("content")),
                f"/choices/{ch.get('index')}/message/content",
            )
    if not judged:
        raise NotJudged("no text choice in the answer")


def _error(ex) -> dict:
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return err if isinstance(err, dict) else {}


# -- relations: answered, or refused in the one way a rule allows ----------------------------
@relation("PARAM-001", "PARAM-002")
def max_tokens_taken(ex):
    """`max_tokens` answered, or refused as api.openai.com refuses it for reasoning models:
    400, code unsupported_parameter, param max_tokens.  Anything else (a 5xx, an error that
    does not name it) fails."""
    if ex.status is None:
        raise NotJudged("no answer")
    if ex.status == 200:
        yield NotJudged("the answer's finish is judged by the token-limit check", ("PARAM-002",))
        return
    yield NotJudged("max_tokens was refused: no answer to cut", ("PARAM-002",))
    err = _error(ex)
    if ex.status == 400 and err.get("code") == "unsupported_parameter" and err.get("param") == "max_tokens":
        yield Note(
            "PARAM-001",
            "max_tokens refused as unsupported_parameter (a server for reasoning models, as api.openai.com): "
            "allowed; the target takes max_completion_tokens",
        )
        return
    yield Violation(
        "PARAM-001",
        "HTTP 200 for max_tokens, or 400 with code unsupported_parameter and param max_tokens",
        f"{summary(ex)} (code {err.get('code')!r}, param {err.get('param')!r})",
        "status",
    )


OPTIONAL_FIELDS = (
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "metadata",
    "store",
    "service_tier",
    "reasoning_effort",
    "verbosity",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "moderation",
)


@relation("PARAM-028")
def optional_field_tolerated(ex):
    """An optional field with a valid value: answered, or refused with a 4xx (naming it,
    else noted: ERR-003); never a 5xx."""
    fields = [k for k in OPTIONAL_FIELDS if k in req(ex)]
    if ex.status is None:
        raise NotJudged("no answer")
    if ex.status == 200:
        return
    if 400 <= ex.status < 500:
        got = _error(ex).get("param")
        yield Note("PARAM-028", f"{', '.join(fields)}: refused with HTTP {ex.status} (not implemented)")
        if not (isinstance(got, str) and any(f in got for f in fields)):
            yield Note("ERR-003", f"{', '.join(fields)} refused with error.param {got!r}, not naming the field")
        return
    yield Violation(
        "PARAM-028", f"HTTP 200, or a 4xx naming {', '.join(fields)} (not implemented)", summary(ex), "status"
    )


@relation("PARAM-009")
def n_refused_or_honoured(ex):
    """n > 1 to a target that does not claim n: refused with 400, or honoured (n choices);
    never a single choice."""
    n = _n(req(ex))
    if ex.status is None:
        raise NotJudged("no answer")
    statuses = rules_mod.get("PARAM-009").statuses
    if ex.status == 200:
        count = len(choices_of(answer_of(ex) or {}))
        if count == n:
            yield Note("PARAM-009", f"n={n} answered with {n} choices although the target does not claim n")
            return
        raise Violation(
            "PARAM-009",
            f"HTTP {'/'.join(map(str, statuses))} for n: {n} (or {n} choices)",
            f"HTTP 200 with {count} choice(s)",
            "/choices",
        )
    if ex.status not in statuses:
        raise Violation("PARAM-009", f"HTTP {'/'.join(map(str, statuses))} refusing n: {n}", summary(ex), "status")


@relation("PARAM-025")
def strict_schema_taken(ex):
    """A strict json_schema: answered; or, when the schema is outside the strict subset,
    refused with 400 as a strict-mode server does.  Never a 5xx."""
    js = _rf(ex).get("json_schema") if isinstance(_rf(ex).get("json_schema"), dict) else {}
    if ex.status is None:
        raise NotJudged("no answer")
    if ex.status == 200:
        return
    subset = isinstance(js.get("schema"), dict) and fixtures.strict_compatible(js["schema"])
    if ex.status == 400 and js.get("strict") is True and not subset:
        yield Note(
            "PARAM-025",
            f"{js.get('name')}: strict mode refused a schema outside the strict subset (open objects or "
            f"optional properties): allowed",
        )
        return
    why = "a strict-compatible schema" if subset else "a json_schema"
    raise Violation(
        "PARAM-025",
        f"HTTP 200 for {why}" + ("" if subset else " (or 400 refusing it in strict mode)"),
        summary(ex),
        "status",
    )


@relation("PARAM-021")
def seeded_answers_compared(first, second):
    """Informational (MAY): the same seeded request twice.  The same text, or a changed
    system_fingerprint that explains a difference, shows the best effort; a difference under
    one fingerprint is noted, never failed ("Determinism is not guaranteed")."""
    a, b = answer_of(first), answer_of(second)
    if not a or not b:
        raise NotJudged("one of the two answers is missing")
    ca = [ch["message"].get("content") for ch in choices_of(a)]
    cb = [ch["message"].get("content") for ch in choices_of(b)]
    fa, fb = a.get("system_fingerprint"), b.get("system_fingerprint")
    same = ca == cb
    yield Note(
        "PARAM-021",
        f"two seeded calls: {'identical' if same else f'different ({short(ca, 40)} vs {short(cb, 40)})'}; "
        f"system_fingerprint {fa!r} / {fb!r}",
    )
    if not same and (fa == fb or fa is None or fb is None):
        raise NotJudged(
            "the seeded answers differed under one fingerprint (determinism is not guaranteed: informational)"
        )


@relation("PARAM-005")
def stop_where_the_text_had_it(first, second):
    """Informational: whether the stop sequence taken from a seeded answer triggered when the
    same request came again with it (model-dependent; PARAM-005 itself is judged by the
    stop check on the second answer)."""
    stops = stop_strings(req(second))
    a, b = answer_of(first), answer_of(second)
    text = next(
        (ch["message"].get("content") for ch in choices_of(a or {}) if isinstance(ch["message"].get("content"), str)),
        "",
    )
    for ch in choices_of(b or {}):
        content = ch["message"].get("content")
        hit = next((s for s in stops if s in text), None)
        if (
            isinstance(content, str)
            and hit
            and text.startswith(content)
            and len(content) < len(text)
            and ch.get("finish_reason") == "stop"
        ):
            yield Note(
                "PARAM-005", f"stop {hit!r} triggered: the answer ended before it ({len(content)} of {len(text)} chars)"
            )
        else:
            yield Note(
                "PARAM-005",
                f"stop {short(stops)}: the seeded answer changed or did not reach it (model-dependent); "
                f"first {short(text, 50)}, then {short(content, 50)}",
            )
    raise NotJudged("informational: whether the stop sequence came depends on the model")
