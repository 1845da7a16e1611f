"""Defects of one area: tools.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any, Callable

from .. import model as fake_model
from ..errors import ApiError
from ..exchange import Call
from .base import (
    _bad,
    _items,
    _on_choices,
    _reject_message,
    _on_items,
    _retokenize,
    _tool_choice,
    _tool_fragments,
    defect,
)


def _tool_calls_of(ch: dict) -> list[dict]:
    return ch.get("message", {}).get("tool_calls") or []


def _each_tool_call(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    def edit(call: Call, ch: dict) -> None:
        for tc in _tool_calls_of(ch):
            fn(call, tc)

    return _on_choices(edit, when=when)


def _json_or_none(text: str) -> Any:
    """The arguments as a value, or None where the token limit cut them (not JSON yet): the
    argument defects rewrite complete arguments only, as a server that re-serialises them would."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _args_object(call: Call, tc: dict) -> None:
    value = _json_or_none(tc["function"]["arguments"])
    if value is not None:
        tc["function"]["arguments"] = value


defect(
    "tool-arguments-object",
    "tools",
    "TOOL-005",
    "`function.arguments` is a JSON object instead of a string holding JSON.",
    on_response=_each_tool_call(_args_object),
)


def _args_python(call: Call, tc: dict) -> None:
    value = _json_or_none(tc["function"]["arguments"])
    if value is not None:
        tc["function"]["arguments"] = repr(value)


defect(
    "tool-arguments-invalid-json",
    "tools",
    "TOOL-006",
    "`function.arguments` is a Python repr ({'city': 'x'}), not JSON (non-streaming answers).",
    on_response=_each_tool_call(_args_python),
)


def _args_in_a_list(call: Call, tc: dict) -> None:
    value = _json_or_none(tc["function"]["arguments"])
    if value is not None:
        tc["function"]["arguments"] = json.dumps([value])


defect(
    "tool-arguments-not-object",
    "tools",
    "TOOL-006",
    "`function.arguments` is JSON text of an array holding the arguments object, not the object (non-streaming).",
    on_response=_each_tool_call(_args_in_a_list),
)


def _required_args_dropped(call: Call, completion: Any) -> None:
    fns = {t["function"]["name"]: t["function"] for t in (call.body or {}).get("tools") or [] if isinstance(t, dict)}
    for ch in completion.choices:
        for tc in ch.tool_calls:
            required = ((fns.get(tc.name) or {}).get("parameters") or {}).get("required") or []
            args = _json_or_none(tc.arguments)
            if not isinstance(args, dict):
                continue
            for key in required:
                args.pop(key, None)
            tc.arguments = json.dumps(args, separators=(",", ":"))


defect(
    "tool-arguments-missing-required",
    "tools",
    "TOOL-006",
    "Tool-call arguments leave out the parameters' required keys (invalid against a strict schema).",
    on_completion=_required_args_dropped,
)


def _auto_or_required(call: Call) -> bool:
    return _tool_choice(call) in ("auto", "required")


def _rename_tool(call: Call, tc: dict) -> None:
    tc["function"]["name"] = tc["function"]["name"] + "_tool"


defect(
    "tool-name-not-offered",
    "tools",
    "TOOL-006",
    "Under tool_choice auto/required the call names a function that was not offered (name + '_tool').",
    on_response=_each_tool_call(_rename_tool, when=_auto_or_required),
)
defect(
    "tool-call-type-func",
    "tools",
    "TOOL-004",
    'Tool calls have `type: "func"`.',
    on_response=_each_tool_call(lambda c, tc: tc.__setitem__("type", "func")),
)
defect(
    "tool-call-id-missing",
    "tools",
    "TOOL-004",
    "Tool calls have no `id`.",
    on_response=_each_tool_call(lambda c, tc: tc.pop("id", None)),
)
defect(
    "tool-call-id-empty",
    "tools",
    "TOOL-007",
    "Tool-call ids are the empty string.",
    on_response=_each_tool_call(lambda c, tc: tc.__setitem__("id", "")),
)


def _duplicate_ids(call: Call, ch: dict) -> None:
    calls = _tool_calls_of(ch)
    for tc in calls[1:]:
        tc["id"] = calls[0]["id"]


defect(
    "tool-call-ids-duplicate",
    "tools",
    "TOOL-007",
    "Parallel tool calls in one answer share the same id.",
    on_response=_on_choices(_duplicate_ids),
)


def _finish_stop_for_tools(call: Call, choice: dict) -> None:
    """A choice (of an answer or of a chunk) finishing with tool_calls says stop instead."""
    if choice.get("finish_reason") == "tool_calls":
        choice["finish_reason"] = "stop"


defect(
    "tool-finish-reason-stop",
    "tools",
    "TOOL-008",
    "Non-streaming tool calls under tool_choice auto/required finish with 'stop' instead of 'tool_calls'.",
    on_response=_on_choices(_finish_stop_for_tools),
)


def _choice_to(value: Any, only: tuple[Any, ...] | None = None, named: bool = False):
    def hook(call: Call) -> None:
        tc = _tool_choice(call)
        if (named and isinstance(tc, dict)) or (only is not None and tc in only):
            call.body = {**call.body, "tool_choice": value}

    return hook


defect(
    "tool-choice-none-ignored",
    "tools",
    "TOOL-011",
    '`tool_choice: "none"` is ignored: the model still calls a tool.',
    on_request=_choice_to("required", only=("none",)),
)
defect(
    "tool-choice-required-ignored",
    "tools",
    "TOOL-012",
    "`tool_choice: \"required\"` is treated as 'none': a text answer.",
    on_request=_choice_to("none", only=("required",)),
)
defect(
    "tool-choice-named-ignored",
    "tools",
    "TOOL-013",
    "A named tool_choice is not understood and treated as 'none': a text answer instead of that call.",
    on_request=_choice_to("none", named=True),
)


def _parallel_ignored(call: Call, completion: Any) -> None:
    if (call.body or {}).get("parallel_tool_calls") is not False:
        return
    for ch in completion.choices:
        if len(ch.tool_calls) == 1:
            first = ch.tool_calls[0]
            ch.tool_calls.append(fake_model.ToolCall(fake_model.random_id("call_", 24), first.name, first.arguments))
            ch.completion_tokens *= 2


# Breaks TOOL-025 (at most one call with false), split from TOOL-015 (the field accepted).
defect(
    "tool-parallel-false-ignored",
    "tools",
    "TOOL-025",
    "`parallel_tool_calls: false` is ignored: two tool calls come back.",
    on_completion=_parallel_ignored,
)


defect(
    "rejects-tool-array-content",
    "tools",
    "TOOL-017",
    "A tool message with an array of text parts is rejected with 400.",
    on_request=_reject_message(
        lambda m: m.get("role") == "tool" and isinstance(m.get("content"), list),
        "content",
        "Invalid type for 'messages.[{i}].content': expected a string, but got an array instead.",
        "invalid_type",
    ),
)


def _rejects_no_parameters(call: Call) -> ApiError | None:
    for i, t in enumerate((call.body or {}).get("tools") or []):
        if isinstance(t, dict) and "parameters" not in (t.get("function") or {}):
            return _bad(
                f"tools.[{i}].function.parameters",
                f"Missing required parameter: 'tools.[{i}].function.parameters'.",
                "missing_required_parameter",
            )
    return None


defect(
    "rejects-tool-without-parameters",
    "tools",
    "TOOL-002",
    "A function tool without `parameters` is rejected with 400.",
    on_request=_rejects_no_parameters,
)


def _rejects_strict_null(call: Call) -> ApiError | None:
    for i, t in enumerate((call.body or {}).get("tools") or []):
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and "strict" in fn and fn["strict"] is None:
            return _bad(
                f"tools.[{i}].function.strict",
                f"Invalid type for 'tools.[{i}].function.strict': expected a boolean, but got null instead.",
                "invalid_type",
            )
    return None


defect(
    "rejects-tool-strict-null",
    "tools",
    "TOOL-002",
    "`strict: null` on a function tool is rejected with 400.",
    on_request=_rejects_strict_null,
)
defect(
    "accepts-invalid-tool-name",
    "tools",
    "TOOL-003",
    "Function names outside [a-zA-Z0-9_-]{1,64} are accepted.",
    skip_checks={"tools.name"},
)
defect(
    "accepts-unknown-named-tool",
    "tools",
    "TOOL-014",
    "A named tool_choice for a function not in `tools` is accepted (and called).",
    skip_checks={"tool_choice.unknown-function"},
)
defect(
    "accepts-tool-choice-without-tools",
    "tools",
    "TOOL-014",
    "tool_choice 'required' without any tools is accepted.",
    skip_checks={"tool_choice.without-tools"},
)
defect(
    "accepts-orphan-tool-message",
    "tools",
    "TOOL-018",
    "A tool message that answers no preceding assistant tool call is accepted.",
    skip_checks={"tool.orphan"},
)
defect(
    "accepts-unanswered-tool-calls",
    "tools",
    "TOOL-018",
    "An assistant tool_calls message not followed by a tool message for each id is accepted.",
    skip_checks={"tool.unanswered"},
)


def _tool_content_array(call: Call, ch: dict) -> None:
    if _tool_calls_of(ch):
        ch["message"]["content"] = []


defect(
    "tool-call-content-array",
    "tools",
    "TOOL-009",
    "Answers that call tools have `content: []` instead of null or a string.",
    on_response=_on_choices(_tool_content_array),
)
# Breaks TOOL-010 only: the test of `none` (TOOL-011) names TOOL-010 as its premise, so
# the refusal leaves TOOL-011 "not judged" rather than failed.
defect(
    "rejects-tool-choice-none",
    "tools",
    "TOOL-010",
    '`tool_choice: "none"` with tools is rejected with 400.',
    on_request=lambda call: (
        _bad("tool_choice", "Invalid value: 'none'. Supported values are: 'auto' and 'required'.")
        if _tool_choice(call) == "none"
        else None
    ),
)


def _stream_tool_fragments(fn: Callable[[Call, list[dict]], None]):
    def hook(call: Call, chunks: list[dict]) -> list[dict]:
        fn(call, _tool_fragments(chunks))
        return chunks

    return hook


def _frag_no_index(call: Call, frags: list[dict]) -> None:
    for f in frags:
        f.pop("index", None)


def _frag_repeat_id(call: Call, frags: list[dict]) -> None:
    first: dict[int, dict] = {}
    for f in frags:
        if "id" in f:
            first[f["index"]] = f
        elif f.get("index") in first:
            head = first[f["index"]]
            f["id"] = head["id"]
            f["type"] = "function"
            f["function"]["name"] = head["function"]["name"]


def _frag_index_plus_one(call: Call, frags: list[dict]) -> None:
    for f in frags:
        f["index"] += 1


def _drop_second_argument_fragment(call: Call, chunks: list[dict]) -> list[dict]:
    seen: dict[tuple[int, int], int] = {}
    out = []
    for ch in chunks:
        items = ch.get("choices") or []
        frags = (items[0].get("delta") or {}).get("tool_calls") if items else None
        if frags and "id" not in frags[0] and "arguments" in frags[0].get("function", {}):
            key = (items[0]["index"], frags[0]["index"])
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 2:
                continue
        out.append(ch)
    return out


defect(
    "stream-tool-index-missing",
    "tools",
    "TOOL-019",
    "Streamed tool-call fragments carry no `index`.",
    on_chunks=_stream_tool_fragments(_frag_no_index),
)
defect(
    "stream-tool-id-repeated",
    "tools",
    "TOOL-020",
    "Every streamed tool-call fragment repeats id, type and function.name (the SDK concatenates them).",
    on_chunks=_stream_tool_fragments(_frag_repeat_id),
)


def _frag_no_type(call: Call, frags: list[dict]) -> None:
    for f in frags:
        f.pop("type", None)


# The chunk schema does not require `type` in a fragment (later ones omit it): only the
# TOOL-020 check, which asks for type "function" in the first fragment, sees this.
defect(
    "stream-tool-type-missing",
    "tools",
    "TOOL-020",
    "The first streamed fragment of each tool call has id and function.name but no `type`.",
    on_chunks=_stream_tool_fragments(_frag_no_type),
)
defect(
    "stream-tool-arguments-broken",
    "tools",
    "TOOL-021",
    "One streamed arguments fragment is lost, so the joined arguments are not valid JSON.",
    on_chunks=_drop_second_argument_fragment,
)
defect(
    "stream-tool-index-from-one",
    "tools",
    "TOOL-022",
    "Streamed tool-call indexes start at 1 instead of 0.",
    on_chunks=_stream_tool_fragments(_frag_index_plus_one),
)


defect(
    "stream-tool-finish-reason-stop",
    "tools",
    "TOOL-023",
    "A streamed tool-call turn under auto/required ends with 'stop' instead of 'tool_calls'.",
    on_chunks=_on_items(_finish_stop_for_tools),
)


# -- defects that hide from easy prompts -------------------------------------------------------
# A server that treats a parameter as `auto` answers like a conformant one wherever the prompt
# produces the behaviour anyway (the fake model, like a real one, calls a tool under auto only
# when the prompt asks for one, and makes two calls only when it asks for two); only a test
# whose prompt does not already ask for the behaviour kills these.
defect(
    "tool-choice-required-as-auto",
    "tools",
    "TOOL-012",
    "`tool_choice: \"required\"` is treated as 'auto': a text answer unless the prompt asks for a tool.",
    on_request=_choice_to("auto", only=("required",)),
)
defect(
    "tool-choice-named-as-auto",
    "tools",
    "TOOL-013",
    "A named tool_choice is treated as 'auto': the model calls whatever tool the prompt asks for, or none.",
    on_request=_choice_to("auto", named=True),
)
defect(
    "tool-choice-none-as-auto",
    "tools",
    "TOOL-011",
    "`tool_choice: \"none\"` is treated as 'auto': the model calls a tool when the prompt asks for one.",
    on_request=_choice_to("auto", only=("none",)),
)


def _parallel_false_dropped(call: Call) -> None:
    if (call.body or {}).get("parallel_tool_calls") is False:
        call.body = {k: v for k, v in call.body.items() if k != "parallel_tool_calls"}


defect(
    "tool-parallel-false-as-true",
    "tools",
    "TOOL-025",
    "`parallel_tool_calls: false` is dropped (the default, true, applies): two calls when the prompt asks for two.",
    on_request=_parallel_false_dropped,
)


def _stream_ids_shared(call: Call, frags: list[dict]) -> None:
    first_id = None
    for f in frags:
        if "id" in f:
            first_id = first_id or f["id"]
            f["id"] = first_id


defect(
    "stream-tool-ids-duplicate",
    "tools",
    "TOOL-022",
    "Parallel streamed tool calls all carry the first call's id.",
    on_chunks=_stream_tool_fragments(_stream_ids_shared),
)


# -- a refused premise, a forced call as raw text, the field everything rests on ------------------
defect(
    "rejects-tool-choice-required",
    "tools",
    "TOOL-010",
    '`tool_choice: "required"` is refused with 422 (a server without forced calls); the tests that need it as '
    "their premise leave their own rules not judged.",
    on_request=lambda call: (
        ApiError(422, "tool_choice 'required' is not supported", param="tool_choice", check="defect")
        if _tool_choice(call) == "required"
        else None
    ),
)


def _raw_tool_call_text(
    call: Call, completion: Any, forced: Callable[[Any], bool] = lambda tc: tc == "required"
) -> None:
    """Under a forced choice the server hands back the model's raw `<tool_call>` text as
    content, and the model rambles on into the token limit (llama-cpp-python without a
    tool parser)."""
    if not forced(_tool_choice(call)):
        return
    body = call.body or {}
    limits = [
        v
        for v in (body.get("max_tokens"), body.get("max_completion_tokens"))
        if isinstance(v, int) and not isinstance(v, bool)
    ]
    limit = min(limits) if limits else 512
    for ch in completion.choices:
        if not ch.tool_calls:
            continue
        tc = ch.tool_calls[0]
        text = (
            f'<tool_call>\n{{"name": "{tc.name}", "arguments": {tc.arguments}}}\n</tool_call>' + " lorem ipsum" * limit
        )
        ch.tool_calls = []
        _retokenize(ch, "".join(fake_model.tokenize(text)[: max(limit, 0)]), call)
        ch.finish_reason = "length"


defect(
    "tool-choice-required-as-text",
    "tools",
    "TOOL-012",
    '`tool_choice: "required"` is answered with the model\'s raw <tool_call> text in content, cut by the token limit.',
    on_completion=_raw_tool_call_text,
)
defect(
    "tool-choice-named-as-text",
    "tools",
    "TOOL-013",
    "A named tool_choice is answered with the model's raw <tool_call> text in content, cut by the token limit.",
    on_completion=lambda call, completion: _raw_tool_call_text(
        call, completion, forced=lambda tc: isinstance(tc, dict)
    ),
)
defect(
    "rejects-tools",
    "tools",
    "TOOL-001",
    "Any request with `tools` is refused with 400 (tool calling not enabled).",
    on_request=lambda call: (
        _bad("tools", "tools param requires --jinja flag", "unsupported_parameter")
        if (call.body or {}).get("tools")
        else None
    ),
)


def _function_call_null(call: Call, chunks: list[dict]) -> list[dict]:
    if (call.body or {}).get("tools"):
        for _, it in _items(chunks):
            if isinstance(it.get("delta"), dict) and it["delta"]:
                it["delta"]["function_call"] = None
    return chunks


defect(
    "stream-delta-function-call-null",
    "tools",
    "TOOL-024",
    "Streamed answers to requests with tools carry `delta.function_call: null` (the legacy field is an object "
    "when present), as llama-cpp-python sends.",
    on_chunks=_function_call_null,
)
defect(
    "rejects-parallel-tool-calls-false",
    "tools",
    "TOOL-015",
    "`parallel_tool_calls: false` is refused with 400 (a server that cannot switch parallel calls off).",
    on_request=lambda call: (
        _bad("parallel_tool_calls", "parallel_tool_calls=false is not supported", "unsupported_parameter")
        if (call.body or {}).get("parallel_tool_calls") is False and (call.body or {}).get("tools")
        else None
    ),
)
