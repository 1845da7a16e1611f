"""The tool checks (chatconform/checks/tools.py) on recorded answers, the fake model's tool
behaviour, and the tools suite against a server that refuses its premise.

Each test here failed before the fix it comes with:
* the checks judge only what the server promises (strict: true, a forced choice), and
  say so; argument quality without strict is a Note;
* a forced choice cut by a generous token limit before any call is a failure, not an
  excuse; under a limit too small for the call it is not judged;
* TOOL-020 is judged in one place, by the rule text (type "function" in the first fragment);
* parallel_tool_calls: false is judged at SHOULD (TOOL-025), and passes only where the
  same prompt drew two calls when parallel calls were allowed;
* the fake model calls under auto only when asked, and twice only when asked two things,
  so a server that treats a parameter as auto shows only on a prompt that tells them apart;
* a refused premise (422 for `required`) fails the premise rule only.
"""

from __future__ import annotations

import json
import pathlib
import secrets
import time

import pytest

from chatconform import checks
from chatconform.checks.tools import ROOM
from chatconform.observer import Recorder
from chatconform.reference import model as fake_model
from chatconform.violations import Intent
from tests import helpers
from tests.helpers import chunk, good_response, json_exchange, sse_of, stream_exchange

ROOT = pathlib.Path(__file__).resolve().parents[1]
USER = [{"role": "user", "content": "Reply with the single word OK."}]
PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMS}}
STRICT = {"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": PARAMS}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": PARAMS}}


def call(args='{"city": "Paris"}', name="get_weather", id_="call_1"):
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}


def answer(calls=None, content=None, finish="tool_calls", tokens=5):
    r = good_response()
    r["created"] = int(time.time())
    msg = r["choices"][0]["message"]
    msg["content"] = content
    if calls:
        msg["tool_calls"] = calls
    r["choices"][0]["finish_reason"] = finish
    r["usage"] = {"prompt_tokens": 3, "completion_tokens": tokens, "total_tokens": 3 + tokens}
    return r


def request(tools=(WEATHER,), choice="required", **extra):
    return {"model": "m", "messages": USER, "tools": list(tools), "tool_choice": choice, **extra}


def found(payload, req):
    return checks.run(json_exchange(payload, req))


def broken(payload, req) -> set[str]:
    return {v.rule for v in found(payload, req).violations}


def noted(payload, req) -> set[str]:
    return {n.rule for n in found(payload, req).notes}


# -- item 3: only what the server promises --------------------------------------------------------
@pytest.mark.parametrize(
    "choice",
    ["required", {"type": "function", "function": {"name": "get_weather"}}, "auto"],
    ids=["required", "named", "auto"],
)
@pytest.mark.parametrize(
    "args", ['{"city": "Par', "[]", '"Paris"', '{"town": 1}'], ids=["unparsable", "array", "string", "schema"]
)
def test_arguments_without_strict_are_the_models(choice, args):
    """Without strict: true the arguments are the model's, under a forced choice too: a note,
    and TOOL-006 is judged only for the name where the choice is forced."""
    out = found(
        answer([call(args)], finish="stop" if isinstance(choice, dict) else "tool_calls"), request(choice=choice)
    )
    assert "TOOL-006" not in {v.rule for v in out.violations}
    assert "TOOL-006" in {n.rule for n in out.notes}
    assert ("TOOL-006" in out.judged) == (choice != "auto")


@pytest.mark.parametrize("choice", ["required", "auto"])
@pytest.mark.parametrize("args", ['{"city": "Par', "[]", '{"town": 1}'], ids=["unparsable", "array", "schema"])
def test_strict_arguments_are_the_servers(choice, args):
    """strict: true promises JSON arguments valid against the parameters, whatever tool_choice."""
    assert "TOOL-006" in broken(answer([call(args)]), request(tools=[STRICT], choice=choice))


def test_strict_arguments_in_a_stream_that_do_not_join_are_tool_021():
    req = {**request(tools=[STRICT]), "stream": True}
    frags = [
        chunk(delta={"role": "assistant", "content": None}),
        chunk(
            delta={
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk(delta={}, finish="tool_calls"),
    ]
    out = checks.run(stream_exchange(sse_of(frags), req))
    assert {v.rule for v in out.violations} == {"TOOL-021"}
    loose = checks.run(stream_exchange(sse_of(frags), {**req, "tools": [WEATHER]}))
    assert not loose.violations and "TOOL-021" in loose.unjudged


def test_a_name_not_offered_fails_only_a_forced_choice():
    bad = answer([call(name="get_wether")])
    assert "TOOL-006" in broken(bad, request())
    assert "TOOL-006" not in broken(bad, request(choice="auto")) and "TOOL-006" in noted(bad, request(choice="auto"))


def test_arguments_cut_by_the_limit_are_not_judged():
    out = found(
        answer([call('{"city": "Pa')], finish="length", tokens=8), request(tools=[STRICT], max_completion_tokens=8)
    )
    assert not out.violations and "TOOL-006" in out.judged  # the name, under required
    auto = found(
        answer([call('{"city": "Pa')], finish="length", tokens=8),
        request(tools=[STRICT], choice="auto", max_completion_tokens=8),
    )
    assert "TOOL-006" in auto.unjudged and "cut" in auto.unjudged["TOOL-006"]


# -- item 4: a forced choice needs room, and is judged when it had it ------------------------------
RAW = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call> lorem ipsum'


@pytest.mark.parametrize(
    "choice,rule",
    [("required", "TOOL-012"), ({"type": "function", "function": {"name": "get_weather"}}, "TOOL-013")],
    ids=["required", "named"],
)
def test_forced_choice_cut_under_a_generous_limit_fails(choice, rule):
    req = request(choice=choice, max_completion_tokens=ROOM)
    out = found(answer(content=RAW, finish="length", tokens=ROOM), req)
    assert rule in {v.rule for v in out.violations}
    small = found(answer(content=RAW, finish="length", tokens=16), {**req, "max_completion_tokens": 16})
    assert rule not in {v.rule for v in small.violations} and rule in small.unjudged
    unlimited = found(
        answer(content=RAW, finish="length", tokens=900), {k: v for k, v in req.items() if k != "max_completion_tokens"}
    )
    assert rule in {v.rule for v in unlimited.violations}


@pytest.mark.parametrize(
    "choice,rule",
    [("required", "TOOL-012"), ({"type": "function", "function": {"name": "get_weather"}}, "TOOL-013")],
    ids=["required", "named"],
)
def test_forced_choice_ended_by_a_stop_sequence_is_not_judged(choice, rule):
    """vLLM applies stop strings to the call's raw text: a generated request with stop "o"
    ended a named call before it formed (finish "stop", content "").  PARAM-005 obeyed; the
    forced choice is not judged.  Text instead of a call is still a failure."""
    req = request(choice=choice, stop=["o"])
    out = found(answer(content="", finish="stop"), req)
    assert rule not in {v.rule for v in out.violations} and rule in out.unjudged
    assert rule in broken(answer(content="Sunny.", finish="stop"), req)
    assert rule in broken(answer(content="", finish="stop"), request(choice=choice))


def test_named_choice_answered_with_another_function_fails():
    req = request(tools=[WEATHER, TIME], choice={"type": "function", "function": {"name": "get_time"}})
    assert "TOOL-013" in broken(answer([call()], finish="stop"), req)
    assert not broken(answer([call(name="get_time")], finish="stop"), req)


def test_none_with_a_call_fails_and_a_message_passes():
    req = request(choice="none")
    assert "TOOL-011" in broken(answer([call()]), req)
    assert "TOOL-011" in found(answer(content="Sunny.", finish="stop"), req).judged
    assert not broken(answer(content="Sunny.", finish="stop"), req)


# -- item 6: TOOL-020 in one place, by the rule text ---------------------------------------------------
def _stream(first: dict, later: dict | None = None):
    frags = [chunk(delta={"role": "assistant", "content": None}), chunk(delta={"tool_calls": [first]})]
    frags.append(chunk(delta={"tool_calls": [later or {"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}))
    frags.append(chunk(delta={}, finish="tool_calls"))
    return checks.run(stream_exchange(sse_of(frags), {**request(), "stream": True}))


def test_first_fragment_without_type_breaks_tool_020():
    good = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    assert not _stream(good).violations and "TOOL-020" in _stream(good).judged
    untyped = {k: v for k, v in good.items() if k != "type"}
    assert {v.rule for v in _stream(untyped).violations} == {"TOOL-020"}
    repeat = {"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": "{}"}}
    assert "TOOL-020" in {v.rule for v in _stream(good, repeat).violations}
    typed_again = {"index": 0, "type": "function", "function": {"arguments": '{"city": "Paris"}'}}
    assert not _stream(good, typed_again).violations  # a repeated type: the SDK overwrites it
    mistyped = {**good, "type": "func"}
    assert "TOOL-020" in {v.rule for v in _stream(mistyped).violations}  # the value, not only the key


def test_streamed_parallel_calls_need_distinct_ids():
    def stream(second_id):
        frags = [chunk(delta={"role": "assistant", "content": None})]
        for k, id_ in enumerate(("call_1", second_id)):
            frags.append(
                chunk(
                    delta={
                        "tool_calls": [
                            {
                                "index": k,
                                "id": id_,
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"city": "x"}'},
                            }
                        ]
                    }
                )
            )
        frags.append(chunk(delta={}, finish="tool_calls"))
        return checks.run(stream_exchange(sse_of(frags), {**request(), "stream": True}))

    assert not stream("call_2").violations
    assert {v.rule for v in stream("call_1").violations} == {"TOOL-022"}


def test_fragments_without_index_are_tool_019s_finding_only():
    """Fragments without an index belong to no call: the assembled calls are not judged for
    tool_choice, arguments or finish_reason (that was a TOOL-006/TOOL-013 report too)."""
    frags = [
        chunk(delta={"role": "assistant", "content": None}),
        chunk(
            delta={
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
                ]
            }
        ),
        chunk(delta={"tool_calls": [{"function": {"arguments": '{"city": "Paris"}'}}]}),
        chunk(delta={}, finish="stop"),
    ]
    named = {
        **request(tools=[STRICT], choice={"type": "function", "function": {"name": "get_weather"}}),
        "stream": True,
    }
    assert {v.rule for v in checks.run(stream_exchange(sse_of(frags), named)).violations} == {"TOOL-019"}


def test_distinct_ids_are_judged_only_where_two_calls_came_back():
    """One call cannot show that ids are distinct: TOOL-007 is not judged (never passed)
    on it, unless its id is empty; two calls with one id break it."""
    one = found(answer([call()]), request())
    assert "TOOL-007" not in one.judged and "two calls" in one.unjudged["TOOL-007"]
    two = found(answer([call(id_="call_1"), call(name="get_time", id_="call_2")]), request(tools=[WEATHER, TIME]))
    assert "TOOL-007" in two.judged and not two.violations
    assert "TOOL-007" in broken(
        answer([call(id_="call_1"), call(name="get_time", id_="call_1")]), request(tools=[WEATHER, TIME])
    )


def test_a_missing_id_is_tool_004s_and_an_empty_one_tool_007s():
    no_id = call()
    del no_id["id"]
    assert broken(answer([no_id]), request()) == {"TOOL-004"}
    assert broken(answer([call(id_="")]), request()) == {"TOOL-007"}


# -- item 1: parallel_tool_calls false, at SHOULD, against its twin -------------------------------------
def _twins(on_calls: int, off_calls: int):
    req = request(tools=[WEATHER, TIME], choice="auto")
    ids = iter(f"call_{i}" for i in range(10))
    on = json_exchange(
        answer(
            [call(id_=next(ids)) for _ in range(on_calls)] or None,
            content=None if on_calls else "OK",
            finish="tool_calls" if on_calls else "stop",
        ),
        {**req, "parallel_tool_calls": True},
    )
    off = json_exchange(
        answer(
            [call(id_=next(ids)) for _ in range(off_calls)] or None,
            content=None if off_calls else "OK",
            finish="tool_calls" if off_calls else "stop",
        ),
        {**req, "parallel_tool_calls": False},
    )
    rec = Recorder()
    rec.observe(on)
    rec.observe(off)
    rec.relate("parallel_off_honoured", on, off)
    return rec, checks.relate("parallel_off_honoured", on, off)


def test_parallel_false_is_judged_against_its_twin():
    from chatconform import rules

    assert rules.get("TOOL-025").level == "SHOULD" and "informational" not in rules.get("TOOL-015").check
    honoured, _ = _twins(2, 1)
    assert not honoured.violations and honoured.was_judged("TOOL-025")
    ignored, _ = _twins(2, 2)
    assert {v.rule for v in ignored.violations} == {"TOOL-025"}
    cannot_tell, relation = _twins(1, 1)
    assert not cannot_tell.violations and not cannot_tell.was_judged("TOOL-025")
    assert "false cannot be told from ignored" in relation.unjudged["TOOL-025"]


# -- item 2: the fake model is model-like -----------------------------------------------------------
TWO_THINGS = "What is the weather in Paris and the time in Tokyo? Use the tools."


def _called(choice, prompt, tools=(WEATHER, TIME), **extra):
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": prompt}],
        "tools": list(tools),
        "tool_choice": choice,
        **extra,
    }
    return [c.name for c in fake_model.generate(body).choices[0].tool_calls]


def test_the_fake_model_calls_under_auto_only_when_asked():
    assert _called("auto", "Reply with the single word OK.") == []
    assert _called("auto", "What is the weather in Paris?") == ["get_weather"]
    assert _called("auto", TWO_THINGS) == ["get_weather", "get_time"]
    assert _called("auto", TWO_THINGS, parallel_tool_calls=False) == ["get_weather"]


def test_the_fake_model_obeys_what_the_server_enforces():
    assert _called("required", "Reply with the single word OK.") == ["get_weather"]
    assert _called({"type": "function", "function": {"name": "get_time"}}, "What is the weather in Paris?") == [
        "get_time"
    ]
    assert _called("none", "Call the get_weather tool now.") == []


# -- item 5: a refused premise fails the premise rule only --------------------------------------------
def test_a_refused_required_judges_no_other_tool_rule():
    ex = json_exchange(
        {
            "error": {
                "message": "tool_choice 'required' is not supported",
                "type": "invalid_request_error",
                "param": "tool_choice",
                "code": None,
            }
        },
        request(),
        status=422,
    )
    ex.intent = Intent("accept", "TOOL-010")
    out = checks.run(ex)
    assert [v.rule for v in out.violations] == ["TOOL-010"]
    assert not {r for r in out.judged if r.startswith("TOOL-") and r != "TOOL-010"}


def test_tools_suite_against_a_server_refusing_required(tmp_path):
    """The suite against a reference that refuses `tool_choice: "required"` with 422: TOOL-010
    fails; the rules whose tests need `required` are not judged, none failed; TOOL-014 is
    judged only on its own refusals (400s)."""
    from chatconform.reference import start

    key = "sk-tools-" + secrets.token_hex(8)
    out = tmp_path / "results.json"
    with start(api_key=key, defects=["rejects-tool-choice-required"]) as srv:
        args = ["--base-url", srv.base_url, "--model", "chatconform-reference", "--api-key-env", "CC_TOOLS_KEY"]
        helpers.run_suite(
            [*args, "--capabilities", "all"],
            out,
            paths=("suites/test_tools.py",),
            env={"CC_TOOLS_KEY": key},
            timeout=300,
        )
    data = json.loads(out.read_text())
    failed = {rid for rid, r in data["rules"].items() if r["outcome"] == "fail"}
    assert failed == {"TOOL-010"}, failed
    per_test = {t["nodeid"].split("::")[1]: t.get("rule_outcomes", {}) for t in data["tests"]}
    for test, rid in [
        ("test_required_makes_a_call", "TOOL-012"),
        ("test_tool_call_ids_unique", "TOOL-007"),
        ("test_content_with_calls", "TOOL-009"),
        ("test_stream_fragments_have_index[required]", "TOOL-019"),
        ("test_stream_first_fragment_names_the_call[required]", "TOOL-020"),
        ("test_stream_arguments_join_to_json[required]", "TOOL-021"),
        ("test_stream_call_indexes_in_order[required]", "TOOL-022"),
        ("test_stream_finish_reason[required]", "TOOL-023"),
    ]:
        assert per_test[test][rid]["outcome"] == "not-judged", (test, per_test[test][rid])
        assert "TOOL-010" in per_test[test][rid]["reason"]
    # The round trip does not rest on step 1: with no call of the target's own it sends a
    # stand-in call back, so TOOL-016/017 are judged on step 2.
    assert per_test["test_round_trip[one]"]["TOOL-016"]["outcome"] == "pass"
    assert per_test["test_inconsistent_tool_choice_rejected[required without tools]"]["TOOL-014"]["outcome"] == "pass"


def test_repeats_in_every_fragment_are_one_violation_per_call():
    """A server that repeats id and name in every fragment breaks TOOL-020 once per call,
    saying how often, not once per fragment (280 lines for one llama-cpp-python run)."""
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    frags = [chunk(delta={"role": "assistant", "content": None}), chunk(delta={"tool_calls": [first]})]
    for piece in ('{"city"', ': "Par', 'is"}'):
        again = {"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": piece}}
        frags.append(chunk(delta={"tool_calls": [again]}))
    frags.append(chunk(delta={}, finish="tool_calls"))
    found = [v for v in checks.run(stream_exchange(sse_of(frags), {**request(), "stream": True})).violations]
    tool_020 = [v for v in found if v.rule == "TOOL-020"]
    assert len(tool_020) == 1, tool_020
    assert "id and function.name repeated in 3 later fragment(s)" in tool_020[0].actual
    assert tool_020[0].where.startswith("chunk[2]/")
