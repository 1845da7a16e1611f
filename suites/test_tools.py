"""Tools (TOOL): function definitions, tool_choice, tool calls, the round trip, streamed calls.

What the server must enforce is judged: a forced `tool_choice` (required or named) yields
calls to the offered tools with JSON arguments, `none` yields none, `parallel_tool_calls:
false` yields at most one.  What the model decides (whether `auto` calls a tool, whether
it makes two calls when asked) is recorded as a note.  The observer enforces the same
request-derived invariants on every answer of every test; the tests here are the one
place each rule is asked about on purpose.
"""
import copy
import json

import pytest
from jsonschema import Draft202012Validator

from chatconform import expect, fixtures, probes
from chatconform.assemble import assemble
from chatconform.violations import Violation, short

pytestmark = pytest.mark.area("tools")

WEATHER, TIME = probes.WEATHER_TOOL, probes.TIME_TOOL
TWO_CITIES = "What is the weather in Paris and in Rome, and the time in Tokyo? Call the tools once per question."


def _named(name: str) -> dict:
    return {"type": "function", "function": {"name": name}}


def _choices(ex) -> list[dict]:
    body = ex.json if isinstance(ex.json, dict) else {}
    return [c for c in body.get("choices") or [] if isinstance(c, dict)]


def _message(ex, choice: dict) -> dict:
    msg = choice.get("message")
    expect.field(ex, "RESP-010", msg, "a message object", isinstance(msg, dict), f"/choices/{choice.get('index')}/message")
    return msg


def _calls(msg: dict) -> list:
    calls = msg.get("tool_calls")
    return calls if isinstance(calls, list) else []



def _cut(recorder, rule: str, choice: dict) -> bool:
    """A choice cut by the token limit cannot be held to a forced call: note it."""
    if choice.get("finish_reason") == "length":
        recorder.note(rule, f"choice {choice.get('index')} hit the token limit (finish_reason length): not judged")
        return True
    return False


# -- definitions ---------------------------------------------------------------------------
@pytest.mark.rules("TOOL-001")
def test_tool_definition_accepted(client, model):
    """TOOL-001: `tools: [{type: "function", function: {name, description?, parameters?, strict?}}]` is accepted (P-TOOL → 200)."""
    expect.ok(client.chat(probes.tool(model), label="P-TOOL"), "TOOL-001", "P-TOOL")


def _variants():
    out = [(name, fixtures.tool(name)) for name in fixtures.tool_names()]
    for strict in (False, None, True):
        t = copy.deepcopy(WEATHER)
        t["function"]["strict"] = strict
        if strict:
            t["function"]["parameters"]["additionalProperties"] = False
        out.append((f"get_weather-strict-{str(strict).lower()}", t))
    bare = {"type": "function", "function": {"name": "ping"}}
    out.append(("name-only", bare))
    return out


VARIANTS = _variants()


@pytest.mark.rules("TOOL-002")
@pytest.mark.parametrize("name,tool", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_tool_shapes_accepted(client, model, name, tool):
    """TOOL-002: `parameters` may be omitted and `strict` may be true, false or null; nested, enum-heavy and strict schemas are accepted."""
    body = probes.tool(model, tool_choice="auto", tools=[tool])
    body["messages"][0]["content"] = f"Call the tool {tool['function']['name']} if it helps, then answer."
    expect.ok(client.chat(body, label=f"tool {name}"), "TOOL-002", f"a tool shaped like {name}")


BAD_NAMES = [("space and bang", "bad name!"), ("dot", "get.weather"), ("65 characters", "f" * 65), ("empty", "")]


@pytest.mark.rules("TOOL-003")
@pytest.mark.parametrize("what,name", BAD_NAMES, ids=[b[0] for b in BAD_NAMES])
def test_invalid_function_name(client, model, recorder, what, name):
    """TOOL-003: a function name outside a-z A-Z 0-9 _ - or longer than 64 → 400 + envelope."""
    tool = copy.deepcopy(WEATHER)
    tool["function"]["name"] = name
    ex = client.chat(probes.tool(model, tool_choice="auto", tools=[tool]), label=f"function name {what}")
    expect.rejected(ex, "TOOL-003", f"function name {name[:20]!r} ({what})", param="tools", recorder=recorder)


# -- forced calls ----------------------------------------------------------------------------
@pytest.mark.smoke
@pytest.mark.rules("TOOL-012")
def test_required_makes_a_call(client, model, recorder):
    """TOOL-012: tool_choice "required" → at least one tool call ("the model must call one or more tools")."""
    ex = expect.ok(client.chat(probes.tool(model), label="P-TOOL required"), "TOOL-012")
    for ch in _choices(ex):
        if _cut(recorder, "TOOL-012", ch):
            continue
        calls = _calls(_message(ex, ch))
        expect.field(ex, "TOOL-012", ch["message"].get("tool_calls"), 'at least one tool call under tool_choice "required"',
                     len(calls) >= 1, f"/choices/{ch.get('index')}/message/tool_calls")


@pytest.mark.rules("TOOL-004", "TOOL-005")
def test_tool_call_shape(client, model, recorder):
    """TOOL-004: each tool call is {id: string, type: "function", function: {name: string, arguments: string}};
    TOOL-005: arguments is a string holding JSON text, never an object."""
    ex = expect.ok(client.chat(probes.tool(model), label="P-TOOL required"), "TOOL-004")
    seen = 0
    for ch in _choices(ex):
        for k, call in enumerate(_calls(_message(ex, ch))):
            seen += 1
            where = f"/choices/{ch.get('index')}/message/tool_calls/{k}"
            expect.field(ex, "TOOL-004", call, "a tool-call object", isinstance(call, dict), where)
            expect.field(ex, "TOOL-004", call.get("id"), "id: a string", isinstance(call.get("id"), str), f"{where}/id")
            expect.field(ex, "TOOL-004", call.get("type"), '"function"', call.get("type") == "function", f"{where}/type")
            fn = call.get("function")
            expect.field(ex, "TOOL-004", fn, "a function object", isinstance(fn, dict), f"{where}/function")
            expect.field(ex, "TOOL-004", fn.get("name"), "name: a string", isinstance(fn.get("name"), str), f"{where}/function/name")
            args = fn.get("arguments")
            expect.field(ex, "TOOL-005", args, "arguments: a string of JSON text (not an object)", isinstance(args, str), f"{where}/function/arguments")
    if not seen:
        recorder.note("TOOL-004", "no tool call to inspect (TOOL-012 judges the missing call)")


NAMED = list(fixtures.tool_names())


@pytest.mark.rules("TOOL-006")
@pytest.mark.parametrize("name", NAMED)
def test_arguments_parse_and_validate(client, model, recorder, name):
    """TOOL-006: under a named tool_choice the arguments parse as a JSON object and the name is an offered
    tool; with `strict: true` the arguments also validate against the tool's parameters (without strict,
    a schema mismatch is the model's quality: noted)."""
    tool = fixtures.tool(name)
    body = probes.tool(model, tool_choice=_named(name), tools=[tool, copy.deepcopy(WEATHER)] if name != "get_weather" else [tool])
    body["messages"][0]["content"] = f"Use the tool {name} with realistic arguments."
    # A refusal of a tool without parameters is TOOL-002's finding (that shape must be
    # accepted), not a fault in the arguments.
    refused_rule = "TOOL-006" if "parameters" in tool["function"] else "TOOL-002"
    ex = expect.ok(client.chat(body, label=f"named {name}"), refused_rule, f"a named tool_choice for {name}")
    offered = {t["function"]["name"]: t["function"] for t in body["tools"]}
    for ch in _choices(ex):
        if _cut(recorder, "TOOL-006", ch):
            continue
        for k, call in enumerate(_calls(_message(ex, ch))):
            fn = call.get("function") if isinstance(call, dict) and isinstance(call.get("function"), dict) else {}
            where = f"/choices/{ch.get('index')}/message/tool_calls/{k}/function"
            if fn.get("name") not in offered:
                expect.once(recorder, Violation("TOOL-006", f"a call to an offered tool ({', '.join(offered)})", repr(fn.get("name")), f"{where}/name", ex))
                continue
            args = fn.get("arguments")
            if not isinstance(args, str):
                continue                                  # TOOL-005 judges the type
            try:
                parsed = json.loads(args) if args.strip() else {}
            except ValueError:
                expect.once(recorder, Violation("TOOL-006", "arguments that parse as JSON", f"unparsable: {short(args, 80)}", f"{where}/arguments", ex))
                continue
            if not isinstance(parsed, dict):
                expect.once(recorder, Violation("TOOL-006", "arguments that parse as a JSON object", short(parsed, 80), f"{where}/arguments", ex))
                continue
            params = offered[fn["name"]].get("parameters")
            if isinstance(params, dict):
                errs = list(Draft202012Validator(params).iter_errors(parsed))
                if errs and offered[fn["name"]].get("strict") is True:
                    expect.once(recorder, Violation("TOOL-006", f"arguments valid against {fn['name']}'s parameters (strict: true)",
                                                    f"{errs[0].message} in {short(parsed, 80)}", f"{where}/arguments", ex))
                elif errs:
                    recorder.note("TOOL-006", f"{fn['name']} (not strict): arguments do not match its schema: {errs[0].message}")


@pytest.mark.rules("TOOL-007")
def test_tool_call_ids_unique(client, model, recorder):
    """TOOL-007: tool-call ids are non-empty and unique within a response."""
    body = probes.tool(model, tools=[WEATHER, TIME], parallel_tool_calls=True)
    body["messages"][0]["content"] = TWO_CITIES
    ex = expect.ok(client.chat(body, label="two tools, parallel, required"), "TOOL-007")
    for ch in _choices(ex):
        calls = _calls(_message(ex, ch))
        ids = [c.get("id") if isinstance(c, dict) else None for c in calls]
        expect.field(ex, "TOOL-007", ids, "non-empty, unique tool-call ids",
                     all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids),
                     f"/choices/{ch.get('index')}/message/tool_calls")
        if len(calls) < 2:
            recorder.note("TOOL-007", f"choice {ch.get('index')}: {len(calls)} call(s) for three questions; "
                                      "parallel calls are the model's choice, uniqueness only judged on what came")


@pytest.mark.rules("TOOL-008")
@pytest.mark.parametrize("choice", ["required", "named"])
def test_finish_reason_after_calls(client, model, recorder, choice):
    """TOOL-008: finish_reason is "tool_calls" when the model called tools under auto/required;
    under a named tool_choice "stop" (api.openai.com) or "tool_calls"."""
    tc = "required" if choice == "required" else _named("get_weather")
    ex = expect.ok(client.chat(probes.tool(model, tool_choice=tc), label=f"P-TOOL {choice}"), "TOOL-008")
    allowed = ("tool_calls",) if choice == "required" else ("stop", "tool_calls")
    for ch in _choices(ex):
        if _cut(recorder, "TOOL-008", ch) or not _calls(_message(ex, ch)):
            continue                                      # no call: TOOL-012/013 judge that
        fr = ch.get("finish_reason")
        expect.field(ex, "TOOL-008", fr, " or ".join(f'"{a}"' for a in allowed) + " after tool calls",
                     fr in allowed, f"/choices/{ch.get('index')}/finish_reason")
        if choice == "named":
            recorder.note("TOOL-008", f"named tool_choice ends with finish_reason {fr!r} (api.openai.com: stop)")


@pytest.mark.rules("TOOL-009")
def test_content_with_calls(client, model):
    """TOOL-009: with tool calls, message.content is null or a string."""
    ex = expect.ok(client.chat(probes.tool(model), label="P-TOOL required"), "TOOL-009")
    for ch in _choices(ex):
        msg = _message(ex, ch)
        if _calls(msg):
            c = msg.get("content", "(absent)")
            expect.field(ex, "TOOL-009", c, "content null or a string beside tool_calls",
                         "content" in msg and (c is None or isinstance(c, str)), f"/choices/{ch.get('index')}/message/content")


CHOICES = [("none", "none"), ("auto", "auto"), ("required", "required"), ("named", _named("get_weather"))]


@pytest.mark.rules("TOOL-010")
@pytest.mark.parametrize("what,choice", CHOICES, ids=[c[0] for c in CHOICES])
def test_tool_choice_forms_accepted(client, model, what, choice):
    """TOOL-010: tool_choice accepts "none", "auto", "required" and {"type": "function", "function": {"name"}}."""
    expect.ok(client.chat(probes.tool(model, tool_choice=choice), label=f"tool_choice {what}"), "TOOL-010", f"tool_choice {what}")


@pytest.mark.rules("TOOL-011")
def test_none_means_no_calls(client, model):
    """TOOL-011: tool_choice "none" → no tool_calls; the model generates a message (content a string)."""
    ex = expect.ok(client.chat(probes.tool(model, tool_choice="none", max_tokens=16), label="tool_choice none"), "TOOL-011")
    for ch in _choices(ex):
        msg = _message(ex, ch)
        i = ch.get("index")
        expect.field(ex, "TOOL-011", msg.get("tool_calls"), 'no tool_calls under tool_choice "none"', not _calls(msg), f"/choices/{i}/message/tool_calls")
        expect.field(ex, "TOOL-011", msg.get("content"), "a message: content a string", isinstance(msg.get("content"), str), f"/choices/{i}/message/content")


@pytest.mark.rules("TOOL-013")
def test_named_choice_calls_that_function(client, model, recorder):
    """TOOL-013: a named tool_choice → a call to exactly that function ("forces the model to call that tool")."""
    body = probes.tool(model, tool_choice=_named("get_time"), tools=[WEATHER, TIME])
    ex = expect.ok(client.chat(body, label="named get_time of two"), "TOOL-013")
    for ch in _choices(ex):
        if _cut(recorder, "TOOL-013", ch):
            continue
        calls = _calls(_message(ex, ch))
        names = [c.get("function", {}).get("name") if isinstance(c, dict) and isinstance(c.get("function"), dict) else None for c in calls]
        expect.field(ex, "TOOL-013", names, "one or more calls, every one to 'get_time'",
                     bool(names) and all(n == "get_time" for n in names), f"/choices/{ch.get('index')}/message/tool_calls")


INCONSISTENT = [
    ("named function not in tools", lambda m: probes.tool(m, tool_choice=_named("no_such_fn"))),
    ("required without tools", lambda m: {k: v for k, v in probes.tool(m).items() if k != "tools"}),
    ("named without tools", lambda m: {k: v for k, v in probes.tool(m, tool_choice=_named("get_weather")).items() if k != "tools"}),
]


@pytest.mark.rules("TOOL-014")
@pytest.mark.parametrize("what,build", INCONSISTENT, ids=[c[0] for c in INCONSISTENT])
def test_inconsistent_tool_choice_rejected(client, model, recorder, what, build):
    """TOOL-014 (SHOULD): a named choice for a function not in `tools`, or a non-"none" choice without tools → 400 + envelope.

    RULES.md says "(record)"; the rule sentence itself asks for 400, so a 200 is reported
    as a TOOL-014 violation at SHOULD strength (a warning under --level must), and the
    answer given instead is noted.
    """
    ex = client.chat(build(model), label=what)
    if ex.status == 200:
        calls = [c for ch in _choices(ex) if isinstance(ch.get("message"), dict) for c in _calls(ch["message"])]
        recorder.note("TOOL-014", f"{what}: answered 200 with {len(calls)} tool call(s) instead of refusing")
    expect.rejected(ex, "TOOL-014", what, param="tool_choice", recorder=recorder)


@pytest.mark.rules("TOOL-015")
def test_parallel_tool_calls_false(client, model, recorder):
    """TOOL-015: parallel_tool_calls is accepted; with false a response holds at most one tool call."""
    body = probes.tool(model, tools=[WEATHER, TIME], parallel_tool_calls=False)
    body["messages"][0]["content"] = TWO_CITIES
    ex = expect.ok(client.chat(body, label="P-TOOL-2 parallel false"), "TOOL-015", "parallel_tool_calls: false")
    for ch in _choices(ex):
        calls = _calls(_message(ex, ch))
        expect.field(ex, "TOOL-015", len(calls), "at most one tool call with parallel_tool_calls: false",
                     len(calls) <= 1, f"/choices/{ch.get('index')}/message/tool_calls")
    on = dict(body, parallel_tool_calls=True)
    ex2 = expect.ok(client.chat(on, label="P-TOOL-2 parallel true"), "TOOL-015", "parallel_tool_calls: true")
    n = max((len(_calls(ch.get("message") or {})) for ch in _choices(ex2)), default=0)
    recorder.note("TOOL-015", f"with parallel_tool_calls true: {n} call(s) for three questions (model's choice)")


# -- the round trip ----------------------------------------------------------------------------
def _first_step(client, model, recorder, tools):
    """Step 1 of the round trip: the target's own calls (forced), or a stand-in when it was cut."""
    body = probes.tool(model, tools=tools)
    body["messages"][0]["content"] = TWO_CITIES if len(tools) > 1 else body["messages"][0]["content"]
    ex = expect.ok(client.chat(body, label="round trip step 1"), "TOOL-016", "step 1 (tool_choice required)")
    ch = (_choices(ex) or [{}])[0]
    msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
    calls = [c for c in _calls(msg) if isinstance(c, dict) and isinstance(c.get("function"), dict)
             and isinstance(c.get("id"), str) and isinstance(c["function"].get("arguments"), str)]
    if not calls:
        recorder.note("TOOL-016", "step 1 gave no usable tool call; the round trip uses a stand-in call")
        calls = [{"id": "call_conformance0000000000001", "type": "function",
                  "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    calls = [{"id": c["id"], "type": "function", "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}}
             for c in calls]
    return body, calls


def _result_for(call) -> str:
    return json.dumps({"tool": call["function"]["name"], "result": "18 degrees and sunny" if "weather" in call["function"]["name"] else "14:05"})


@pytest.mark.rules("TOOL-016")
@pytest.mark.parametrize("tools", ["one", "two"])
def test_round_trip(client, model, recorder, tools):
    """TOOL-016: the assistant message (tool_calls, content null) sent back, followed by one
    {role: "tool", tool_call_id, content} per call, yields 200 and an answer."""
    body, calls = _first_step(client, model, recorder, [WEATHER] if tools == "one" else [WEATHER, TIME])
    messages = body["messages"] + [{"role": "assistant", "content": None, "tool_calls": calls}]
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": _result_for(c)} for c in calls]
    step2 = dict(body, messages=messages, tool_choice="auto", max_tokens=32)
    ex = expect.ok(client.chat(step2, label=f"round trip step 2 ({len(calls)} result(s))"), "TOOL-016", "the tool results sent back")
    for ch in _choices(ex):
        msg = _message(ex, ch)
        if ch.get("finish_reason") != "stop" or "18" not in str(msg.get("content")):
            recorder.note("TOOL-016", f"step 2 ended {ch.get('finish_reason')!r} with content {short(msg.get('content'), 60)} "
                                      "(using the result is the model's business)")


@pytest.mark.rules("TOOL-017")
def test_tool_message_array_content(client, model, recorder):
    """TOOL-017: a tool message's content may be an array of text parts."""
    body, calls = _first_step(client, model, recorder, [WEATHER])
    messages = body["messages"] + [{"role": "assistant", "content": None, "tool_calls": calls}]
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": [{"type": "text", "text": _result_for(c)}]} for c in calls]
    ex = client.chat(dict(body, messages=messages, tool_choice="auto", max_tokens=32), label="tool content as text parts")
    expect.ok(ex, "TOOL-017", "a tool message with content [{type: text}]")


ORPHANS = [
    ("tool message without a preceding call", lambda m: [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "tool", "tool_call_id": "call_conformance_orphan", "content": "18 degrees"}]),
    ("tool_call_id answering no call", lambda m: [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_conformance_a", "type": "function",
                                                                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_conformance_b", "content": "18 degrees"}]),
    ("call without its tool message", lambda m: [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_conformance_a", "type": "function",
                                                                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "user", "content": "And now?"}]),
]


@pytest.mark.rules("TOOL-018")
@pytest.mark.parametrize("what,messages", ORPHANS, ids=[o[0] for o in ORPHANS])
def test_orphan_tool_messages_rejected(client, model, recorder, what, messages):
    """TOOL-018: a tool message answering no preceding tool_calls, or a tool_calls message not
    followed by a tool message for each id → 400 + envelope."""
    body = probes.tool(model, tool_choice="auto")
    body["messages"] = messages(model)
    expect.rejected(client.chat(body, label=what), "TOOL-018", what, param="messages", recorder=recorder)


# -- streamed tool calls ---------------------------------------------------------------------
def _tool_stream(client, model, choice, rule):
    if choice == "named":
        body = probes.tool(model, tool_choice=_named("get_weather"), stream=True)
    else:
        body = probes.tool(model, tools=[WEATHER, TIME], stream=True, parallel_tool_calls=True)
        body["messages"][0]["content"] = TWO_CITIES
    ex = expect.ok(client.chat(body, label=f"P-TOOL stream {choice}"), rule, f"a streamed tool_choice {choice} request")
    if not ex.is_stream:
        raise Violation("HTTP-005", "an SSE event stream for stream: true", repr(ex.headers.get("content-type")), "body", ex)
    return ex


@pytest.fixture(params=["required", "named"])
def tool_stream(request, client, model):
    rule = request.node.get_closest_marker("rules").args[0]
    return request.param, _tool_stream(client, model, request.param, rule)


def _stream_calls(ex, recorder, rule):
    """(choice index, ChoiceParts) pairs that carry tool calls; notes when there are none to judge."""
    a = assemble(ex.chunks)
    out = [(idx, a.choices[idx]) for idx in a.order if a.choices[idx].tool_calls]
    if not out:
        recorder.note(rule, "the stream carried no tool-call fragment (TOOL-012/013 judge a missing forced call)")
    return a, out


def _fragments(ex):
    """(chunk position, choice, fragment) for every delta.tool_calls item of a stream."""
    for pos, chunk in enumerate(ex.chunks):
        for ch in chunk.get("choices") or []:
            delta = ch.get("delta") if isinstance(ch, dict) and isinstance(ch.get("delta"), dict) else {}
            for frag in delta.get("tool_calls") or []:
                yield pos, ch, frag


@pytest.mark.rules("TOOL-019")
@pytest.mark.needs("streaming")
def test_stream_fragments_have_index(tool_stream, recorder):
    """TOOL-019: in streams every delta.tool_calls[] item has an integer index."""
    _, ex = tool_stream
    seen = 0
    for pos, ch, frag in _fragments(ex):
        seen += 1
        idx = frag.get("index") if isinstance(frag, dict) else None
        expect.field(ex, "TOOL-019", frag, "an integer index on the fragment",
                     isinstance(idx, int) and not isinstance(idx, bool), f"chunk[{pos}]/choices/{ch.get('index')}/delta/tool_calls")
    if not seen:
        recorder.note("TOOL-019", "no tool-call fragment in the stream")


@pytest.mark.rules("TOOL-020")
@pytest.mark.needs("streaming")
def test_stream_first_fragment_names_the_call(tool_stream, recorder):
    """TOOL-020: the first fragment of each call carries id, type "function" and function.name; later ones never repeat them."""
    _, ex = tool_stream
    firsts: dict = {}
    for pos, ch, frag in _fragments(ex):
        if not isinstance(frag, dict):
            continue
        key = (ch.get("index"), repr(frag.get("index")))
        fn = frag.get("function") if isinstance(frag.get("function"), dict) else {}
        where = f"chunk[{pos}]/choices/{ch.get('index')}/delta/tool_calls/{frag.get('index')}"
        if key not in firsts:
            firsts[key] = pos
            expect.field(ex, "TOOL-020", frag, 'id, type "function" and function.name in the first fragment',
                         bool(frag.get("id")) and frag.get("type") == "function" and bool(fn.get("name")), where)
        else:
            expect.field(ex, "TOOL-020", frag, "only index and function.arguments after the first fragment",
                         not frag.get("id") and not fn.get("name"), where)
    if not firsts:
        recorder.note("TOOL-020", "no tool-call fragment in the stream")


@pytest.mark.rules("TOOL-021")
@pytest.mark.needs("streaming")
def test_stream_arguments_join_to_json(tool_stream, recorder):
    """TOOL-021: the arguments fragments of one index, joined in order, parse as a JSON object."""
    _, ex = tool_stream
    a, calls = _stream_calls(ex, recorder, "TOOL-021")
    for idx, c in calls:
        if c.finish_reason == "length":
            recorder.note("TOOL-021", f"choice {idx} hit the token limit: arguments not judged")
            continue
        for k in c.tool_call_order:
            args = c.tool_calls[k].arguments
            try:
                parsed = json.loads(args) if args.strip() else {}
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                expect.once(recorder, Violation("TOOL-021", "joined arguments that parse as a JSON object",
                                                short(args, 80), f"choices/{idx}/tool_calls/{k}/function/arguments", ex))


@pytest.mark.rules("TOOL-022")
@pytest.mark.needs("streaming")
def test_stream_call_indexes_in_order(tool_stream, recorder):
    """TOOL-022: tool-call indexes within a choice start at 0 and increase by one in order of first appearance; distinct ids."""
    _, ex = tool_stream
    a, calls = _stream_calls(ex, recorder, "TOOL-022")
    for idx, c in calls:
        order = c.tool_call_order
        expect.field(ex, "TOOL-022", order, f"indexes {list(range(len(order)))} in order of first appearance",
                     order == list(range(len(order))), f"choices/{idx}/tool_calls")
        ids = [c.tool_calls[k].id for k in order]
        expect.field(ex, "TOOL-022", ids, "a distinct id per call", len(set(ids)) == len(ids), f"choices/{idx}/tool_calls")
        if len(order) < 2:
            recorder.note("TOOL-022", f"choice {idx}: {len(order)} streamed call(s); parallel calls are the model's choice")


@pytest.mark.rules("TOOL-023")
@pytest.mark.needs("streaming")
def test_stream_finish_reason(tool_stream, recorder):
    """TOOL-023: a streamed tool-call turn ends with finish_reason "tool_calls" ("stop" also under a named tool_choice)."""
    kind, ex = tool_stream
    a, calls = _stream_calls(ex, recorder, "TOOL-023")
    allowed = ("tool_calls",) if kind == "required" else ("stop", "tool_calls")
    for idx, c in calls:
        if c.finish_reason == "length":
            recorder.note("TOOL-023", f"choice {idx} hit the token limit")
            continue
        expect.field(ex, "TOOL-023", c.finish_reason, " or ".join(allowed) + " after streamed tool calls",
                     c.finish_reason in allowed, f"choices/{idx}/finish_reason")
