"""Defects of one area: the non-streaming response body.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

import copy
from typing import Any

from ..exchange import Call
from .base import _natural_stop, _on_body, _on_choices, _usage_edit, defect


def _set(key: str, value: Any):
    def edit(call: Call, body: dict) -> None:
        body[key] = value(body) if callable(value) else value

    return _on_body(edit)


def _delete(key: str):
    return _on_body(lambda call, body: body.pop(key, None))


defect(
    "response-object-wrong",
    "response",
    "RESP-003",
    "`object` is 'chat.completions' instead of 'chat.completion'.",
    on_response=_set("object", "chat.completions"),
)
defect("response-id-missing", "response", "RESP-002", "The top-level `id` is left out.", on_response=_delete("id"))
defect("response-id-not-string", "response", "RESP-004", "`id` is an integer.", on_response=_set("id", 1234567))
defect(
    "response-id-constant",
    "response",
    "RESP-005",
    "Every completion has the same `id`.",
    on_response=_set("id", "chatcmpl-reference"),
)
defect(
    "response-created-float",
    "response",
    "RESP-006",
    "`created` is a float with a fractional part (time.time()).",
    on_response=_set("created", lambda b: b["created"] + 0.25),
)
defect(
    "response-created-milliseconds",
    "response",
    "RESP-006",
    "`created` is in milliseconds.",
    on_response=_set("created", lambda b: b["created"] * 1000),
)
defect(
    "response-created-string",
    "response",
    "RESP-006",
    "`created` is a string of digits.",
    on_response=_set("created", lambda b: str(b["created"])),
)
defect(
    "response-model-missing", "response", "RESP-002", "The top-level `model` is left out.", on_response=_delete("model")
)
defect("response-model-empty", "response", "RESP-007", "`model` is the empty string.", on_response=_set("model", ""))
defect(
    "response-choices-empty", "response", "RESP-009", "`choices` is an empty array.", on_response=_set("choices", [])
)
defect(
    "response-service-tier-invalid",
    "response",
    "RESP-020",
    "`service_tier` is 'standard', not one of the spec's values.",
    on_response=_set("service_tier", "standard"),
)


def _extra_choice(call: Call, body: dict) -> None:
    if (call.body or {}).get("n") is None and body.get("choices"):
        twin = copy.deepcopy(body["choices"][0])
        twin["index"] = 1
        body["choices"].append(twin)


defect(
    "response-two-choices-without-n",
    "response",
    "RESP-009",
    "Without `n`, the answer carries two choices (the second a copy with index 1).",
    on_response=_on_body(_extra_choice),
)
defect(
    "response-choice-index-missing",
    "response",
    "RESP-008",
    "`choices[].index` is left out.",
    on_response=_on_choices(lambda c, ch: ch.pop("index", None)),
)
defect(
    "response-logprobs-key-missing",
    "response",
    "RESP-008",
    "`choices[].logprobs` is omitted when it would be null (logprobs not requested).",
    on_response=_on_choices(lambda c, ch: ch.pop("logprobs") if ch.get("logprobs", 0) is None else None),
)
defect(
    "response-role-bot",
    "response",
    "RESP-010",
    "`message.role` is 'bot'.",
    on_response=_on_choices(lambda c, ch: ch["message"].__setitem__("role", "bot")),
)
defect(
    "response-content-missing",
    "response",
    "RESP-011",
    "`message.content` is left out.",
    on_response=_on_choices(lambda c, ch: ch["message"].pop("content", None)),
)
defect(
    "response-refusal-missing",
    "response",
    "RESP-012",
    "`message.refusal` is left out.",
    on_response=_on_choices(lambda c, ch: ch["message"].pop("refusal", None)),
)


def _natural_finish(value: Any):
    def edit(call: Call, ch: dict) -> None:
        if _natural_stop(call, ch.get("finish_reason"), bool(ch["message"].get("tool_calls"))):
            ch["finish_reason"] = value

    return _on_choices(edit)


defect(
    "response-finish-reason-empty",
    "response",
    "RESP-013",
    'A text answer that ended naturally has finish_reason "".',
    on_response=_natural_finish(""),
)
defect(
    "response-finish-reason-null",
    "response",
    "RESP-013",
    "A text answer that ended naturally has finish_reason null.",
    on_response=_natural_finish(None),
)
defect(
    "response-finish-reason-eos",
    "response",
    "RESP-013",
    "A text answer that ended naturally has finish_reason 'eos' (not in the enum).",
    on_response=_natural_finish("eos"),
)
defect(
    "response-finish-reason-tool-calls-without-calls",
    "response",
    "RESP-014",
    "A text answer that ended naturally reports finish_reason 'tool_calls' (in the enum, but no tool was called).",
    on_response=_natural_finish("tool_calls"),
)
defect("usage-missing", "response", "RESP-015", "Non-streaming answers carry no `usage`.", on_response=_delete("usage"))
defect(
    "usage-total-wrong",
    "response",
    "RESP-017",
    "`total_tokens` is prompt + completion + 1.",
    on_response=_usage_edit(lambda u: u.__setitem__("total_tokens", u["total_tokens"] + 1)),
)


def _usage_strings(u: dict) -> None:
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        u[k] = str(u[k])


def _usage_floats(u: dict) -> None:
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        u[k] = float(u[k])


def _prompt_zero(u: dict) -> None:
    u["prompt_tokens"] = 0
    u["total_tokens"] = u["completion_tokens"]


defect(
    "usage-as-strings",
    "response",
    "RESP-016",
    "The three usage counts are strings.",
    on_response=_usage_edit(_usage_strings),
)
defect(
    "usage-integers-as-floats",
    "response",
    "RESP-016",
    "The usage counts are written as 12.0 instead of 12.",
    on_response=_usage_edit(_usage_floats),
)
defect(
    "usage-prompt-tokens-zero",
    "response",
    "RESP-018",
    "`prompt_tokens` is 0 for a non-empty prompt (total still adds up).",
    on_response=_usage_edit(_prompt_zero),
)
defect(
    "usage-cached-exceeds-prompt",
    "response",
    "RESP-019",
    "`prompt_tokens_details.cached_tokens` is larger than `prompt_tokens`.",
    on_response=_usage_edit(lambda u: u["prompt_tokens_details"].__setitem__("cached_tokens", u["prompt_tokens"] + 5)),
)
defect(
    "response-as-list",
    "response",
    "RESP-001",
    "The completion object is sent wrapped in a one-element JSON array (a batch API's shape).",
    on_response=lambda call, body: [body],
)
defect(
    "response-created-fixed",
    "response",
    "RESP-022",
    "`created` is a fixed placeholder time (946684800, 2000-01-01), not when the completion was made.",
    on_response=_set("created", 946684800),
)
