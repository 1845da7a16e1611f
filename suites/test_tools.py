"""Tools (TOOL): function definitions, tool_choice, tool calls, the round trip, streamed calls.

Each test provokes one behaviour and names the rules it exercises; the tool checks
(chatconform/checks/tools.py) judge every answer any test receives.  What the server must
enforce is asked with a prompt under which honouring and ignoring the parameter give
different answers, whatever the model: `required` or a named choice with a prompt that
asks for no tool (or for another one), `none` with a prompt that begs for a call,
`parallel_tool_calls: false` with a prompt that draws two calls.  Forced calls get a token
limit they fit in (checks.tools.ROOM), so a cut with no call is judged, not excused.
`accept=` names the rule that makes each request valid: if the server refuses it, that
rule fails and the test's other rules are "not judged".
"""

import copy

import pytest

from chatconform import fixtures, probes
from chatconform.checks.tools import ROOM

pytestmark = pytest.mark.area("tools")

WEATHER, TIME = probes.WEATHER_TOOL, probes.TIME_TOOL

# Prompts chosen for what a model does with them under `auto`.
ASKS_NOTHING = "Reply with the single word OK."  # no tool: `required` must still call
ASKS_WEATHER = "What is the weather in Paris? Use the weather tool."  # get_weather: a named get_time must win
BEGS_FOR_A_CALL = (
    "Call the get_weather tool for Paris now. You must use the tool; "
    "do not answer in text."
)  # a call: `none` must still give text
TWO_THINGS = "What is the weather in Paris and in Rome, and the time in Tokyo? Call the tools once per question."


def _named(name: str) -> dict:
    return {"type": "function", "function": {"name": name}}


def _strict(tool: dict) -> dict:
    """A strict: true copy of a probe tool (closed object, every property required)."""
    t = copy.deepcopy(tool)
    t["function"]["strict"] = True
    t["function"]["parameters"]["additionalProperties"] = False
    return t


def _asking(body: dict, prompt: str) -> dict:
    body["messages"] = [{"role": "user", "content": prompt}]
    return body


# -- definitions ---------------------------------------------------------------------------
@pytest.mark.rules("TOOL-001")
def test_tool_definition_accepted(client, model):
    """TOOL-001: `tools: [{type: "function", function: {name, description?, parameters?, strict?}}]`
    is accepted (P-TOOL without tool_choice, so only the tools are on trial → 200)."""
    body = probes.tool(model)
    del body["tool_choice"]
    client.chat(body, label="P-TOOL, default tool_choice", accept="TOOL-001")


def _variants():
    out = [(name, fixtures.tool(name)) for name in fixtures.tool_names()]
    for strict in (False, None, True):
        t = copy.deepcopy(WEATHER)
        t["function"]["strict"] = strict
        if strict:
            t["function"]["parameters"]["additionalProperties"] = False
        out.append((f"get_weather-strict-{str(strict).lower()}", t))
    out.append(("name-only", {"type": "function", "function": {"name": "ping"}}))
    return out


VARIANTS = _variants()


@pytest.mark.rules("TOOL-002")
@pytest.mark.parametrize("name,tool", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_tool_shapes_accepted(client, model, name, tool):
    """TOOL-002: `parameters` may be omitted and `strict` may be true, false or null; nested,
    enum-heavy and strict schemas are accepted."""
    body = _asking(
        probes.tool(model, tool_choice="auto", tools=[tool]),
        f"Call the tool {tool['function']['name']} if it helps, then answer.",
    )
    client.chat(body, label=f"tool {name}", accept="TOOL-002")


BAD_NAMES = [("space and bang", "bad name!"), ("dot", "get.weather"), ("65 characters", "f" * 65), ("empty", "")]


@pytest.mark.rules("TOOL-003")
@pytest.mark.parametrize("what,name", BAD_NAMES, ids=[b[0] for b in BAD_NAMES])
def test_invalid_function_name(client, model, what, name):
    """TOOL-003: a function name outside a-z A-Z 0-9 _ - or longer than 64 → 400 + envelope."""
    tool = copy.deepcopy(WEATHER)
    tool["function"]["name"] = name
    client.chat(
        probes.tool(model, tool_choice="auto", tools=[tool]),
        label=f"function name {what}",
        refuse="TOOL-003",
        param="tools",
    )


# -- forced calls ----------------------------------------------------------------------------
@pytest.mark.smoke
@pytest.mark.rules("TOOL-012")
def test_required_makes_a_call(client, model):
    """TOOL-012: tool_choice "required" → at least one tool call, with a prompt that asks for
    no tool (a server treating required as auto answers in text) and room for the call."""
    body = _asking(probes.tool(model, limit=ROOM), ASKS_NOTHING)
    client.chat(body, label="required, a prompt asking for no tool", accept="TOOL-010")


@pytest.mark.rules("TOOL-013")
def test_named_choice_calls_that_function(client, model):
    """TOOL-013: a named tool_choice → calls to exactly that function: get_time, while the
    prompt asks for the weather (a server treating the choice as auto calls get_weather)."""
    body = _asking(probes.tool(model, tool_choice=_named("get_time"), tools=[WEATHER, TIME], limit=ROOM), ASKS_WEATHER)
    client.chat(body, label="named get_time, a prompt asking for the weather", accept="TOOL-010")


@pytest.mark.rules("TOOL-011")
def test_none_means_no_calls(client, model):
    """TOOL-011: tool_choice "none" → no tool_calls and a message, with a prompt that begs for
    a call (a server treating none as auto calls)."""
    body = _asking(probes.tool(model, tool_choice="none", limit=probes.SHORT), BEGS_FOR_A_CALL)
    client.chat(body, label="none, a prompt begging for a call", accept="TOOL-010")


@pytest.mark.rules("TOOL-004", "TOOL-005")
def test_tool_call_shape(client, model):
    """TOOL-004: each tool call is {id: string, type: "function", function: {name: string,
    arguments: string}}; TOOL-005: arguments is a string holding JSON text, never an object."""
    client.chat(probes.tool(model, limit=ROOM), label="P-TOOL required", accept="TOOL-010")


NAMED = list(fixtures.tool_names()) + ["get_weather-strict"]


def _fixture_tool(name: str) -> dict:
    return _strict(WEATHER) if name == "get_weather-strict" else fixtures.tool(name)


@pytest.mark.rules("TOOL-006")
@pytest.mark.parametrize("name", NAMED)
def test_arguments_parse_and_validate(client, model, name):
    """TOOL-006: under a named tool_choice the call names an offered tool; for a `strict: true`
    tool (book_meeting_room, get_weather-strict) the arguments are a JSON object valid
    against its parameters.  Without strict the arguments are the model's: noted."""
    tool = _fixture_tool(name)
    fn = tool["function"]
    others = [copy.deepcopy(TIME)] if fn["name"] != "get_time" else []
    body = _asking(
        probes.tool(model, tool_choice=_named(fn["name"]), tools=[tool, *others], limit=ROOM),
        f"Use the tool {fn['name']} with realistic arguments.",
    )
    # The tool's own shape is what a refusal is about: a function without parameters or
    # with strict is TOOL-002's to accept, any other one TOOL-001's.
    premise = "TOOL-002" if "parameters" not in fn or "strict" in fn else "TOOL-001"
    client.chat(body, label=f"named {name}", accept=premise)


@pytest.mark.rules("TOOL-007")
def test_tool_call_ids_unique(client, model):
    """TOOL-007: tool-call ids are non-empty and unique within a response, with a prompt that
    draws two calls (ids are only distinct or not where there are two)."""
    body = _asking(probes.tool(model, tools=[WEATHER, TIME], limit=ROOM), TWO_THINGS)
    client.chat(body, label="required, two tools, a prompt asking two things", accept="TOOL-010")


@pytest.mark.rules("TOOL-008")
@pytest.mark.parametrize("choice", ["required", "named"])
def test_finish_reason_after_calls(client, model, choice):
    """TOOL-008: finish_reason is "tool_calls" after calls under required; under a named
    tool_choice "stop" (api.openai.com) or "tool_calls"."""
    tc = "required" if choice == "required" else _named("get_weather")
    client.chat(probes.tool(model, tool_choice=tc, limit=ROOM), label=f"P-TOOL {choice}", accept="TOOL-010")


@pytest.mark.rules("TOOL-009")
def test_content_with_calls(client, model):
    """TOOL-009: with tool calls, message.content is null or a string."""
    client.chat(probes.tool(model, limit=ROOM), label="P-TOOL required", accept="TOOL-010")


CHOICES = [("none", "none"), ("auto", "auto"), ("required", "required"), ("named", _named("get_weather"))]


@pytest.mark.rules("TOOL-010")
@pytest.mark.parametrize("what,choice", CHOICES, ids=[c[0] for c in CHOICES])
def test_tool_choice_forms_accepted(client, model, what, choice):
    """TOOL-010: tool_choice accepts "none", "auto", "required" and {"type": "function", "function": {"name"}}."""
    client.chat(probes.tool(model, tool_choice=choice, limit=ROOM), label=f"tool_choice {what}", accept="TOOL-010")


INCONSISTENT = [
    ("named function not in tools", lambda m: probes.tool(m, tool_choice=_named("no_such_fn"))),
    ("required without tools", lambda m: {k: v for k, v in probes.tool(m).items() if k != "tools"}),
    (
        "named without tools",
        lambda m: {k: v for k, v in probes.tool(m, tool_choice=_named("get_weather")).items() if k != "tools"},
    ),
]


@pytest.mark.rules("TOOL-014")
@pytest.mark.parametrize("what,build", INCONSISTENT, ids=[c[0] for c in INCONSISTENT])
def test_inconsistent_tool_choice_rejected(client, model, what, build):
    """TOOL-014 (SHOULD): a named choice for a function not in `tools`, or a non-"none" choice
    without tools → 400 + envelope."""
    client.chat(build(model), label=what, refuse="TOOL-014", param="tool_choice")


@pytest.mark.rules("TOOL-015", "TOOL-025")
def test_parallel_tool_calls(client, model, recorder):
    """TOOL-015: parallel_tool_calls true and false are accepted.  TOOL-025: with false at
    most one call, asked with a prompt that draws two calls; judged against the same
    request with true (where the model made one call anyway, false cannot be told from
    ignored)."""
    body = _asking(probes.tool(model, tool_choice="auto", tools=[WEATHER, TIME], limit=ROOM), TWO_THINGS)
    on = client.chat(dict(body, parallel_tool_calls=True), label="two things, parallel true", accept="TOOL-015")
    off = client.chat(dict(body, parallel_tool_calls=False), label="two things, parallel false", accept="TOOL-015")
    recorder.relate("parallel_off_honoured", on, off)


# -- the round trip ----------------------------------------------------------------------------
STAND_IN = {
    "id": "call_conformance0000000000001",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def _first_step(client, model, recorder, tools):
    """Step 1 of the round trip: the target's own calls (forced), or a stand-in where it gave
    none usable (step 2 is about sending results back, not about step 1's answer)."""
    body = probes.tool(model, tools=tools, limit=ROOM)
    if len(tools) > 1:
        _asking(body, TWO_THINGS)
    ex = client.chat(body, label="round trip step 1 (required)", accept="TOOL-010")
    ch = ((ex.json or {}).get("choices") or [{}])[0] if isinstance(ex.json, dict) else {}
    msg = ch.get("message") if isinstance(ch, dict) and isinstance(ch.get("message"), dict) else {}
    calls = [
        c
        for c in msg.get("tool_calls") or []
        if isinstance(c, dict)
        and isinstance(c.get("function"), dict)
        and isinstance(c.get("id"), str)
        and isinstance(c["function"].get("name"), str)
        and isinstance(c["function"].get("arguments"), str)
    ]
    if not calls:
        recorder.note("TOOL-016", "step 1 gave no usable tool call; the round trip uses a stand-in call")
        calls = [STAND_IN]
    calls = [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]},
        }
        for c in calls
    ]
    return body, calls


def _result_for(call) -> str:
    return '{"result": "18 degrees and sunny"}' if "weather" in call["function"]["name"] else '{"result": "14:05"}'


@pytest.mark.rules("TOOL-016")
@pytest.mark.parametrize("tools", ["one", "two"])
def test_round_trip(client, model, recorder, tools):
    """TOOL-016: the assistant message (tool_calls, content null) sent back, followed by one
    {role: "tool", tool_call_id, content} per call, yields 200 and an answer (whether it
    uses the results is the model's business)."""
    body, calls = _first_step(client, model, recorder, [WEATHER] if tools == "one" else [WEATHER, TIME])
    messages = body["messages"] + [{"role": "assistant", "content": None, "tool_calls": calls}]
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": _result_for(c)} for c in calls]
    step2 = probes.tool(model, tool_choice="auto", tools=body["tools"], limit=32)
    step2["messages"] = messages
    client.chat(step2, label=f"round trip step 2 ({len(calls)} result(s))", accept="TOOL-016")


@pytest.mark.rules("TOOL-017")
def test_tool_message_array_content(client, model, recorder):
    """TOOL-017: a tool message's content may be an array of text parts."""
    body, calls = _first_step(client, model, recorder, [WEATHER])
    messages = body["messages"] + [{"role": "assistant", "content": None, "tool_calls": calls}]
    messages += [
        {"role": "tool", "tool_call_id": c["id"], "content": [{"type": "text", "text": _result_for(c)}]} for c in calls
    ]
    step2 = probes.tool(model, tool_choice="auto", tools=body["tools"], limit=32)
    step2["messages"] = messages
    client.chat(step2, label="tool content as text parts", accept="TOOL-017")


ORPHANS = [
    (
        "tool message without a preceding call",
        [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "tool", "tool_call_id": "call_conformance_orphan", "content": "18 degrees"},
        ],
    ),
    (
        "tool_call_id answering no call",
        [
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_conformance_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_conformance_b", "content": "18 degrees"},
        ],
    ),
    (
        "call without its tool message",
        [
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_conformance_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "user", "content": "And now?"},
        ],
    ),
]


@pytest.mark.rules("TOOL-018")
@pytest.mark.parametrize("what,messages", ORPHANS, ids=[o[0] for o in ORPHANS])
def test_orphan_tool_messages_rejected(client, model, what, messages):
    """TOOL-018: a tool message answering no preceding tool_calls, or a tool_calls message not
    followed by a tool message for each id → 400 + envelope."""
    body = probes.tool(model, tool_choice="auto")
    body["messages"] = copy.deepcopy(messages)
    client.chat(body, label=what, refuse="TOOL-018", param="messages")


# -- streamed tool calls ---------------------------------------------------------------------
@pytest.fixture(params=["required", "named"])
def tool_stream(request, client, model):
    """A streamed forced call of strict tools (their arguments are promised JSON, TOOL-021):
    `required` with a prompt that draws two calls (indexes 0 and 1, two ids), or a named
    choice (one call, finish_reason stop allowed)."""
    if request.param == "named":
        body = probes.tool(model, tool_choice=_named("get_weather"), tools=[_strict(WEATHER)], stream=True, limit=ROOM)
    else:
        body = _asking(probes.tool(model, tools=[_strict(WEATHER), _strict(TIME)], stream=True, limit=ROOM), TWO_THINGS)
    return client.chat(body, label=f"P-TOOL stream {request.param}", accept="TOOL-010")


@pytest.mark.rules("TOOL-019")
@pytest.mark.needs("streaming")
def test_stream_fragments_have_index(tool_stream):
    """TOOL-019: in streams every delta.tool_calls[] item has an integer index."""


@pytest.mark.rules("TOOL-020")
@pytest.mark.needs("streaming")
def test_stream_first_fragment_names_the_call(tool_stream):
    """TOOL-020: the first fragment of each call carries id, type "function" and function.name;
    later ones never repeat the id or the name."""


@pytest.mark.rules("TOOL-021")
@pytest.mark.needs("streaming")
def test_stream_arguments_join_to_json(tool_stream):
    """TOOL-021: the arguments fragments of one index, joined in order, parse as a JSON object
    (judged for strict tools, whose arguments are promised JSON)."""


@pytest.mark.rules("TOOL-022")
@pytest.mark.needs("streaming")
def test_stream_call_indexes_in_order(tool_stream):
    """TOOL-022: tool-call indexes within a choice start at 0 and increase by one in order of
    first appearance; parallel calls have distinct ids."""


@pytest.mark.rules("TOOL-023")
@pytest.mark.needs("streaming")
def test_stream_finish_reason(tool_stream):
    """TOOL-023: a streamed tool-call turn ends with finish_reason "tool_calls" ("stop" also
    under a named tool_choice)."""
