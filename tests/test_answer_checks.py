"""The answer checks (chatconform/checks/tools.py, params.py, and stream assembly) on answers a conformant
server may give to combinations the property tests draw: no false alarm on the
legitimate answer, and the same check still fails the faulty one beside it."""

from __future__ import annotations

import copy
import time

import pytest

from chatconform import checks
from tests.helpers import chunk, good_response, json_exchange, sse_of, stream_exchange

BASE = {"model": "m", "messages": [{"role": "user", "content": "Reply with JSON."}]}


def answer(content=None, finish="stop", tool_calls=None, logprobs=None, completion_tokens=1):
    r = good_response()
    msg = r["choices"][0]["message"]
    msg["content"] = content
    if tool_calls is not None:
        msg["tool_calls"] = tool_calls
    r["choices"][0]["finish_reason"] = finish
    r["choices"][0]["logprobs"] = logprobs
    r["usage"] = {"prompt_tokens": 3, "completion_tokens": completion_tokens, "total_tokens": 3 + completion_tokens}
    return r


def rules_broken(payload, request) -> set[str]:
    # CASES are built at collection: `created` is stamped now, or a run slower than
    # RESP-006's 10-minute window (a loaded machine) would break that rule instead.
    payload["created"] = int(time.time())
    violations = checks.run(json_exchange(payload, {**BASE, **request})).violations
    return {v.rule for v in violations}


CALL = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
TOOLS = [
    {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
    }
]

# (what, request, legitimate answer, faulty answer, rule the faulty one breaks)
CASES = [
    ("one token, a stop sequence inside it: stop is right", {"max_tokens": 1, "stop": ["l"]}, answer("He"), None, None),
    (
        "one token, no stop sequence: the limit cut it",
        {"max_tokens": 1},
        answer("Hello", finish="length"),
        answer("Hello", finish="stop"),
        "PARAM-002",
    ),
    (
        "json_object cut by a stop sequence",
        {"response_format": {"type": "json_object"}, "stop": "}"},
        answer('{"a": 1'),
        None,
        None,
    ),
    (
        "json_object without a stop sequence must parse",
        {"response_format": {"type": "json_object"}},
        answer('{"a": 1}'),
        answer('{"a": 1'),
        "PARAM-024",
    ),
    (
        "json_object cut by the token limit",
        {"response_format": {"type": "json_object"}, "max_tokens": 2},
        answer('{"a', finish="length", completion_tokens=2),
        None,
        None,
    ),
    (
        "tool call with logprobs: no content tokens, content null",
        {"tools": TOOLS, "tool_choice": "required", "logprobs": True},
        answer(None, finish="tool_calls", tool_calls=CALL, logprobs={"content": None, "refusal": None}),
        answer("Hi", finish="tool_calls", tool_calls=CALL, logprobs={"content": None, "refusal": None}),
        "PARAM-016",
    ),
    (
        "tool call cut by the token limit: arguments incomplete",
        {"tools": TOOLS, "tool_choice": "required", "max_tokens": 3},
        answer(
            None,
            finish="length",
            tool_calls=[{**CALL[0], "function": {"name": "f", "arguments": '{"a'}}],
            completion_tokens=3,
        ),
        answer(None, finish="length", tool_calls=CALL, completion_tokens=9),
        "PARAM-001",
    ),
    # strict: true is what promises JSON arguments (TOOL-006); without it they are the model's.
    (
        "strict call, finished normally: arguments must parse",
        {
            "tools": [{**TOOLS[0], "function": {**TOOLS[0]["function"], "strict": True}}],
            "tool_choice": "required",
            "max_tokens": 50,
        },
        answer(None, finish="tool_calls", tool_calls=CALL, completion_tokens=5),
        answer(
            None,
            finish="tool_calls",
            tool_calls=[{**CALL[0], "function": {"name": "f", "arguments": '{"a'}}],
            completion_tokens=3,
        ),
        "TOOL-006",
    ),
]


@pytest.mark.parametrize("what,request_,good,bad,rule", CASES, ids=[c[0] for c in CASES])
def test_legitimate_answer_passes_and_faulty_one_fails(what, request_, good, bad, rule):
    assert rules_broken(copy.deepcopy(good), request_) == set(), what
    if bad is not None:
        assert rule in rules_broken(copy.deepcopy(bad), request_), what


# -- streams ----------------------------------------------------------------------------------


def stream_rules(chunks) -> set[str]:
    violations = checks.run(stream_exchange(sse_of(chunks))).violations
    return {v.rule for v in violations}


def test_null_role_in_later_deltas_is_not_a_repeated_role():
    """STREAM-013 is about a role value the SDK would concatenate; role: null in later
    deltas (llama-cpp-python) is the chunk schema's finding (STREAM-014), not a repeat."""
    first = chunk(delta={"role": "assistant", "content": ""})
    nulls = [first, chunk(delta={"role": None, "content": "Hi"}), chunk(delta={}, finish="stop")]
    repeats = [first, chunk(delta={"role": "assistant", "content": "Hi"}), chunk(delta={}, finish="stop")]
    assert "STREAM-013" not in stream_rules(nulls) and "STREAM-014" in stream_rules(nulls)
    assert "STREAM-013" in stream_rules(repeats)
