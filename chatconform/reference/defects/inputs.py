"""Defects that show only for some inputs: the far end of a documented range, sizes, stop
sequences that span two tokens or two chunks, typed structured output, usage that only
a second request shows, invalid requests of a rare role or content shape.  The property
tests (suites/test_properties.py) reach each; tests/test_properties_selftest.py shows it.
Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

from typing import Any

from .. import model as fake_model
from ..exchange import Call
from .base import _bad, _is_n, _messages, _on_text_choices, _retokenize, defect

BIG = 2048  # "too large" above this: a server sized for short answers
MANY = 16  # tools / parts / messages a careless server caps at


# -- the top of a range -----------------------------------------------------------------------------
def _rejects_big_limit(call: Call):
    for key in ("max_completion_tokens", "max_tokens"):
        v = (call.body or {}).get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > BIG:
            return _bad(key, f"Invalid '{key}': {v} is too large; at most {BIG} is supported.")
    return None


defect(
    "rejects-large-token-limit",
    "params",
    "PARAM-001",
    f"A token limit above {BIG} (max_completion_tokens: 4096) is refused with 400.",
    on_request=_rejects_big_limit,
)


def _stream_top_logprobs(call: Call):
    body = call.body or {}
    top = body.get("top_logprobs")
    if body.get("stream") is True and isinstance(top, int) and top > 10:
        return _bad("top_logprobs", "Invalid 'top_logprobs': at most 10 when streaming.")
    return None


defect(
    "stream-rejects-top-logprobs-above-10",
    "params",
    "PARAM-014",
    "top_logprobs above 10 (up to the documented 20) is refused on streamed requests.",
    on_request=_stream_top_logprobs,
)


# n capped at 16: defects/params.py ("n-capped-at-16"); the properties reach it too.


# -- sizes ------------------------------------------------------------------------------------------
def _many_tools(call: Call):
    tools = (call.body or {}).get("tools")
    if isinstance(tools, list) and len(tools) > MANY:
        return _bad("tools", f"Invalid 'tools': at most {MANY} tools are supported, got {len(tools)}.")
    return None


defect(
    "rejects-many-tools", "tools", "TOOL-001", f"More than {MANY} tools are refused with 400.", on_request=_many_tools
)


def _long_conversation(call: Call):
    msgs = (call.body or {}).get("messages")
    if isinstance(msgs, list) and len(msgs) > 24:
        return _bad("messages", f"Invalid 'messages': at most 24 messages are supported, got {len(msgs)}.")
    return None


defect(
    "rejects-long-conversation",
    "request",
    "REQ-005",
    "A conversation of more than 24 messages is refused with 400.",
    on_request=_long_conversation,
)


def _many_parts(call: Call):
    for i, m in enumerate(_messages(call)):
        if isinstance(m.get("content"), list) and len(m["content"]) > MANY:
            return _bad(
                f"messages.[{i}].content", f"Invalid 'messages[{i}].content': at most {MANY} parts are supported."
            )
    return None


defect(
    "rejects-many-content-parts",
    "request",
    "CONTENT-001",
    f"A message of more than {MANY} content parts is refused.",
    on_request=_many_parts,
)


# -- stop sequences across tokens -------------------------------------------------------------------
def _stop_per_token(call: Call, ch: Any) -> None:
    """Look for each stop sequence inside single tokens only: one that spans two tokens (or
    two chunks of a stream, one token each here) is never seen."""
    body = call.body or {}
    stops = [s for s in fake_model._stops(body) if s]
    if not stops or ch.stop_hit is None:
        return
    tokens = fake_model._text_tokens(
        body, fake_model._material(body.get("messages"), fake_model._int(body.get("seed")), ch.index)
    )
    limit = fake_model._limit(body)
    cut = limit is not None and limit <= len(tokens)
    out, finish = [], "length" if cut else "stop"
    for tok in tokens[:limit] if cut else tokens:
        hit = next((s for s in stops if s in tok), None)
        if hit is not None:
            out.append(tok[: tok.index(hit)])
            finish = "stop"
            break
        out.append(tok)
    _retokenize(ch, "".join(out), call)
    ch.finish_reason = finish


defect(
    "stop-spanning-tokens-missed",
    "params",
    "PARAM-005",
    "A stop sequence is looked for inside each token only: one spanning two tokens is returned.",
    on_completion=_on_text_choices(_stop_per_token, when=lambda c: (c.body or {}).get("stream") is not True),
)
defect(
    "stream-stop-spanning-chunks-missed",
    "stream",
    "PARAM-005",
    "A streamed stop sequence is looked for inside each chunk only: one spanning two chunks is streamed.",
    on_completion=_on_text_choices(_stop_per_token, when=lambda c: (c.body or {}).get("stream") is True),
)


# -- typed structured output ------------------------------------------------------------------------
# Typed enum/const values and nested arrays under json_schema: defects/params.py
# (json-schema-typed-enums-as-strings, json-schema-nested-arrays-flattened).


# -- usage that only a second request shows -----------------------------------------------------------
def _last_message_prompt(call: Call, completion: Any) -> None:
    msgs = _messages(call)
    completion.prompt_tokens, _ = fake_model.count_prompt_tokens(msgs[-1:])


defect(
    "prompt-tokens-last-message-only",
    "response",
    "RESP-018",
    "usage.prompt_tokens counts the last message only: a longer conversation costs no more.",
    on_completion=_last_message_prompt,
)


def _first_choice_usage(call: Call, completion: Any) -> None:
    for ch in completion.choices[1:]:
        ch.completion_tokens = 0


defect(
    "stream-usage-first-choice-only",
    "stream",
    "STREAM-018",
    "With n > 1 the usage chunk of a stream counts the first choice's tokens only.",
    on_completion=lambda call, completion: (
        _first_choice_usage(call, completion) if call.stream and _is_n(call) else None
    ),
)


# -- invalid requests of a rare shape -----------------------------------------------------------------
def _tool_parts_get_an_id(call: Call):
    """A tool message whose content is a part array and that has no tool_call_id is taken as
    the answer to the pending call (validation is skipped for that shape only)."""
    pending: list[str] = []
    for m in _messages(call):
        if m.get("role") == "assistant" and isinstance(m.get("tool_calls"), list):
            pending = [c.get("id") for c in m["tool_calls"] if isinstance(c, dict) and isinstance(c.get("id"), str)]
        elif m.get("role") == "tool":
            if "tool_call_id" not in m and isinstance(m.get("content"), list) and pending:
                m["tool_call_id"] = pending[0]
            if m.get("tool_call_id") in pending:
                pending.remove(m["tool_call_id"])
    return None


defect(
    "accepts-tool-parts-without-id",
    "tools",
    "TOOL-018",
    "A tool message with a part array and no tool_call_id is accepted (taken as the answer to the pending call).",
    on_parsed=_tool_parts_get_an_id,
)
