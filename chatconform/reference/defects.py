"""The defect (mutant) catalogue: each defect turns the reference server into a server
with exactly ONE deviation from the rules in RULES.md.

The suite's kill matrix runs the suite against `start(defects=[name])` for every
entry and expects at least the rules in `breaks` to be reported as failed. So each
defect is

  * single: one deviation, showing up only in the situation it is about (a
    streaming defect leaves non-streaming answers alone, a tool defect leaves text
    answers alone...), so a failure elsewhere means the suite, not the mutant,
    is imprecise;
  * observable black-box with the deterministic probes RULES.md describes;
  * honest about `breaks`: the rule(s) a faithful suite must report. Knock-on
    failures that depend on how a suite attributes them (e.g. a schema error also
    failing RESP-001 / STREAM-001 unless an x-rule points elsewhere) are not listed.

Hook points, in pipeline order (all optional; see server.py):

  skip_checks   names of validation checks switched off (validate.py, auth.py, server.py)
  flags         behaviour switches read by the server ("auth-scheme-case-sensitive")
  on_parsed(call) -> ApiError | None          after JSON parsing, before validation
  on_request(call) -> ApiError | None         after validation and model lookup; may edit call.body
  on_completion(call, completion) -> None     edit the generated model.Completion in place
  on_response(call, body) -> body             the non-streaming JSON body
  on_chunks(call, chunks) -> chunks           the stream's chunk objects
  on_events(call, events) -> events           the raw SSE events ("data: ...\\n\\n")
  on_error(call, reply) -> reply              any error reply (reply.check names its cause)
  on_reply(call, reply) -> reply              every reply, last (headers, status)
"""
from __future__ import annotations

import copy
import json
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import model as fake_model
from . import render
from .errors import ApiError
from .exchange import Call, Reply, dumps
from .validate import KNOWN_FIELDS

AREAS = ("http", "auth", "request", "response", "stream", "errors", "tools", "params", "vision", "audio", "structured")

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Defect:
    name: str  # kebab-case, stable: the kill matrix and CLI refer to it
    area: str  # one of AREAS
    breaks: tuple[str, ...]  # rule IDs a faithful suite must report as failed
    description: str
    skip_checks: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    on_parsed: Optional[Callable[[Call], Optional[ApiError]]] = None
    on_request: Optional[Callable[[Call], Optional[ApiError]]] = None
    on_completion: Optional[Callable[[Call, Any], None]] = None
    on_response: Optional[Callable[[Call, dict], dict]] = None
    on_chunks: Optional[Callable[[Call, list], list]] = None
    on_events: Optional[Callable[[Call, list], list]] = None
    on_error: Optional[Callable[[Call, Reply], Reply]] = None
    on_reply: Optional[Callable[[Call, Reply], Reply]] = None


# =====================================================================================
# Helpers shared by the hooks
# =====================================================================================


def _bad(param: str | None, message: str, code: str | None = "invalid_value", check: str = "defect") -> ApiError:
    return ApiError(400, message, param=param, code=code, check=check)


def _server_error() -> ApiError:
    return ApiError(500, "The server had an error while processing your request.", type="server_error", check="defect")


def _as_500(reply: Reply) -> Reply:
    e = _server_error()
    return Reply(500, {"Content-Type": "application/json"}, dumps(e.envelope()).encode(), error=e.error_object(), check=reply.check)


def _error_500_when(*checks: str) -> Callable[[Call, Reply], Reply]:
    def hook(call: Call, reply: Reply) -> Reply:
        return _as_500(reply) if reply.check in checks else reply

    return hook


def _rewrite_error(reply: Reply, fn: Callable[[dict], Any], content_type: str = "application/json") -> Reply:
    """Replace an error body by fn(envelope); fn returns a dict (JSON) or str (raw)."""
    value = fn(json.loads(reply.body))
    body = value.encode() if isinstance(value, str) else dumps(value).encode()
    return Reply(reply.status, {**reply.headers, "Content-Type": content_type}, body, error=reply.error, check=reply.check)


def _edit_error_object(fn: Callable[[dict], None]) -> Callable[[Call, Reply], Reply]:
    def hook(call: Call, reply: Reply) -> Reply:
        def edit(env: dict) -> dict:
            fn(env["error"])
            return env

        return _rewrite_error(reply, edit)

    return hook


def _messages(call: Call) -> list[dict]:
    msgs = (call.body or {}).get("messages")
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def _parts(call: Call, kind: str) -> list[tuple[int, int, dict]]:
    """(message index, part index, payload) for every content part of a type."""
    out = []
    for i, m in enumerate(_messages(call)):
        if isinstance(m.get("content"), list):
            for j, p in enumerate(m["content"]):
                if isinstance(p, dict) and p.get("type") == kind and isinstance(p.get(kind), dict):
                    out.append((i, j, p[kind]))
    return out


def _rf_type(call: Call) -> str | None:
    rf = (call.body or {}).get("response_format")
    return rf.get("type") if isinstance(rf, dict) else None


def _is_n(call: Call) -> bool:
    n = (call.body or {}).get("n")
    return isinstance(n, int) and not isinstance(n, bool) and n > 1


def _natural_stop(call: Call, finish: Any, has_tools: bool) -> bool:
    """A text answer that ended by itself (not a stop sequence, limit or tool call)."""
    return finish == "stop" and not has_tools and (call.body or {}).get("stop") is None


def _on_choices(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    """on_response hook running fn(call, choice) for each choice of the JSON body."""

    def hook(call: Call, body: dict) -> dict:
        if when(call):
            for ch in body.get("choices", []):
                fn(call, ch)
        return body

    return hook


def _on_body(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    def hook(call: Call, body: dict) -> dict:
        if when(call):
            fn(call, body)
        return body

    return hook


def _usage_edit(fn: Callable[[dict], None]):
    def edit(call: Call, body: dict) -> None:
        if isinstance(body.get("usage"), dict):
            fn(body["usage"])

    return _on_body(edit)


def _items(chunks: list[dict]):
    """(chunk, choice item) for every choice item of the stream."""
    for ch in chunks:
        for it in ch.get("choices") or []:
            yield ch, it


def _on_items(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    def hook(call: Call, chunks: list[dict]) -> list[dict]:
        if when(call):
            for _, it in _items(chunks):
                fn(call, it)
        return chunks

    return hook


def _first_items(chunks: list[dict]) -> list[dict]:
    seen: set[int] = set()
    out = []
    for _, it in _items(chunks):
        if it.get("index") not in seen:
            seen.add(it.get("index"))
            out.append(it)
    return out


def _finish_items(chunks: list[dict]) -> list[dict]:
    return [it for _, it in _items(chunks) if it.get("finish_reason") is not None]


def _tool_fragments(chunks: list[dict]) -> list[dict]:
    return [tc for _, it in _items(chunks) for tc in (it.get("delta") or {}).get("tool_calls") or []]


def _include_usage(call: Call) -> bool:
    so = (call.body or {}).get("stream_options")
    return isinstance(so, dict) and so.get("include_usage") is True


def _on_events(fn: Callable[[list[str]], list[str]]):
    return lambda call, events: fn(list(events))


def _retokenize(choice: Any, text: str, call: Call) -> None:
    """Replace a generated choice's text, keeping tokens, logprobs and usage consistent."""
    choice.tokens = fake_model.tokenize(text)
    choice.content = text
    choice.completion_tokens = len(choice.tokens)
    if choice.logprobs is not None:
        top = (call.body or {}).get("top_logprobs") or 0
        choice.logprobs = fake_model.logprob_entries(choice.tokens, top, random.Random(text))


def _on_text_choices(fn: Callable[[Call, Any], None], *, when: Callable[[Call], bool] = lambda c: True):
    def hook(call: Call, completion: Any) -> None:
        if when(call):
            for ch in completion.choices:
                if not ch.tool_calls:
                    fn(call, ch)

    return hook


def _tool_choice(call: Call) -> Any:
    body = call.body or {}
    if not body.get("tools"):
        return None
    return body.get("tool_choice", "auto")


_DEFECTS: list[Defect] = []


def defect(name: str, area: str, breaks: tuple[str, ...] | str, description: str, **hooks: Any) -> None:
    if isinstance(breaks, str):
        breaks = (breaks,)
    for key in ("skip_checks", "flags"):
        if key in hooks:
            hooks[key] = frozenset(hooks[key])
    _DEFECTS.append(Defect(name, area, tuple(breaks), description, **hooks))


# =====================================================================================
# http: transport, media types, headers
# =====================================================================================


def _rejects_charset(call: Call) -> ApiError | None:
    ctype = call.header("Content-Type")
    if ";" in ctype:
        return ApiError(415, f"Invalid Content-Type header ({ctype}), expected application/json.", code="unsupported_media_type", check="defect")
    return None


defect(
    "rejects-charset-param", "http", "HTTP-002",
    "Compares Content-Type to 'application/json' literally, so 'application/json; charset=utf-8' gets 415.",
    on_request=_rejects_charset,
)


def _unknown_field_500(call: Call) -> ApiError | None:
    return _server_error() if set(call.body or {}) - KNOWN_FIELDS else None


defect(
    "unknown-field-500", "http", "HTTP-008",
    "An unknown top-level request field crashes the handler: 500 instead of 200 (ignore) or 400 (reject).",
    on_request=_unknown_field_500,
)


def _rejects_null_sampling(call: Call) -> ApiError | None:
    for key in ("temperature", "top_p"):
        if key in (call.body or {}) and call.body[key] is None:
            return _bad(key, f"Invalid type for '{key}': expected a decimal, but got null instead.", "invalid_type")
    return None


defect(
    "rejects-null-sampling", "http", "HTTP-007",
    "Treats temperature/top_p as non-nullable: an explicit null gets 400 instead of meaning 'not set'.",
    on_request=_rejects_null_sampling,
)


def _rejects_sdk_headers(call: Call) -> ApiError | None:
    for name in call.headers.keys():
        if name.lower().startswith("x-stainless"):
            return _bad(None, f"Unrecognized request header: {name}.")
    return None


defect(
    "rejects-sdk-headers", "http", "AUTH-008",
    "Rejects requests carrying the official SDK's X-Stainless-* headers with 400.",
    on_request=_rejects_sdk_headers,
)


def _text_plain_json(call: Call, reply: Reply) -> Reply:
    if call.path == CHAT_PATH and reply.status == 200 and reply.events is None:
        reply.headers["Content-Type"] = "text/plain; charset=utf-8"
    return reply


defect(
    "response-content-type-text-plain", "http", "HTTP-003",
    "Non-streaming 200 answers are labelled text/plain instead of application/json.",
    on_reply=_text_plain_json,
)


def _latin1_json(call: Call, reply: Reply) -> Reply:
    if call.path == CHAT_PATH and reply.status == 200 and reply.events is None:
        reply.headers["Content-Type"] = "application/json; charset=iso-8859-1"
    return reply


defect(
    "response-charset-latin1", "http", "HTTP-004",
    "Non-streaming 200 answers declare charset=iso-8859-1 (the body is still UTF-8).",
    on_reply=_latin1_json,
)


def _stream_as_json_ctype(call: Call, reply: Reply) -> Reply:
    if reply.events is not None and reply.status == 200:
        reply.headers["Content-Type"] = "application/json"
    return reply


defect(
    "stream-content-type-json", "http", "HTTP-005",
    "Event streams are sent with Content-Type application/json instead of text/event-stream.",
    on_reply=_stream_as_json_ctype,
)


def _accept_json_disables_stream(call: Call) -> None:
    accept = call.header("Accept").lower()
    if call.stream and "application/json" in accept and "text/event-stream" not in accept:
        call.stream = False
        call.body = {**call.body, "stream": False, "stream_options": None}


defect(
    "stream-ignores-accept-json", "http", "HTTP-006",
    "Honours Accept over the body: `stream: true` with `Accept: application/json` (what the SDK sends) gets one JSON answer.",
    on_request=_accept_json_disables_stream,
)


def _unknown_path_html(call: Call, reply: Reply) -> Reply:
    if reply.check != "http.unknown-path":
        return reply
    return _rewrite_error(reply, lambda env: "<html><body><h1>404 Not Found</h1></body></html>", "text/html; charset=utf-8")


defect(
    "unknown-path-html", "http", "ERR-001",
    "An unknown path under the base URL gets an HTML 404 page instead of the JSON error envelope.",
    on_error=_unknown_path_html,
)


# =====================================================================================
# auth
# =====================================================================================

defect(
    "auth-disabled", "auth", ("AUTH-003", "AUTH-004"),
    "Configured with a key but never checks it: no key and wrong keys are both answered 200.",
    skip_checks={"auth.missing", "auth.key"},
)
defect(
    "auth-wrong-key-accepted", "auth", "AUTH-004",
    "Checks that a Bearer key is present but not that it is the right one.",
    skip_checks={"auth.key"},
)


def _status_for(check: str, status: int):
    def hook(call: Call, reply: Reply) -> Reply:
        if reply.check == check:
            reply.status = status
        return reply

    return hook


defect(
    "auth-missing-key-403", "auth", "AUTH-003",
    "A request without Authorization gets 403 instead of 401.",
    on_error=_status_for("auth.missing", 403),
)
defect(
    "auth-wrong-key-403", "auth", "AUTH-004",
    "A request with a wrong key gets 403 instead of 401.",
    on_error=_status_for("auth.key", 403),
)


def _echo_key(call: Call, reply: Reply) -> Reply:
    if reply.check != "auth.key":
        return reply
    key = call.header("Authorization").strip().partition(" ")[2].strip()

    def edit(err: dict) -> None:
        err["message"] = f"Incorrect API key provided: {key}."

    return _edit_error_object(edit)(call, reply)


defect(
    "auth-key-echoed", "auth", "AUTH-005",
    "The wrong-key 401 message repeats the submitted key in full instead of masking it.",
    on_error=_echo_key,
)
defect(
    "auth-scheme-case-sensitive", "auth", "AUTH-002",
    "Accepts only the exact scheme 'Bearer': 'bearer <key>' gets 401.",
    flags={"auth-scheme-case-sensitive"},
)


def _auth_plain_text(call: Call, reply: Reply) -> Reply:
    if reply.check in ("auth.missing", "auth.key"):
        return _rewrite_error(reply, lambda env: "Unauthorized", "text/plain; charset=utf-8")
    return reply


defect(
    "auth-401-plain-text", "auth", "ERR-001",
    "Authentication failures are a bare 'Unauthorized' text/plain body, not the JSON envelope.",
    on_error=_auth_plain_text,
)


# =====================================================================================
# request acceptance
# =====================================================================================


def _reject_role(role: str):
    def hook(call: Call) -> ApiError | None:
        for i, m in enumerate(_messages(call)):
            if m.get("role") == role:
                return _bad(f"messages.[{i}].role", f"Invalid value: '{role}'. Supported values are: 'system', 'user', 'assistant', and 'tool'.")
        return None

    return hook


defect(
    "rejects-developer-role", "request", "REQ-006",
    "Does not know role 'developer' and rejects it with 400.",
    on_request=_reject_role("developer"),
)


def _rejects_system_parts(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        if m.get("role") in ("system", "developer") and isinstance(m.get("content"), list):
            return _bad(f"messages.[{i}].content", f"Invalid type for 'messages.[{i}].content': expected a string, but got an array instead.", "invalid_type")
    return None


defect(
    "rejects-system-text-parts", "request", "REQ-007",
    "System/developer content must be a string: an array of text parts gets 400.",
    on_request=_rejects_system_parts,
)


def _rejects_user_text_parts(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        c = m.get("content")
        if m.get("role") == "user" and isinstance(c, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in c):
            return _bad(f"messages.[{i}].content", "Content arrays are only supported for multimodal input.")
    return None


defect(
    "rejects-user-text-parts", "request", "CONTENT-001",
    "A user content array made only of text parts gets 400 (arrays accepted only with media).",
    on_request=_rejects_user_text_parts,
)


def _rejects_name(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        if "name" in m and m.get("role") != "function":
            return _bad(f"messages.[{i}].name", f"Unrecognized request argument supplied: messages.[{i}].name")
    return None


defect(
    "rejects-message-name", "request", "REQ-009",
    "The optional `name` field on messages is rejected with 400.",
    on_request=_rejects_name,
)


def _rejects_assistant_refusal(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        if m.get("role") == "assistant" and "refusal" in m:
            return _bad(f"messages.[{i}].refusal", f"Unrecognized request argument supplied: messages.[{i}].refusal")
    return None


defect(
    "rejects-assistant-refusal-field", "request", "REQ-009",
    "An assistant history message with `refusal: null` is rejected with 400.",
    on_request=_rejects_assistant_refusal,
)


def _rejects_assistant_null(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        if m.get("role") == "assistant" and m.get("content") is None:
            return _bad(f"messages.[{i}].content", f"Invalid type for 'messages.[{i}].content': expected a string, but got null instead.", "invalid_type")
    return None


defect(
    "rejects-assistant-null-content", "request", "TOOL-016",
    "An assistant message with tool_calls and content null (the tool round trip) is rejected with 400.",
    on_request=_rejects_assistant_null,
)


def _rejects_assistant_text(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        if m.get("role") == "assistant" and isinstance(m.get("content"), str):
            return _bad(f"messages.[{i}].role", "Conversation history is not supported: only system and user messages are accepted.")
    return None


defect(
    "rejects-assistant-history", "request", "REQ-005",
    "Multi-turn history is refused: an assistant message with string content gets 400.",
    on_request=_rejects_assistant_text,
)
defect(
    "accepts-unknown-role", "request", "REQ-010",
    "A message with an unknown role (e.g. 'robot') is accepted and answered.",
    skip_checks={"role.unknown"},
)
defect(
    "accepts-missing-content", "request", "REQ-010",
    "A user/system/developer/tool message without content is accepted.",
    skip_checks={"content.required"},
)
defect(
    "accepts-empty-content-parts", "request", "REQ-011",
    "An empty content-part array is accepted.",
    skip_checks={"parts.empty"},
)
defect(
    "accepts-unknown-part-type", "request", "REQ-011",
    "A content part with an unknown `type` is accepted (and ignored).",
    skip_checks={"parts.unknown-type"},
)
defect(
    "accepts-part-without-payload", "request", "REQ-011",
    "A content part without its payload (e.g. {\"type\": \"text\"}) is accepted.",
    skip_checks={"parts.payload"},
)


def _coerce_n(call: Call) -> None:
    n = (call.body or {}).get("n")
    if isinstance(n, str) and n.strip().isdigit():
        call.body["n"] = int(n)


defect(
    "coerces-string-n", "request", "REQ-004",
    "Lax parsing: `\"n\": \"2\"` is coerced to 2 and accepted instead of rejected as a wrong type.",
    on_parsed=_coerce_n,
)


def _coerce_stream(call: Call) -> None:
    s = (call.body or {}).get("stream")
    if isinstance(s, str):
        call.body["stream"] = s.lower() in ("yes", "true", "1", "on")
        call.stream = call.body["stream"]


defect(
    "coerces-string-stream", "request", "REQ-004",
    "Lax parsing: `\"stream\": \"yes\"` is taken as true and streamed instead of rejected.",
    on_parsed=_coerce_stream,
)
defect(
    "missing-messages-accepted", "request", "REQ-002",
    "A body without `messages` is answered 200 (as an empty conversation).",
    skip_checks={"messages.required"},
)


def _default_model(call: Call) -> None:
    if (call.body or {}).get("model") is None:
        call.body["model"] = "chatconform-reference"


defect(
    "missing-model-uses-default", "request", "REQ-002",
    "A body without `model` is served by the default model instead of rejected with 400.",
    on_parsed=_default_model,
)


# =====================================================================================
# response: the non-streaming body
# =====================================================================================


def _set(key: str, value: Any):
    def edit(call: Call, body: dict) -> None:
        body[key] = value(body) if callable(value) else value

    return _on_body(edit)


def _delete(key: str):
    return _on_body(lambda call, body: body.pop(key, None))


defect("response-object-wrong", "response", "RESP-003", "`object` is 'chat.completions' instead of 'chat.completion'.",
       on_response=_set("object", "chat.completions"))
defect("response-id-missing", "response", "RESP-002", "The top-level `id` is left out.", on_response=_delete("id"))
defect("response-id-not-string", "response", "RESP-004", "`id` is an integer.", on_response=_set("id", 1234567))
defect("response-id-constant", "response", "RESP-005", "Every completion has the same `id`.",
       on_response=_set("id", "chatcmpl-reference"))
defect("response-created-float", "response", "RESP-006", "`created` is a float with a fractional part (time.time()).",
       on_response=_set("created", lambda b: b["created"] + 0.25))
defect("response-created-milliseconds", "response", "RESP-006", "`created` is in milliseconds.",
       on_response=_set("created", lambda b: b["created"] * 1000))
defect("response-created-string", "response", "RESP-006", "`created` is a string of digits.",
       on_response=_set("created", lambda b: str(b["created"])))
defect("response-model-missing", "response", "RESP-002", "The top-level `model` is left out.", on_response=_delete("model"))
defect("response-model-empty", "response", "RESP-007", "`model` is the empty string.", on_response=_set("model", ""))
defect("response-choices-empty", "response", "RESP-009", "`choices` is an empty array.", on_response=_set("choices", []))
defect("response-service-tier-invalid", "response", "RESP-020", "`service_tier` is 'standard', not one of the spec's values.",
       on_response=_set("service_tier", "standard"))


def _extra_choice(call: Call, body: dict) -> None:
    if (call.body or {}).get("n") is None and body.get("choices"):
        twin = copy.deepcopy(body["choices"][0])
        twin["index"] = 1
        body["choices"].append(twin)


defect("response-two-choices-without-n", "response", "RESP-009",
       "Without `n`, the answer carries two choices (the second a copy with index 1).", on_response=_on_body(_extra_choice))
defect("response-choice-index-missing", "response", "RESP-008", "`choices[].index` is left out.",
       on_response=_on_choices(lambda c, ch: ch.pop("index", None)))
defect("response-logprobs-key-missing", "response", "RESP-008",
       "`choices[].logprobs` is omitted when it would be null (logprobs not requested).",
       on_response=_on_choices(lambda c, ch: ch.pop("logprobs") if ch.get("logprobs", 0) is None else None))
defect("response-role-bot", "response", "RESP-010", "`message.role` is 'bot'.",
       on_response=_on_choices(lambda c, ch: ch["message"].__setitem__("role", "bot")))
defect("response-content-missing", "response", "RESP-011", "`message.content` is left out.",
       on_response=_on_choices(lambda c, ch: ch["message"].pop("content", None)))
defect("response-refusal-missing", "response", "RESP-012", "`message.refusal` is left out.",
       on_response=_on_choices(lambda c, ch: ch["message"].pop("refusal", None)))


def _natural_finish(value: Any):
    def edit(call: Call, ch: dict) -> None:
        if _natural_stop(call, ch.get("finish_reason"), bool(ch["message"].get("tool_calls"))):
            ch["finish_reason"] = value

    return _on_choices(edit)


defect("response-finish-reason-empty", "response", "RESP-013",
       "A text answer that ended naturally has finish_reason \"\".", on_response=_natural_finish(""))
defect("response-finish-reason-null", "response", "RESP-013",
       "A text answer that ended naturally has finish_reason null.", on_response=_natural_finish(None))
defect("response-finish-reason-eos", "response", "RESP-013",
       "A text answer that ended naturally has finish_reason 'eos' (not in the enum).", on_response=_natural_finish("eos"))
defect("response-finish-reason-tool-calls-without-calls", "response", "RESP-014",
       "A text answer that ended naturally reports finish_reason 'tool_calls' (in the enum, but no tool was called).",
       on_response=_natural_finish("tool_calls"))
defect("usage-missing", "response", "RESP-015", "Non-streaming answers carry no `usage`.", on_response=_delete("usage"))
defect("usage-total-wrong", "response", "RESP-017", "`total_tokens` is prompt + completion + 1.",
       on_response=_usage_edit(lambda u: u.__setitem__("total_tokens", u["total_tokens"] + 1)))


def _usage_strings(u: dict) -> None:
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        u[k] = str(u[k])


def _usage_floats(u: dict) -> None:
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        u[k] = float(u[k])


def _prompt_zero(u: dict) -> None:
    u["prompt_tokens"] = 0
    u["total_tokens"] = u["completion_tokens"]


defect("usage-as-strings", "response", "RESP-016", "The three usage counts are strings.", on_response=_usage_edit(_usage_strings))
defect("usage-integers-as-floats", "response", "RESP-016", "The usage counts are written as 12.0 instead of 12.",
       on_response=_usage_edit(_usage_floats))
defect("usage-prompt-tokens-zero", "response", "RESP-018", "`prompt_tokens` is 0 for a non-empty prompt (total still adds up).",
       on_response=_usage_edit(_prompt_zero))
defect("usage-cached-exceeds-prompt", "response", "RESP-019", "`prompt_tokens_details.cached_tokens` is larger than `prompt_tokens`.",
       on_response=_usage_edit(lambda u: u["prompt_tokens_details"].__setitem__("cached_tokens", u["prompt_tokens"] + 5)))


# =====================================================================================
# stream: SSE framing and chunk contents
# =====================================================================================


def _chunk_set(key: str, value: Callable[[int, dict], Any]):
    def hook(call: Call, chunks: list[dict]) -> list[dict]:
        for i, ch in enumerate(chunks):
            ch[key] = value(i, ch)
        return chunks

    return hook


def _intermediate_empty(call: Call, it: dict) -> None:
    if it.get("finish_reason") is None:
        it["finish_reason"] = ""


defect("stream-finish-reason-empty-string", "stream", "STREAM-010",
       "Chunks that do not finish a choice carry finish_reason \"\" instead of null.", on_chunks=_on_items(_intermediate_empty))


def _stream_natural_eos(call: Call, it: dict) -> None:
    if _natural_stop(call, it.get("finish_reason"), False) and not (call.body or {}).get("tools"):
        it["finish_reason"] = "eos"


defect("stream-finish-reason-eos", "stream", "STREAM-010",
       "A streamed text answer that ended naturally finishes with 'eos' (not in the enum).", on_chunks=_on_items(_stream_natural_eos))
defect("stream-missing-done", "stream", "STREAM-016", "The stream ends without `data: [DONE]`.",
       on_events=_on_events(lambda ev: ev[:-1]))
defect("stream-data-after-done", "stream", "STREAM-016", "The last chunk is sent again after `data: [DONE]`.",
       on_events=_on_events(lambda ev: ev + [ev[-2]]))
defect("stream-events-single-newline", "stream", "STREAM-002",
       "Events are separated by a single \\n, so SSE clients merge them into one event.",
       on_events=_on_events(lambda ev: [e[:-1] if e.endswith("\n\n") else e for e in ev]))
defect("stream-no-space-after-colon", "stream", "STREAM-003", "Lines are `data:{...}` without the space after the colon.",
       on_events=_on_events(lambda ev: ["data:" + e[len("data: "):] for e in ev]))


def _insert_non_json(ev: list[str]) -> list[str]:
    return ev[:1] + ["data: keep-alive\n\n"] + ev[1:]


defect("stream-non-json-event", "stream", "STREAM-001", "A `data: keep-alive` event that is not JSON is sent after the first chunk.",
       on_events=_on_events(_insert_non_json))
defect("stream-chunk-object-wrong", "stream", "STREAM-004", "Chunks have object 'chat.completion' instead of 'chat.completion.chunk'.",
       on_chunks=_chunk_set("object", lambda i, ch: "chat.completion"))


def _drop_chunk_model(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        ch.pop("model", None)
    return chunks


defect("stream-chunk-model-missing", "stream", "STREAM-005", "Chunks carry no `model`.", on_chunks=_drop_chunk_model)


def _changing_id(i: int, ch: dict) -> str:
    return ch["id"] if i == 0 else ch["id"][:-4] + f"{i:04d}"[-4:]


defect("stream-id-changes", "stream", "STREAM-006", "Every chunk gets its own id.", on_chunks=_chunk_set("id", _changing_id))


def _created_changes(call: Call, chunks: list[dict]) -> list[dict]:
    if len(chunks) > 1:
        chunks[-1]["created"] = chunks[-1]["created"] + 1
    return chunks


defect("stream-created-changes", "stream", "STREAM-007", "The last chunk's `created` is one second later than the others.",
       on_chunks=_created_changes)
defect("stream-model-changes", "stream", "STREAM-008", "After the first chunk, `model` switches to a dated variant of the name.",
       on_chunks=_chunk_set("model", lambda i, ch: ch["model"] if i == 0 else ch["model"] + "-2024-08-06"))


def _role_missing(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _first_items(chunks):
        it["delta"].pop("role", None)
    return chunks


defect("stream-role-missing", "stream", "STREAM-012", "The first delta of a choice has no `role`.", on_chunks=_role_missing)


def _role_everywhere(call: Call, it: dict) -> None:
    d = it.get("delta") or {}
    if "content" in d or "tool_calls" in d:
        d["role"] = "assistant"


defect("stream-role-repeated", "stream", "STREAM-013", "Every content delta repeats `role: \"assistant\"`.",
       on_chunks=_on_items(_role_everywhere))


def _refusal_false(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _first_items(chunks):
        it["delta"]["refusal"] = False
    return chunks


defect("stream-delta-refusal-boolean", "stream", "STREAM-014", "The opening delta has `refusal: false` instead of null.",
       on_chunks=_refusal_false)


def _finish_twice(call: Call, chunks: list[dict]) -> list[dict]:
    last: dict[Any, dict] = {}
    for _, it in _items(chunks):
        if it.get("finish_reason") is not None and it.get("index") in last:
            last[it["index"]]["finish_reason"] = it["finish_reason"]
        last[it.get("index")] = it
    return chunks


defect("stream-finish-reason-twice", "stream", "STREAM-011",
       "The last content chunk of a choice already carries the finish_reason, then the closing chunk repeats it.",
       on_chunks=_finish_twice)


def _finish_missing(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _finish_items(chunks):
        if _natural_stop(call, it["finish_reason"], bool((call.body or {}).get("tools"))):
            it["finish_reason"] = None
    return chunks


defect("stream-finish-reason-missing", "stream", "STREAM-011",
       "A streamed text answer that ends naturally never gets a non-null finish_reason (the closing chunk says null).",
       on_chunks=_finish_missing)


def _delta_after_finish(call: Call, chunks: list[dict]) -> list[dict]:
    out = []
    for ch in chunks:
        out.append(ch)
        for it in ch.get("choices") or []:
            if it.get("finish_reason") is not None:
                extra = copy.deepcopy(ch)
                extra["choices"] = [{"index": it["index"], "delta": {"content": ""}, "logprobs": None, "finish_reason": None}]
                out.append(extra)
    return out


defect("stream-delta-after-finish", "stream", "STREAM-011", "After a choice's finishing chunk, one more (empty) content delta follows.",
       on_chunks=_delta_after_finish)


def _delta_missing(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _finish_items(chunks):
        it.pop("delta", None)
    return chunks


defect("stream-finish-chunk-without-delta", "stream", "STREAM-009", "The finishing chunk's choice has no `delta` key.",
       on_chunks=_delta_missing)


def _content_as_text(call: Call, chunks: list[dict]) -> list[dict]:
    if _rf_type(call) not in (None, "text") or (call.body or {}).get("tools"):
        return chunks  # plain text only: structured output and tools have their own defects
    for _, it in _items(chunks):
        d = it.get("delta") or {}
        if "content" in d:
            d["text"] = d.pop("content")
    return chunks


defect("stream-content-as-text-field", "stream", "STREAM-015",
       "Plain-text streams carry the text in `delta.text` (completions style) instead of `delta.content`: "
       "the assembled message has no content, unlike the non-streaming answer.",
       on_chunks=_content_as_text)


def _usage_ignored(call: Call, chunks: list[dict]) -> list[dict]:
    out = [ch for ch in chunks if ch.get("choices")]
    for ch in out:
        ch.pop("usage", None)
    return out


defect("stream-usage-ignored", "stream", "STREAM-018", "`stream_options.include_usage: true` is ignored: no usage chunk.",
       on_chunks=_usage_ignored)


def _usage_on_last_choice_chunk(call: Call, chunks: list[dict]) -> list[dict]:
    if not chunks or chunks[-1].get("choices") or not isinstance(chunks[-1].get("usage"), dict):
        return chunks
    usage = chunks.pop()["usage"]
    chunks[-1]["usage"] = usage
    return chunks


defect("stream-usage-chunk-has-choices", "stream", "STREAM-018",
       "With include_usage, usage rides on the last choice chunk instead of an extra chunk with `choices: []`.",
       on_chunks=_usage_on_last_choice_chunk)


def _usage_before_finish(call: Call, chunks: list[dict]) -> list[dict]:
    if len(chunks) >= 2 and not chunks[-1].get("choices") and isinstance(chunks[-1].get("usage"), dict):
        chunks.insert(len(chunks) - 2, chunks.pop())
    return chunks


defect("stream-usage-before-finish", "stream", "STREAM-018",
       "With include_usage, the usage chunk comes before the finishing chunk instead of right before [DONE].",
       on_chunks=_usage_before_finish)


def _usage_unasked(call: Call, chunks: list[dict]) -> list[dict]:
    if not _include_usage(call) and chunks and call.completion is not None:
        extra = {k: v for k, v in chunks[-1].items() if k != "choices"}
        extra["choices"] = []
        extra["usage"] = render.usage(call.completion)
        chunks.append(extra)
    return chunks


defect("stream-usage-without-include", "stream", "STREAM-017",
       "A usage chunk is sent even though `stream_options.include_usage` was not requested.", on_chunks=_usage_unasked)


def _drop_last_index(call: Call, chunks: list[dict]) -> list[dict]:
    if not _is_n(call):
        return chunks
    last = call.body["n"] - 1
    return [ch for ch in chunks if not (ch.get("choices") and all(it.get("index") == last for it in ch["choices"]))]


defect("stream-n-missing-index", "stream", "STREAM-020", "With n > 1 the stream never sends the last choice index.",
       on_chunks=_drop_last_index)


def _reverse_first_appearance(call: Call, chunks: list[dict]) -> list[dict]:
    if not _is_n(call):
        return chunks
    body = [ch for ch in chunks if ch.get("choices")]
    tail = [ch for ch in chunks if not ch.get("choices")]
    body.sort(key=lambda ch: -ch["choices"][0]["index"])  # stable: each choice keeps its order
    return body + tail


defect("stream-indexes-out-of-order", "stream", "STREAM-021",
       "With n > 1 choices are streamed highest index first, so the first chunk's choice is not index 0.",
       on_chunks=_reverse_first_appearance)


defect("stream-obfuscation-not-string", "stream", "STREAM-022",
       "Chunks carry `obfuscation` as a number (the spec types it as a string).",
       on_chunks=_chunk_set("obfuscation", lambda i, ch: 12345))
def _buffer_stream(call: Call, events: list[str]) -> list[str]:
    # A buffering server still spends the generation time, then sends everything at
    # once: 60 ms per event before the first byte (headers included) leaves.
    time.sleep(0.06 * len(events))
    return ["".join(events)]


defect("stream-buffered", "stream", "HTTP-009",
       "The stream is generated in full (60 ms an event) and only then written, all at once, instead of flushed per event.",
       on_events=_buffer_stream)


def _stream_options_500(call: Call, reply: Reply) -> Reply:
    return _as_500(reply) if reply.check == "stream_options.requires-stream" else reply


defect("stream-options-without-stream-500", "stream", "STREAM-019",
       "`stream_options` on a non-streaming request crashes the server (500) instead of 400 or being ignored.",
       on_error=_stream_options_500)


# =====================================================================================
# errors
# =====================================================================================

defect("error-not-enveloped", "errors", "ERR-001", "Error bodies are the bare error object, without the {\"error\": ...} envelope.",
       on_error=lambda call, reply: _rewrite_error(reply, lambda env: env["error"]))
defect("error-html", "errors", "ERR-001", "Error bodies are HTML pages (text/html) instead of JSON.",
       on_error=lambda call, reply: _rewrite_error(
           reply, lambda env: f"<html><body><h1>Error</h1><p>{env['error']['message']}</p></body></html>", "text/html; charset=utf-8"))
defect("error-param-missing", "errors", "ERR-002", "The error object has no `param` key.",
       on_error=_edit_error_object(lambda err: err.pop("param", None)))
defect("error-code-missing", "errors", "ERR-002", "The error object has no `code` key.",
       on_error=_edit_error_object(lambda err: err.pop("code", None)))


def _code_int(call: Call, reply: Reply) -> Reply:
    return _edit_error_object(lambda err: err.__setitem__("code", reply.status))(call, reply)


defect("error-code-integer", "errors", "ERR-002", "`error.code` is the HTTP status as an integer.", on_error=_code_int)
defect("error-message-empty", "errors", "ERR-003", "`error.message` is the empty string.",
       on_error=_edit_error_object(lambda err: err.__setitem__("message", "")))


def _param_null_on_400(call: Call, reply: Reply) -> Reply:
    if reply.status != 400:
        return reply
    return _edit_error_object(lambda err: err.__setitem__("param", None))(call, reply)


defect("error-param-null", "errors", "PARAM-011",
       "400 errors never name the offending field: `param` is always null.", on_error=_param_null_on_400)


defect("invalid-json-500", "errors", "REQ-003", "A body that is not valid JSON gets 500.", on_error=_error_500_when("body.json"))
defect("non-object-body-500", "errors", "REQ-003", "A JSON body that is not an object (e.g. `[]`) gets 500.",
       on_error=_error_500_when("body.object"))
defect("empty-messages-500", "errors", "REQ-002", "`messages: []` gets 500 instead of 400.", on_error=_error_500_when("messages.empty"))


def _type_errors_422(call: Call, reply: Reply) -> Reply:
    if reply.status == 400 and reply.check.endswith(".type"):
        reply.status = 422
    return reply


defect("wrong-type-422", "errors", "ERR-004", "Wrong JSON types for known fields get 422 (FastAPI style) instead of 400.",
       on_error=_type_errors_422)
defect("unknown-model-200", "errors", "ERR-005", "An unknown model id is served by the default model (200).",
       skip_checks={"model.exists"})


def _model_500(call: Call, reply: Reply) -> Reply:
    return _as_500(reply) if reply.check == "model.exists" and call.path == CHAT_PATH else reply


defect("unknown-model-500", "errors", "ERR-005", "An unknown model id gets 500 instead of 404/400.", on_error=_model_500)
defect("context-overflow-500", "errors", "ERR-008", "A prompt longer than the context window gets 500.",
       on_error=_error_500_when("context.length"))


def _stream_error_as_sse(call: Call, reply: Reply) -> Reply:
    if not call.stream or reply.status != 400:
        return reply
    events = [render.sse_event(reply.body.decode()), render.sse_event("[DONE]")]
    return Reply(200, {"Content-Type": "text/event-stream; charset=utf-8"}, events=events, error=reply.error, check=reply.check)


defect("stream-validation-error-as-sse", "errors", "STREAM-023",
       "An invalid streaming request gets 200 and an SSE error event instead of a 400 JSON answer.", on_error=_stream_error_as_sse)


# =====================================================================================
# tools
# =====================================================================================


def _tool_calls_of(ch: dict) -> list[dict]:
    return ch.get("message", {}).get("tool_calls") or []


def _each_tool_call(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    def edit(call: Call, ch: dict) -> None:
        for tc in _tool_calls_of(ch):
            fn(call, tc)

    return _on_choices(edit, when=when)


def _args_object(call: Call, tc: dict) -> None:
    tc["function"]["arguments"] = json.loads(tc["function"]["arguments"])


defect("tool-arguments-object", "tools", "TOOL-005", "`function.arguments` is a JSON object instead of a string holding JSON.",
       on_response=_each_tool_call(_args_object))


def _args_python(call: Call, tc: dict) -> None:
    tc["function"]["arguments"] = repr(json.loads(tc["function"]["arguments"]))


defect("tool-arguments-invalid-json", "tools", "TOOL-006",
       "`function.arguments` is a Python repr ({'city': 'x'}), not JSON (non-streaming answers).",
       on_response=_each_tool_call(_args_python))


def _required_args_dropped(call: Call, completion: Any) -> None:
    fns = {t["function"]["name"]: t["function"] for t in (call.body or {}).get("tools") or [] if isinstance(t, dict)}
    for ch in completion.choices:
        for tc in ch.tool_calls:
            required = ((fns.get(tc.name) or {}).get("parameters") or {}).get("required") or []
            args = json.loads(tc.arguments)
            for key in required:
                args.pop(key, None)
            tc.arguments = json.dumps(args, separators=(",", ":"))


defect("tool-arguments-missing-required", "tools", "TOOL-006",
       "Tool-call arguments leave out the parameters' required keys (invalid against a strict schema).",
       on_completion=_required_args_dropped)


def _auto_or_required(call: Call) -> bool:
    return _tool_choice(call) in ("auto", "required")


def _rename_tool(call: Call, tc: dict) -> None:
    tc["function"]["name"] = tc["function"]["name"] + "_tool"


defect("tool-name-not-offered", "tools", "TOOL-006",
       "Under tool_choice auto/required the call names a function that was not offered (name + '_tool').",
       on_response=_each_tool_call(_rename_tool, when=_auto_or_required))
defect("tool-call-type-func", "tools", "TOOL-004", "Tool calls have `type: \"func\"`.",
       on_response=_each_tool_call(lambda c, tc: tc.__setitem__("type", "func")))
defect("tool-call-id-missing", "tools", "TOOL-004", "Tool calls have no `id`.",
       on_response=_each_tool_call(lambda c, tc: tc.pop("id", None)))
defect("tool-call-id-empty", "tools", "TOOL-007", "Tool-call ids are the empty string.",
       on_response=_each_tool_call(lambda c, tc: tc.__setitem__("id", "")))


def _duplicate_ids(call: Call, ch: dict) -> None:
    calls = _tool_calls_of(ch)
    for tc in calls[1:]:
        tc["id"] = calls[0]["id"]


defect("tool-call-ids-duplicate", "tools", "TOOL-007", "Parallel tool calls in one answer share the same id.",
       on_response=_on_choices(_duplicate_ids))


def _finish_stop_for_tools(call: Call, ch: dict) -> None:
    if ch.get("finish_reason") == "tool_calls":
        ch["finish_reason"] = "stop"


defect("tool-finish-reason-stop", "tools", "TOOL-008",
       "Non-streaming tool calls under tool_choice auto/required finish with 'stop' instead of 'tool_calls'.",
       on_response=_on_choices(_finish_stop_for_tools))


def _choice_to(value: Any, only: tuple[Any, ...] | None = None, named: bool = False):
    def hook(call: Call) -> None:
        tc = _tool_choice(call)
        if (named and isinstance(tc, dict)) or (only is not None and tc in only):
            call.body = {**call.body, "tool_choice": value}

    return hook


defect("tool-choice-none-ignored", "tools", "TOOL-011", "`tool_choice: \"none\"` is ignored: the model still calls a tool.",
       on_request=_choice_to("required", only=("none",)))
defect("tool-choice-required-ignored", "tools", "TOOL-012", "`tool_choice: \"required\"` is treated as 'none': a text answer.",
       on_request=_choice_to("none", only=("required",)))
defect("tool-choice-named-ignored", "tools", "TOOL-013",
       "A named tool_choice is not understood and treated as 'none': a text answer instead of that call.",
       on_request=_choice_to("none", named=True))


def _parallel_ignored(call: Call, completion: Any) -> None:
    if (call.body or {}).get("parallel_tool_calls") is not False:
        return
    for ch in completion.choices:
        if len(ch.tool_calls) == 1:
            first = ch.tool_calls[0]
            ch.tool_calls.append(fake_model.ToolCall(fake_model.random_id("call_", 24), first.name, first.arguments))
            ch.completion_tokens *= 2


defect("tool-parallel-false-ignored", "tools", "TOOL-015", "`parallel_tool_calls: false` is ignored: two tool calls come back.",
       on_completion=_parallel_ignored)


def _rejects_tool_array(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        if m.get("role") == "tool" and isinstance(m.get("content"), list):
            return _bad(f"messages.[{i}].content", f"Invalid type for 'messages.[{i}].content': expected a string, but got an array instead.", "invalid_type")
    return None


defect("rejects-tool-array-content", "tools", "TOOL-017", "A tool message with an array of text parts is rejected with 400.",
       on_request=_rejects_tool_array)


def _rejects_no_parameters(call: Call) -> ApiError | None:
    for i, t in enumerate((call.body or {}).get("tools") or []):
        if isinstance(t, dict) and "parameters" not in (t.get("function") or {}):
            return _bad(f"tools.[{i}].function.parameters", f"Missing required parameter: 'tools.[{i}].function.parameters'.", "missing_required_parameter")
    return None


defect("rejects-tool-without-parameters", "tools", "TOOL-002", "A function tool without `parameters` is rejected with 400.",
       on_request=_rejects_no_parameters)


def _rejects_strict_null(call: Call) -> ApiError | None:
    for i, t in enumerate((call.body or {}).get("tools") or []):
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and "strict" in fn and fn["strict"] is None:
            return _bad(f"tools.[{i}].function.strict", f"Invalid type for 'tools.[{i}].function.strict': expected a boolean, but got null instead.", "invalid_type")
    return None


defect("rejects-tool-strict-null", "tools", "TOOL-002", "`strict: null` on a function tool is rejected with 400.",
       on_request=_rejects_strict_null)
defect("accepts-invalid-tool-name", "tools", "TOOL-003", "Function names outside [a-zA-Z0-9_-]{1,64} are accepted.",
       skip_checks={"tools.name"})
defect("accepts-unknown-named-tool", "tools", "TOOL-014",
       "A named tool_choice for a function not in `tools` is accepted (and called).", skip_checks={"tool_choice.unknown-function"})
defect("accepts-tool-choice-without-tools", "tools", "TOOL-014", "tool_choice 'required' without any tools is accepted.",
       skip_checks={"tool_choice.without-tools"})
defect("accepts-orphan-tool-message", "tools", "TOOL-018",
       "A tool message that answers no preceding assistant tool call is accepted.", skip_checks={"tool.orphan"})
defect("accepts-unanswered-tool-calls", "tools", "TOOL-018",
       "An assistant tool_calls message not followed by a tool message for each id is accepted.", skip_checks={"tool.unanswered"})


def _tool_content_array(call: Call, ch: dict) -> None:
    if _tool_calls_of(ch):
        ch["message"]["content"] = []


defect("tool-call-content-array", "tools", "TOOL-009",
       "Answers that call tools have `content: []` instead of null or a string.", on_response=_on_choices(_tool_content_array))
defect("rejects-tool-choice-none", "tools", ("TOOL-010", "TOOL-011"), "`tool_choice: \"none\"` with tools is rejected with 400.",
       on_request=lambda call: _bad("tool_choice", "Invalid value: 'none'. Supported values are: 'auto' and 'required'.")
       if _tool_choice(call) == "none" else None)


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


defect("stream-tool-index-missing", "tools", "TOOL-019", "Streamed tool-call fragments carry no `index`.",
       on_chunks=_stream_tool_fragments(_frag_no_index))
defect("stream-tool-id-repeated", "tools", "TOOL-020",
       "Every streamed tool-call fragment repeats id, type and function.name (the SDK concatenates them).",
       on_chunks=_stream_tool_fragments(_frag_repeat_id))
defect("stream-tool-arguments-broken", "tools", "TOOL-021",
       "One streamed arguments fragment is lost, so the joined arguments are not valid JSON.", on_chunks=_drop_second_argument_fragment)
defect("stream-tool-index-from-one", "tools", "TOOL-022", "Streamed tool-call indexes start at 1 instead of 0.",
       on_chunks=_stream_tool_fragments(_frag_index_plus_one))


def _stream_tool_finish_stop(call: Call, it: dict) -> None:
    if it.get("finish_reason") == "tool_calls":
        it["finish_reason"] = "stop"


defect("stream-tool-finish-reason-stop", "tools", "TOOL-023",
       "A streamed tool-call turn under auto/required ends with 'stop' instead of 'tool_calls'.",
       on_chunks=_on_items(_stream_tool_finish_stop))


# =====================================================================================
# params: sampling and output parameters
# =====================================================================================


def _pop(*keys: str):
    def hook(call: Call) -> None:
        if any(k in (call.body or {}) for k in keys):
            call.body = {k: v for k, v in call.body.items() if k not in keys}

    return hook


defect("ignores-max-tokens", "params", ("PARAM-001", "PARAM-002"), "`max_tokens` is accepted but not applied.",
       on_request=_pop("max_tokens"))
defect("ignores-max-completion-tokens", "params", "PARAM-001", "`max_completion_tokens` is accepted but not applied.",
       on_request=_pop("max_completion_tokens"))


def _length_as_stop(call: Call, it: dict) -> None:
    if it.get("finish_reason") == "length":
        it["finish_reason"] = "stop"


defect("length-reported-as-stop", "params", "PARAM-002", "A non-streaming answer cut by the token limit says finish_reason 'stop'.",
       on_response=_on_choices(_length_as_stop))
defect("stream-length-reported-as-stop", "params", "PARAM-002", "A streamed answer cut by the token limit finishes with 'stop'.",
       on_chunks=_on_items(_length_as_stop))


def _include_stop_text(call: Call, ch: Any) -> None:
    if ch.stop_hit:
        _retokenize(ch, ch.content + ch.stop_hit, call)


defect("stop-sequence-included", "params", "PARAM-005", "Generation stops at a stop sequence but the stop text is kept in the output.",
       on_completion=_on_text_choices(_include_stop_text))


def _first_stop_only(call: Call) -> None:
    stop = (call.body or {}).get("stop")
    if isinstance(stop, list) and len(stop) > 1:
        call.body = {**call.body, "stop": stop[0]}


defect("stop-array-first-only", "params", "PARAM-005", "Only the first entry of a `stop` array is honoured.",
       on_request=_first_stop_only)
defect("ignores-stop", "params", "PARAM-005", "`stop` is accepted but never applied.", on_request=_pop("stop"))


def _rejects_four_stops(call: Call) -> ApiError | None:
    stop = (call.body or {}).get("stop")
    if isinstance(stop, list) and len(stop) > 3:
        return _bad("stop", f"Invalid 'stop': expected at most 3 stop sequences, but got {len(stop)}.")
    return None


defect("rejects-four-stops", "params", "PARAM-004", "A `stop` array of 4 entries (the maximum) is rejected with 400.",
       on_request=_rejects_four_stops)
defect("accepts-five-stops", "params", "PARAM-006", "A `stop` array of 5 (or 0) entries is accepted.", skip_checks={"stop.count"})


def _n_one(call: Call) -> None:
    if not call.stream and _is_n(call):
        call.body = {**call.body, "n": 1}


defect("n-ignored", "params", "PARAM-008", "`n` is accepted but non-streaming answers always carry one choice.", on_request=_n_one)
defect("n-duplicate-index", "params", "PARAM-008", "With n > 1 every choice has index 0.",
       on_response=_on_choices(lambda c, ch: ch.__setitem__("index", 0), when=_is_n))
defect("accepts-out-of-range-n", "params", "PARAM-009", "`n` outside 1..128 (0, 129) is accepted.", skip_checks={"n.range"})


def _rejects_n(call: Call) -> ApiError | None:
    return _bad("n", "Invalid 'n': only n=1 is supported.") if _is_n(call) else None


defect("rejects-n-above-one", "params", ("PARAM-007", "STREAM-020"), "Any `n` above 1 is rejected with 400.", on_request=_rejects_n)


def _reject_value(key: str, pred: Callable[[Any], bool], message: str):
    def hook(call: Call) -> ApiError | None:
        v = (call.body or {}).get(key)
        return _bad(key, message.format(v=v)) if v is not None and pred(v) else None

    return hook


defect("rejects-temperature-2", "params", "PARAM-010", "temperature 2 (the inclusive maximum) is rejected: the bound is exclusive.",
       on_request=_reject_value("temperature", lambda v: v >= 2, "Invalid 'temperature': expected a value < 2, but got {v} instead."))


def _temperature_up_to_4(call: Call) -> ApiError | None:
    v = (call.body or {}).get("temperature")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v <= 4:
        side = "below minimum" if v < 0 else "above maximum"
        limit = ">= 0" if v < 0 else "<= 4"
        return _bad("temperature", f"Invalid 'temperature': decimal {side} value. Expected a value {limit}, but got {v} instead.", "decimal_above_max_value")
    return None


defect("accepts-temperature-above-2", "params", "PARAM-011",
       "temperature is range-checked against [0, 4] instead of [0, 2] (2.1 accepted, 5 still rejected).",
       skip_checks={"temperature.range"}, on_request=_temperature_up_to_4)
defect("rejects-top-p-0", "params", "PARAM-010", "top_p 0 (the inclusive minimum) is rejected.",
       on_request=_reject_value("top_p", lambda v: v <= 0, "Invalid 'top_p': expected a value > 0, but got {v} instead."))
defect("accepts-top-p-above-1", "params", "PARAM-011", "top_p is not range-checked (1.5 accepted).", skip_checks={"top_p.range"})


def _rejects_negative_penalty(call: Call) -> ApiError | None:
    for key in ("presence_penalty", "frequency_penalty"):
        v = (call.body or {}).get(key)
        if isinstance(v, (int, float)) and v < 0:
            return _bad(key, f"Invalid '{key}': expected a value >= 0, but got {v} instead.")
    return None


defect("rejects-negative-penalty", "params", "PARAM-010", "Negative presence/frequency penalties (valid down to -2) are rejected.",
       on_request=_rejects_negative_penalty)
defect("accepts-penalty-out-of-range", "params", "PARAM-011", "presence/frequency penalties are not range-checked (2.5 accepted).",
       skip_checks={"presence_penalty.range", "frequency_penalty.range"})
defect("rejects-logit-bias", "params", "PARAM-012", "Any non-empty `logit_bias` is rejected with 400.",
       on_request=_reject_value("logit_bias", lambda v: bool(v), "Invalid 'logit_bias': logit_bias is not supported."))
defect("accepts-logit-bias-out-of-range", "params", "PARAM-013", "logit_bias values outside -100..100 are accepted.",
       skip_checks={"logit_bias.range"})
defect("rejects-seed", "params", "PARAM-020", "Any `seed` is rejected with 400.",
       on_request=_reject_value("seed", lambda v: True, "Invalid 'seed': seed is not supported."))
defect("accepts-max-tokens-zero", "params", "PARAM-003", "max_tokens <= 0 is accepted.", skip_checks={"max_tokens.range"})
defect("accepts-fractional-max-tokens", "params", "PARAM-003", "A non-integer max_tokens (1.5) is accepted.",
       skip_checks={"max_tokens.type"})


def _logprobs_requested(call: Call) -> bool:
    return (call.body or {}).get("logprobs") is True


defect("logprobs-ignored", "params", "PARAM-016", "`logprobs: true` is accepted but choices[].logprobs stays null.",
       on_response=_on_choices(lambda c, ch: ch.__setitem__("logprobs", None), when=_logprobs_requested))
defect("logprobs-refusal-key-missing", "params", "PARAM-016", "The logprobs object has `content` but no `refusal` key.",
       on_response=_on_choices(lambda c, ch: (ch.get("logprobs") or {}).pop("refusal", None), when=_logprobs_requested))


def _entries(ch: dict) -> list[dict]:
    lp = ch.get("logprobs") or {}
    return lp.get("content") or []


def _positive(call: Call, ch: dict) -> None:
    for e in _entries(ch)[:1]:
        e["logprob"] = 0.25
        if e["top_logprobs"]:
            e["top_logprobs"][0]["logprob"] = 0.25


def _too_many(call: Call, ch: dict) -> None:
    for e in _entries(ch):
        e["top_logprobs"].append({"token": " extra", "logprob": -99.0, "bytes": list(b" extra")})


def _utf16(call: Call, ch: dict) -> None:
    for e in _entries(ch):
        e["bytes"] = list(e["token"].encode("utf-16-le"))


def _stripped(call: Call, ch: dict) -> None:
    for e in _entries(ch):
        e["token"] = e["token"].strip()
        e["bytes"] = list(e["token"].encode())


defect("logprob-positive", "params", "PARAM-017", "The first token's logprob is +0.25 (probabilities above 1).",
       on_response=_on_choices(_positive))
defect("top-logprobs-too-many", "params", "PARAM-017", "Each entry has one more top_logprobs alternative than requested.",
       on_response=_on_choices(_too_many))
defect("logprobs-bytes-wrong", "params", "PARAM-017", "`bytes` are UTF-16-LE instead of the UTF-8 bytes of the token.",
       on_response=_on_choices(_utf16))
defect("logprobs-tokens-mismatch", "params", "PARAM-017",
       "Logprob tokens lose their leading spaces, so they no longer join into the content.", on_response=_on_choices(_stripped))


def _unrequested_logprobs(call: Call, ch: dict) -> None:
    if ch.get("logprobs") is None:
        ch["logprobs"] = {"content": [], "refusal": None}


defect("logprobs-when-not-requested", "params", "PARAM-018", "Without `logprobs`, choices[].logprobs is an empty object, not null.",
       on_response=_on_choices(_unrequested_logprobs))


def _stream_lp_missing(call: Call, it: dict) -> None:
    if (it.get("delta") or {}).get("content"):
        it["logprobs"] = None


defect("stream-logprobs-missing", "params", "PARAM-019", "Streamed content chunks carry no logprobs although they were requested.",
       on_chunks=_on_items(_stream_lp_missing, when=_logprobs_requested))
defect("accepts-top-logprobs-without-logprobs", "params", "PARAM-015", "top_logprobs without `logprobs: true` is accepted.",
       skip_checks={"top_logprobs.requires-logprobs"})
defect("accepts-top-logprobs-above-20", "params", "PARAM-015", "top_logprobs above 20 is accepted.",
       skip_checks={"top_logprobs.range"})
defect("rejects-logprobs", "params", "PARAM-014", "`logprobs: true` is rejected with 400.",
       on_request=_reject_value("logprobs", lambda v: v is True, "Invalid 'logprobs': logprobs are not supported."))
defect("rejects-response-format-text", "params", "PARAM-022", "`response_format: {\"type\": \"text\"}` is rejected with 400.",
       on_request=lambda call: _bad("response_format", "Invalid 'response_format': type 'text' is not supported.")
       if _rf_type(call) == "text" else None)


def _metadata_500(call: Call) -> ApiError | None:
    return _server_error() if (call.body or {}).get("metadata") else None


defect("metadata-500", "params", "PARAM-028", "A request with `metadata` crashes the server (500).", on_request=_metadata_500)


# =====================================================================================
# structured output
# =====================================================================================


def _is_rf(kind: str) -> Callable[[Call], bool]:
    return lambda call: _rf_type(call) == kind


def _fence(call: Call, ch: Any) -> None:
    if ch.finish_reason == "stop":
        _retokenize(ch, "```json\n" + ch.content + "\n```", call)


defect("json-object-fenced", "structured", "PARAM-024", "json_object answers are wrapped in ```json fences.",
       on_completion=_on_text_choices(_fence, when=_is_rf("json_object")))


def _schema_of(call: Call) -> dict:
    rf = (call.body or {}).get("response_format") or {}
    schema = (rf.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {}


def _drop_required(call: Call, ch: Any) -> None:
    required = _schema_of(call).get("required") or []
    if ch.finish_reason != "stop" or not required:
        return
    value = json.loads(ch.content)
    if isinstance(value, dict):
        value.pop(required[0], None)
        _retokenize(ch, json.dumps(value, separators=(",", ":"), ensure_ascii=False), call)


defect("json-schema-missing-required", "structured", "PARAM-026",
       "json_schema answers leave out the schema's first required property.",
       on_completion=_on_text_choices(_drop_required, when=_is_rf("json_schema")))


def _wrong_type(call: Call, ch: Any) -> None:
    props = _schema_of(call).get("properties") or {}
    if ch.finish_reason != "stop":
        return
    value = json.loads(ch.content)
    if not isinstance(value, dict):
        return
    for key, sub in props.items():
        t = sub.get("type") if isinstance(sub, dict) else None
        if key in value and t in ("integer", "number", "boolean"):
            value[key] = str(value[key])
            break
        if key in value and t == "string":
            value[key] = 12345
            break
    _retokenize(ch, json.dumps(value, separators=(",", ":"), ensure_ascii=False), call)


defect("json-schema-wrong-type", "structured", "PARAM-026",
       "json_schema answers give the first scalar property the wrong JSON type (number as string, string as number).",
       on_completion=_on_text_choices(_wrong_type, when=_is_rf("json_schema")))


def _drop_rf_schema(call: Call) -> None:
    if _rf_type(call) == "json_schema":
        call.body = {k: v for k, v in call.body.items() if k != "response_format"}


defect("json-schema-ignored", "structured", "PARAM-026", "`json_schema` is accepted but the answer is plain text.",
       on_request=_drop_rf_schema)
defect("rejects-json-object", "structured", "PARAM-023", "`response_format: json_object` is rejected with 400.",
       on_request=lambda call: _bad("response_format", "Invalid 'response_format': json_object is not supported.")
       if _rf_type(call) == "json_object" else None)
defect("rejects-json-schema", "structured", "PARAM-025", "`response_format: json_schema` is rejected with 400.",
       on_request=lambda call: _bad("response_format", "Invalid 'response_format': json_schema is not supported.")
       if _rf_type(call) == "json_schema" else None)
defect("accepts-json-schema-without-name", "structured", "PARAM-027", "json_schema without `json_schema.name` is accepted.",
       skip_checks={"response_format.name"})
defect("accepts-unknown-response-format", "structured", "PARAM-027", "An unknown response_format type is accepted (as text).",
       skip_checks={"response_format.type"})


def _drop_last_json_token(call: Call, chunks: list[dict]) -> list[dict]:
    if _rf_type(call) != "json_schema":
        return chunks
    last = max((k for k, ch in enumerate(chunks) if ch.get("choices") and (ch["choices"][0].get("delta") or {}).get("content")), default=None)
    return chunks if last is None else chunks[:last] + chunks[last + 1:]


defect("stream-structured-output-invalid", "structured", "PARAM-026",
       "Streamed json_schema output loses its last fragment, so the assembled content is not valid JSON.",
       on_chunks=_drop_last_json_token)


# =====================================================================================
# vision
# =====================================================================================


def _reject_images(pred: Callable[[dict], bool], message: str, code: str = "invalid_image_url"):
    def hook(call: Call) -> ApiError | None:
        for i, j, iu in _parts(call, "image_url"):
            if pred(iu):
                return _bad(f"messages.[{i}].content.[{j}].image_url.url", message, code)
        return None

    return hook


def _url(iu: dict) -> str:
    return str(iu.get("url", ""))


defect("rejects-png-data-uri", "vision", "VISION-002", "base64 PNG data URIs are rejected with 400.",
       on_request=_reject_images(lambda iu: _url(iu).startswith("data:image/png"), "Invalid image: PNG data URIs are not supported.", "invalid_image_format"))
defect("rejects-jpeg-data-uri", "vision", "VISION-002", "base64 JPEG data URIs are rejected with 400.",
       on_request=_reject_images(lambda iu: _url(iu).startswith(("data:image/jpeg", "data:image/jpg")), "Invalid image: JPEG data URIs are not supported.", "invalid_image_format"))
defect("rejects-https-image-url", "vision", "VISION-001", "Images given by http(s) URL are rejected with 400 (only data URIs work).",
       on_request=_reject_images(lambda iu: _url(iu).lower().startswith(("http://", "https://")), "Invalid image URL: remote images are not supported."))
defect("rejects-detail-high", "vision", "VISION-003", "`detail: \"high\"` is rejected with 400.",
       on_request=_reject_images(lambda iu: iu.get("detail") == "high", "Invalid value: 'high'. Supported values are: 'auto' and 'low'.", "invalid_value"))


def _rejects_multiple_images(call: Call) -> ApiError | None:
    for i, m in enumerate(_messages(call)):
        c = m.get("content")
        if isinstance(c, list) and sum(1 for p in c if isinstance(p, dict) and p.get("type") == "image_url") > 1:
            return _bad(f"messages.[{i}].content", "Only one image per message is supported.")
    return None


defect("rejects-multiple-images", "vision", "VISION-005", "More than one image in a message is rejected with 400.",
       on_request=_rejects_multiple_images)
defect("accepts-invalid-detail", "vision", "VISION-004", "`detail` outside auto/low/high is accepted.", skip_checks={"image.detail"})
defect("accepts-malformed-data-uri", "vision", "VISION-004", "A malformed image data URI is accepted.", skip_checks={"image.data-uri"})
defect("undecodable-image-500", "vision", "VISION-004", "A data URI whose bytes are not a valid image gets 500.",
       on_error=_error_500_when("image.decode"))
defect("accepts-unreachable-image-url", "vision", "VISION-004", "An image URL that cannot be fetched is accepted (image silently ignored).",
       skip_checks={"image.unreachable"})
defect("accepts-image-in-system-message", "vision", "CONTENT-002", "Image parts are accepted in system messages.",
       skip_checks={"parts.role"})


# =====================================================================================
# audio
# =====================================================================================


def _reject_audio(fmt: str):
    def hook(call: Call) -> ApiError | None:
        for i, j, ia in _parts(call, "input_audio"):
            if ia.get("format") == fmt:
                return _bad(f"messages.[{i}].content.[{j}].input_audio.format", f"Invalid value: '{fmt}'. Audio format {fmt} is not supported.")
        return None

    return hook


defect("rejects-wav", "audio", "AUDIO-001", "input_audio with format 'wav' is rejected with 400.", on_request=_reject_audio("wav"))
defect("rejects-mp3", "audio", "AUDIO-001", "input_audio with format 'mp3' is rejected with 400.", on_request=_reject_audio("mp3"))
defect("accepts-unknown-audio-format", "audio", "AUDIO-002", "input_audio `format` outside wav/mp3 (e.g. 'ogg') is accepted.",
       skip_checks={"audio.format"})


def _bad_base64_500(call: Call, reply: Reply) -> Reply:
    return _as_500(reply) if reply.check == "audio.decode" and (reply.error or {}).get("code") == "invalid_base64" else reply


defect("bad-base64-audio-500", "audio", "AUDIO-002", "input_audio data that is not valid base64 gets 500.", on_error=_bad_base64_500)
defect("accepts-audio-without-data", "audio", "AUDIO-002", "input_audio without `data` is accepted.", skip_checks={"audio.data"})


# =====================================================================================
# The catalogue
# =====================================================================================

_NAME_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_RULE_RE = re.compile(r"[A-Z]+-\d{3}")


def _build() -> dict[str, Defect]:
    out: dict[str, Defect] = {}
    hook_fields = ("on_parsed", "on_request", "on_completion", "on_response", "on_chunks", "on_events", "on_error", "on_reply")
    for d in _DEFECTS:
        assert _NAME_RE.fullmatch(d.name), d.name
        assert d.name not in out, f"duplicate defect {d.name}"
        assert d.area in AREAS, (d.name, d.area)
        assert d.breaks and all(_RULE_RE.fullmatch(r) for r in d.breaks), (d.name, d.breaks)
        assert d.skip_checks or d.flags or any(getattr(d, f) for f in hook_fields), f"{d.name} changes nothing"
        out[d.name] = d
    return out


DEFECTS: dict[str, Defect] = _build()
