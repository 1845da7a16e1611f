"""Tools (TOOL): what a request's tools and tool_choice oblige the answer to, streamed or not,
and how streamed tool calls are fragmented.

Judged is what the SERVER must enforce, whatever model answers: `tool_choice: "none"`
calls nothing, `"required"` calls at least one offered tool, a named choice calls that
function, `parallel_tool_calls: false` keeps one call, `strict: true` guarantees
arguments that are JSON valid against the tool's parameters.  What the MODEL decides is
a Note: whether `auto` calls, the arguments it writes without `strict`, a name it makes
up under `auto`.  Each check says NotJudged where the answer cannot show its rule (no
call to inspect, a call cut by the token limit, a parameter the request did not set).
"""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from ..violations import Note, NotJudged, Violation, short
from . import answer_of, answered, check, choices_of, is_int, ok_json, ok_stream, relation, req, stop_strings
from .stream import _assembled

# A token limit a forced call fits in (a name and the arguments of the probe tools, with
# room to spare).  Under a smaller limit a forced choice cut before any call cannot be
# judged; under this one or none, a cut with no call is the forced choice not honoured.
ROOM = 256


# -- reading a request and an answer ----------------------------------------------------------
def offered(r: dict) -> dict[str, dict]:
    """name -> function object of the function tools a request offers."""
    out = {}
    for t in r.get("tools") or [] if isinstance(r.get("tools"), list) else []:
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str):
            out[t["function"]["name"]] = t["function"]
    return out


def tool_choice(r: dict) -> tuple[object, str | None]:
    """(the tool_choice value, the function name it forces or None); absent means auto."""
    choice = r.get("tool_choice", "auto")
    fn = choice.get("function") if isinstance(choice, dict) else None
    return choice, fn.get("name") if isinstance(fn, dict) and isinstance(fn.get("name"), str) else None


def forced(r: dict) -> bool:
    """`required`, or a named choice of an offered function (a name not offered is TOOL-014's)."""
    choice, named = tool_choice(r)
    return choice == "required" or (named is not None and named in offered(r))


def token_limit(r: dict) -> int | None:
    limits = [r[k] for k in ("max_tokens", "max_completion_tokens") if is_int(r.get(k))]
    return min(limits) if limits else None


def calls_of(choice: dict) -> list[dict]:
    calls = choice["message"].get("tool_calls")
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def function_of(call: dict) -> dict:
    return call.get("function") if isinstance(call.get("function"), dict) else {}


def with_tools(ex) -> bool:
    return answered(ex) and bool(offered(req(ex)))


def unassembled(ex) -> bool:
    """A stream whose tool-call fragments cannot be put together: one without an integer
    index (TOOL-019, the chunk schema's finding) belongs to no call, so the calls a client
    would assemble say nothing about tool_choice, arguments or finish_reason."""
    if not ex.is_stream:
        return False
    for chunk in ex.chunks:
        for ch in chunk.get("choices") or [] if isinstance(chunk.get("choices"), list) else []:
            delta = ch.get("delta") if isinstance(ch, dict) and isinstance(ch.get("delta"), dict) else {}
            frags = delta.get("tool_calls")
            if isinstance(frags, list) and any(isinstance(f, dict) and not is_int(f.get("index")) for f in frags):
                return True
    return False


UNASSEMBLED = "tool-call fragments without an index: the calls cannot be assembled (TOOL-019)"


def is_strict(fn: dict) -> bool:
    return fn.get("strict") is True


def schema_errors(params, value) -> list:
    """The errors of `value` against a tool's parameters ([] for no schema, or one the
    validator cannot read: that is the request's business, not the answer's)."""
    if not isinstance(params, dict):
        return []
    try:
        return list(Draft202012Validator(params).iter_errors(value))
    except Exception:  # noqa: BLE001 - an unreadable schema judges nothing
        return []


def _parsed(args: str):
    """(value, None) for JSON text, (None, why) otherwise; empty text stands for {}."""
    try:
        return (json.loads(args) if args.strip() else {}), None
    except ValueError as exc:
        return None, f"unparsable ({exc.msg}): {short(args, 80)}"


# -- tool_choice ---------------------------------------------------------------------------------
@check("TOOL-012", "TOOL-013", applies=lambda ex: with_tools(ex) and forced(req(ex)))
def forced_choice_honoured(ex):
    """`required` → at least one call; a named choice → calls to exactly that function.
    A choice cut by the token limit before any call is judged only when the limit left
    room for the call (ROOM): raw `<tool_call>` text running into a generous limit is the
    forced choice not honoured, not an excuse."""
    r = req(ex)
    choice, named = tool_choice(r)
    rule = "TOOL-013" if named is not None else "TOOL-012"
    yield NotJudged(
        "tool_choice is not a named function" if rule == "TOOL-012" else 'tool_choice is not "required"',
        ("TOOL-013",) if rule == "TOOL-012" else ("TOOL-012",),
    )
    if unassembled(ex):
        raise NotJudged(UNASSEMBLED, (rule,))
    limit = token_limit(r)
    cut_short, stopped = [], []
    judged = False
    for ch in choices_of(answer_of(ex)):
        i, fr = ch.get("index"), ch.get("finish_reason")
        calls = calls_of(ch)
        where = f"/choices/{i}/message/tool_calls"
        if not calls and fr == "length" and limit is not None and limit < ROOM:
            cut_short.append(i)
            continue
        if not calls and fr == "stop" and stop_strings(r) and not ch["message"].get("content"):
            # A stop sequence met inside the call's text ends it before any call forms (vLLM
            # applies stop strings to the raw output): PARAM-005 obeyed, nothing left to judge.
            stopped.append(i)
            continue
        judged = True
        wanted = (
            f"a call to exactly {named!r}"
            if named is not None
            else 'at least one tool call under tool_choice "required"'
        )
        if not calls:
            room = f" under a token limit of {limit or 'none'} (room for a call: {ROOM}+)" if fr == "length" else ""
            yield Violation(
                rule,
                wanted,
                f"no tool_calls (finish_reason {fr!r}{room}); content {short(ch['message'].get('content'), 80)}",
                where,
            )
        elif named is not None:
            names = [function_of(c).get("name") for c in calls]
            if any(n != named for n in names):
                yield Violation(rule, wanted, f"calls to {short(names, 100)}", where)
    if not judged:
        why = "no choice in the answer"
        if stopped:
            why = f"choice(s) {stopped} ended by a stop sequence before any call (stop: {short(stop_strings(r), 60)})"
        if cut_short:
            why = (
                f"choice(s) {cut_short} cut by a token limit of {limit} before any call: too small for a forced "
                f"call ({ROOM}+ gives it room)"
            )
        yield NotJudged(why, (rule,))


@check("TOOL-011", applies=lambda ex: with_tools(ex) and tool_choice(req(ex))[0] == "none")
def none_means_no_calls(ex):
    """`none`: no tool_calls, and the model generates a message instead (content a string)."""
    chosen = choices_of(answer_of(ex))
    if not chosen:
        raise NotJudged("no choice in the answer")
    for ch in chosen:
        i = ch.get("index")
        calls = calls_of(ch)
        if calls:
            yield Violation(
                "TOOL-011",
                'no tool_calls under tool_choice "none"',
                f"{len(calls)} call(s) to {short([function_of(c).get('name') for c in calls], 80)}",
                f"/choices/{i}/message/tool_calls",
            )
        elif not isinstance(ch["message"].get("content"), str):
            yield Violation(
                "TOOL-011",
                'a message under tool_choice "none" (content a string)',
                short(ch["message"].get("content", "(absent)"), 80),
                f"/choices/{i}/message/content",
            )


def _parallel_violations(ex):
    for ch in choices_of(answer_of(ex)):
        calls = calls_of(ch)
        if len(calls) > 1:
            yield Violation(
                "TOOL-025",
                "at most one tool call with parallel_tool_calls: false",
                f"{len(calls)} calls to {short([function_of(c).get('name') for c in calls], 80)}",
                f"/choices/{ch.get('index')}/message/tool_calls",
            )


def most_calls(ex) -> int:
    return max((len(calls_of(ch)) for ch in choices_of(answer_of(ex))), default=0)


@check("TOOL-025", applies=lambda ex: with_tools(ex) and req(ex).get("parallel_tool_calls") is False)
def parallel_off(ex):
    """`parallel_tool_calls: false`: two calls in one choice break the rule.  One call says
    nothing on its own (the model may have wanted one): the relation below judges it
    against the same request with parallel calls allowed."""
    if unassembled(ex):
        raise NotJudged(UNASSEMBLED)
    found = list(_parallel_violations(ex))
    yield from found
    if not found:
        yield NotJudged(
            "at most one call: a model that wanted one gives the same answer (judged against the parallel twin)"
        )


@relation("TOOL-025")
def parallel_off_honoured(on, off):
    """The same request with parallel_tool_calls true and false: where the model made two
    calls or more when allowed, false must keep one.  Where it made one even when allowed,
    false cannot be told from ignored."""
    if not (with_tools(on) and with_tools(off)):
        raise NotJudged("one of the two answers is missing")
    if unassembled(on) or unassembled(off):
        raise NotJudged(UNASSEMBLED)
    yield from _parallel_violations(off)
    allowed = most_calls(on)
    if allowed < 2:
        yield NotJudged(
            f"with parallel_tool_calls true the model made {allowed} call(s): the prompt did not draw two, "
            "so false cannot be told from ignored"
        )


# -- the calls ------------------------------------------------------------------------------------
@check("TOOL-006", "TOOL-021", applies=with_tools)
def call_arguments(ex):
    """The name is an offered tool (judged under a forced choice: the server enforces it);
    with `strict: true` the arguments are a JSON object valid against the tool's
    parameters.  Without strict, argument quality is the model's: a Note.  In a stream,
    joined arguments that are no JSON object are TOOL-021's finding (the fragments form
    the arguments), a schema mismatch TOOL-006's.  Arguments cut by the token limit
    (finish_reason length) cannot be complete and are not judged."""
    if unassembled(ex):
        raise NotJudged(UNASSEMBLED)
    r = req(ex)
    tools, stream, must_name = offered(r), ex.is_stream, forced(r)
    choice = tool_choice(r)[0]
    syntax_rule = "TOOL-021" if stream else "TOOL-006"
    mine = ("TOOL-006", "TOOL-021") if stream else ("TOOL-006",)  # the rules this exchange can show
    judged: set[str] = set()
    why = {"TOOL-006": "no tool call to inspect", "TOOL-021": "no tool call to inspect" if stream else "not a stream"}
    for ch in choices_of(answer_of(ex)):
        i, cut = ch.get("index"), ch.get("finish_reason") == "length"
        for k, call in enumerate(calls_of(ch)):
            fn = function_of(call)
            name, args = fn.get("name"), fn.get("arguments")
            loc = f"/choices/{i}/message/tool_calls/{k}/function"
            if name not in tools:
                if must_name:
                    judged.add("TOOL-006")
                    yield Violation(
                        "TOOL-006",
                        f"a call to an offered tool ({', '.join(tools)}) under a forced tool_choice",
                        short(name),
                        f"{loc}/name",
                    )
                else:
                    yield Note(
                        "TOOL-006",
                        f"a call to a tool that was not offered: {short(name)} "
                        f"(tool_choice {short(choice)}: the model's choice)",
                    )
                continue
            if must_name:
                judged.add("TOOL-006")
            if not isinstance(args, str):
                continue  # TOOL-005: the schema's
            if cut:
                why.update(dict.fromkeys(mine, "arguments cut by the token limit (finish_reason length)"))
                continue
            strict = is_strict(tools[name])
            value, problem = _parsed(args)
            if problem is None and not isinstance(value, dict):
                problem = f"{type(value).__name__}, not an object: {short(value, 80)}"
            if not strict:
                why.update(dict.fromkeys(mine, "no strict: true tool called: its arguments are the model's (noted)"))
                if problem is not None:
                    yield Note(syntax_rule, f"{name} (not strict): arguments that are not a JSON object: {problem}")
                elif errors := schema_errors(tools[name].get("parameters"), value):
                    yield Note(
                        "TOOL-006", f"{name} (not strict): arguments do not match its parameters: {errors[0].message}"
                    )
                continue
            judged.add(syntax_rule)
            if problem is not None:
                why["TOOL-006"] = "the joined arguments are no JSON object (TOOL-021's finding)"
                yield Violation(
                    syntax_rule,
                    f"arguments that parse as a JSON object ({name} is strict: true)",
                    problem,
                    f"{loc}/arguments",
                )
                continue
            judged.add("TOOL-006")
            errors = schema_errors(tools[name].get("parameters"), value)
            if errors:
                yield Violation(
                    "TOOL-006",
                    f"arguments valid against {name}'s parameters (strict: true)",
                    f"{errors[0].message} in {short(value, 80)}",
                    f"{loc}/arguments",
                )
    for rule in ("TOOL-006", "TOOL-021"):
        if rule not in judged:
            yield NotJudged(why[rule], (rule,))


@check("TOOL-007", applies=lambda ex: with_tools(ex) and ok_json(ex))
def call_ids(ex):
    """Ids non-empty and unique within the answer (streams: TOOL-020 and TOOL-022; an id
    that is missing or no string: TOOL-004, the response schema).  An empty id breaks the
    rule on any call; that ids are distinct shows only where a choice holds two calls or
    more, so an answer of single calls with non-empty ids does not judge it."""
    calls, most = 0, 0
    for ch in choices_of(answer_of(ex)):
        mine = calls_of(ch)
        calls, most = calls + len(mine), max(most, len(mine))
        ids = [c["id"] for c in mine if isinstance(c.get("id"), str)]  # a missing id is TOOL-004's (the schema)
        if any(not x for x in ids) or len(set(ids)) != len(ids):
            yield Violation(
                "TOOL-007",
                "non-empty, unique tool-call ids",
                short(ids),
                f"/choices/{ch.get('index')}/message/tool_calls",
            )
    if not calls:
        yield NotJudged("no tool call to inspect")
    elif most < 2:
        yield NotJudged("one call per choice: distinct ids need two calls (a prompt that draws two)")


@check("TOOL-008", "TOOL-023", applies=with_tools)
def finish_after_calls(ex):
    """After calls: "tool_calls" under auto/required; "stop" or "tool_calls" under a
    named choice (api.openai.com says stop).  TOOL-023 for a stream, TOOL-008 otherwise."""
    _, named = tool_choice(req(ex))
    rule = "TOOL-023" if ex.is_stream else "TOOL-008"
    yield NotJudged(
        "a stream" if rule == "TOOL-023" else "not a stream", ("TOOL-008",) if rule == "TOOL-023" else ("TOOL-023",)
    )
    if unassembled(ex):
        raise NotJudged(UNASSEMBLED, (rule,))
    allowed = ("stop", "tool_calls") if named is not None else ("tool_calls",)
    seen = False
    for ch in choices_of(answer_of(ex)):
        fr = ch.get("finish_reason")
        if not calls_of(ch) or fr == "length":
            continue
        seen = True
        if fr not in allowed:
            yield Violation(
                rule,
                f"finish_reason {' or '.join(map(repr, allowed))} after tool calls",
                short(fr),
                f"/choices/{ch.get('index')}/finish_reason",
            )
    if not seen:
        yield NotJudged("no tool call that finished by itself", (rule,))


@check("TOOL-009", applies=lambda ex: with_tools(ex) and ok_json(ex))
def content_beside_calls(ex):
    """With tool calls, message.content is present and null or a string."""
    seen = False
    for ch in choices_of(answer_of(ex)):
        if not calls_of(ch):
            continue
        seen = True
        msg = ch["message"]
        if "content" not in msg or not (msg["content"] is None or isinstance(msg["content"], str)):
            yield Violation(
                "TOOL-009",
                "content null or a string beside tool_calls",
                short(msg.get("content", "(absent)"), 80),
                f"/choices/{ch.get('index')}/message/content",
            )
    if not seen:
        yield NotJudged("no tool call in the answer")


# -- streamed calls ---------------------------------------------------------------------------------
def _fragments(ex):
    """(chunk position, choice index, fragment) for every delta.tool_calls item with an
    integer index (one without is TOOL-019's finding, the chunk schema's)."""
    for pos, chunk in enumerate(ex.chunks):
        for ch in chunk.get("choices") or [] if isinstance(chunk.get("choices"), list) else []:
            delta = ch.get("delta") if isinstance(ch, dict) and isinstance(ch.get("delta"), dict) else {}
            frags = delta.get("tool_calls")
            for frag in frags if isinstance(frags, list) else []:
                if isinstance(frag, dict) and is_int(frag.get("index")):
                    yield pos, ch.get("index"), frag


@check("TOOL-020", "TOOL-022", applies=ok_stream)
def tool_fragments(ex):
    """TOOL-020: the first fragment of each call (per choice and index) carries its id,
    type "function" and function.name, judged here only (the suite never does; the chunk
    schema also reports a wrong type value in any fragment, as TOOL-004's shape); later
    ones repeat neither id nor name (the SDK concatenates them; a repeated type is
    overwritten, harmless).
    TOOL-022: per choice, indexes 0, 1, 2... in order of first appearance, and a distinct
    id per call."""
    firsts: dict = {}
    repeats: dict = {}  # (choice, call) -> [where first repeated, how many fragments, what]
    for pos, i, frag in _fragments(ex):
        fn = frag.get("function") if isinstance(frag.get("function"), dict) else {}
        key = (repr(i), frag["index"])
        where = f"chunk[{pos}]/choices/{i}/delta/tool_calls/{frag['index']}"
        if key not in firsts:
            firsts[key] = frag.get("id")
            lacks = [
                k
                for k, ok in (
                    ("id", isinstance(frag.get("id"), str) and frag["id"]),
                    ('type "function"', frag.get("type") == "function"),
                    ("function.name", isinstance(fn.get("name"), str) and fn["name"]),
                )
                if not ok
            ]
            if lacks:
                yield Violation(
                    "TOOL-020",
                    'id, type "function" and function.name in the first fragment of each tool call',
                    f"choice {i} call {frag['index']}: no {', no '.join(lacks)} ({short(frag, 100)})",
                    where,
                )
        elif frag.get("id") or fn.get("name"):
            # One violation per call, not per fragment: a server that repeats them does so in
            # every fragment (280 times in one llama-cpp-python run).
            seen = repeats.setdefault(key, [where, 0, set()])
            seen[1] += 1
            seen[2].update(k for k, v in (("id", frag.get("id")), ("function.name", fn.get("name"))) if v)
    for (i, index), (where, count, what) in repeats.items():
        yield Violation(
            "TOOL-020",
            "id and function.name only in the first fragment of a call (clients concatenate repeats)",
            f"choice {i} call {index}: {' and '.join(k for k in ('id', 'function.name') if k in what)} repeated in {count} later fragment(s)",
            where,
        )
    if not firsts:
        raise NotJudged("no tool-call fragment in the stream")
    a = _assembled(ex)
    for idx in a.order:
        c = a.choices[idx]
        ints = [k for k in c.tool_call_order if is_int(k)]
        if ints != list(range(len(ints))):
            yield Violation(
                "TOOL-022",
                "tool-call indexes 0, 1, 2… in order of first appearance",
                f"choice {idx}: {ints}",
                f"choices/{idx}/tool_calls",
            )
        ids = [firsts[(repr(idx), k)] for k in ints if (repr(idx), k) in firsts]
        ids = [x for x in ids if x]
        if len(set(ids)) != len(ids):
            yield Violation(
                "TOOL-022",
                "a distinct id per streamed call",
                f"choice {idx}: ids {short(ids, 100)}",
                f"choices/{idx}/tool_calls",
            )
