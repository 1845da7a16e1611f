"""Defects of one area: request acceptance.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

from ..errors import ApiError
from ..exchange import Call
from .base import _bad, _reject_message, defect


def _only_text_parts(m: dict) -> bool:
    c = m.get("content")
    return isinstance(c, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in c)


defect(
    "rejects-developer-role",
    "request",
    "REQ-006",
    "Does not know role 'developer' and rejects it with 400.",
    on_request=_reject_message(
        lambda m: m.get("role") == "developer",
        "role",
        "Invalid value: 'developer'. Supported values are: 'system', 'user', 'assistant', and 'tool'.",
    ),
)
defect(
    "rejects-system-text-parts",
    "request",
    "REQ-007",
    "System/developer content must be a string: an array of text parts gets 400.",
    on_request=_reject_message(
        lambda m: m.get("role") in ("system", "developer") and isinstance(m.get("content"), list),
        "content",
        "Invalid type for 'messages.[{i}].content': expected a string, but got an array instead.",
        "invalid_type",
    ),
)
defect(
    "rejects-user-text-parts",
    "request",
    "CONTENT-001",
    "A user content array made only of text parts gets 400 (arrays accepted only with media).",
    on_request=_reject_message(
        lambda m: m.get("role") == "user" and _only_text_parts(m),
        "content",
        "Content arrays are only supported for multimodal input.",
    ),
)
defect(
    "rejects-message-name",
    "request",
    "REQ-009",
    "The optional `name` field on messages is rejected with 400.",
    on_request=_reject_message(
        lambda m: "name" in m and m.get("role") != "function",
        "name",
        "Unrecognized request argument supplied: messages.[{i}].name",
    ),
)
defect(
    "rejects-assistant-refusal-field",
    "request",
    "REQ-009",
    "An assistant history message with `refusal: null` is rejected with 400.",
    on_request=_reject_message(
        lambda m: m.get("role") == "assistant" and "refusal" in m,
        "refusal",
        "Unrecognized request argument supplied: messages.[{i}].refusal",
    ),
)
defect(
    "rejects-assistant-null-content",
    "request",
    "TOOL-016",
    "An assistant message with tool_calls and content null (the tool round trip) is rejected with 400.",
    on_request=_reject_message(
        lambda m: m.get("role") == "assistant" and m.get("content") is None,
        "content",
        "Invalid type for 'messages.[{i}].content': expected a string, but got null instead.",
        "invalid_type",
    ),
)
defect(
    "rejects-assistant-history",
    "request",
    "REQ-005",
    "Multi-turn history is refused: an assistant message with string content gets 400.",
    on_request=_reject_message(
        lambda m: m.get("role") == "assistant" and isinstance(m.get("content"), str),
        "role",
        "Conversation history is not supported: only system and user messages are accepted.",
    ),
)
defect(
    "accepts-unknown-role",
    "request",
    "REQ-010",
    "A message with an unknown role (e.g. 'robot') is accepted and answered.",
    skip_checks={"role.unknown"},
)
defect(
    "accepts-missing-content",
    "request",
    "REQ-010",
    "A user/system/developer/tool message without content is accepted.",
    skip_checks={"content.required"},
)
defect(
    "accepts-empty-content-parts",
    "request",
    "REQ-011",
    "An empty content-part array is accepted.",
    skip_checks={"parts.empty"},
)
defect(
    "accepts-unknown-part-type",
    "request",
    "REQ-011",
    "A content part with an unknown `type` is accepted (and ignored).",
    skip_checks={"parts.unknown-type"},
)
defect(
    "accepts-part-without-payload",
    "request",
    "REQ-011",
    'A content part without its payload (e.g. {"type": "text"}) is accepted.',
    skip_checks={"parts.payload"},
)


def _coerce_n(call: Call) -> None:
    n = (call.body or {}).get("n")
    if isinstance(n, str) and n.strip().isdigit():
        call.body["n"] = int(n)


defect(
    "coerces-string-n",
    "request",
    "REQ-004",
    'Lax parsing: `"n": "2"` is coerced to 2 and accepted instead of rejected as a wrong type.',
    on_parsed=_coerce_n,
)


def _coerce_stream(call: Call) -> None:
    s = (call.body or {}).get("stream")
    if isinstance(s, str):
        call.body["stream"] = s.lower() in ("yes", "true", "1", "on")
        call.stream = call.body["stream"]


defect(
    "coerces-string-stream",
    "request",
    "REQ-004",
    'Lax parsing: `"stream": "yes"` is taken as true and streamed instead of rejected.',
    on_parsed=_coerce_stream,
)
defect(
    "missing-messages-accepted",
    "request",
    "REQ-002",
    "A body without `messages` is answered 200 (as an empty conversation).",
    skip_checks={"messages.required"},
)


def _default_model(call: Call) -> None:
    if (call.body or {}).get("model") is None:
        call.body["model"] = "chatconform-reference"


defect(
    "missing-model-uses-default",
    "request",
    "REQ-002",
    "A body without `model` is served by the default model instead of rejected with 400.",
    on_parsed=_default_model,
)


def _requires_limit(call: Call) -> ApiError | None:
    body = call.body or {}
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        return _bad("max_tokens", "Missing required parameter: 'max_tokens'.", "missing_required_parameter")
    return None


defect(
    "requires-max-tokens",
    "request",
    "REQ-001",
    "A request without a token limit is refused with 400 'max_tokens is required' (an Anthropic-style backend): "
    "`model` and `messages` alone are not enough.",
    on_request=_requires_limit,
)
defect(
    "rejects-assistant-text-parts",
    "request",
    "REQ-008",
    "An assistant history message whose content is an array of text parts is refused with 400 (only strings accepted).",
    on_request=_reject_message(
        lambda m: m.get("role") == "assistant" and isinstance(m.get("content"), list),
        "content",
        "Invalid type for 'messages.[{i}].content': expected a string, but got an array instead.",
        "invalid_type",
    ),
)
