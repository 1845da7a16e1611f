"""Which rule a request exercises: for a VALID request a server refused, and for an
INVALID request a server accepted.

* invalid: `invalid_reasons(body)` = the schema's errors, attributed through its x-rule
  annotations (`chatconform.schemas.errors`), plus the constraints the spec states only in
  prose, which the schema does not encode (`prose_errors`): token limits <= 0 (PARAM-003),
  a tool_choice without tools or naming an unknown function (TOOL-014), tool messages
  that answer nothing and tool calls left unanswered (TOOL-018).
* valid but refused: `acceptance_rule(body, param)`: the MUST rule that says the field
  the error names (or, without a name, the first feature of the request) is accepted.
  A property test shrinks a refused request first, so the features left are the ones
  the refusal needs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import schemas

# -- invalid requests --------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    rule: str
    pointer: str
    message: str
    value: Any = None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def prose_errors(body: Any) -> list[Reason]:
    """Constraints of the spec's prose that schemas/request.schema.json does not encode."""
    out: list[Reason] = []
    if not isinstance(body, dict):
        return out
    for key in ("max_tokens", "max_completion_tokens"):
        if _is_int(body.get(key)) and body[key] <= 0:
            out.append(Reason("PARAM-003", f"/{key}", f"{key} must be >= 1", body[key]))
    tools = body.get("tools")
    names = [t["function"]["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)
             and isinstance(t["function"].get("name"), str)] if isinstance(tools, list) else []
    choice = body.get("tool_choice")
    if choice is not None and choice != "none" and not names and (isinstance(choice, dict) or choice in ("auto", "required")):
        out.append(Reason("TOOL-014", "/tool_choice", "a tool_choice other than none needs tools", choice))
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if isinstance(name, str) and names and name not in names:
            out.append(Reason("TOOL-014", "/tool_choice/function/name", f"{name!r} is not one of the offered tools", name))
    out.extend(_tool_sequence(body.get("messages")))
    return out


def _tool_sequence(messages: Any) -> list[Reason]:
    """TOOL-018: a tool message answers a call of the assistant message before it, and every
    call is answered before the next non-tool message (the reference's and OpenAI's reading)."""
    if not isinstance(messages, list):
        return []
    out: list[Reason] = []
    answerable: set = set()
    pending: list = []
    opened = -1
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        if role != "tool" and pending:
            out.append(Reason("TOOL-018", f"/messages/{opened}/tool_calls", f"tool calls {pending} not answered", pending))
            pending = []
        if role != "tool":
            answerable = set()
        if role == "assistant" and isinstance(m.get("tool_calls"), list):
            ids = [c.get("id") for c in m["tool_calls"] if isinstance(c, dict) and isinstance(c.get("id"), str)]
            answerable, pending, opened = set(ids), list(ids), i
        elif role == "tool":
            tcid = m.get("tool_call_id")
            if isinstance(tcid, str):
                if tcid not in answerable:
                    out.append(Reason("TOOL-018", f"/messages/{i}/tool_call_id", "a tool message that answers no preceding tool call", tcid))
                elif tcid in pending:
                    pending.remove(tcid)
    if pending:
        out.append(Reason("TOOL-018", f"/messages/{opened}/tool_calls", f"tool calls {pending} not answered", pending))
    return out


def schema_errors(body: Any) -> list[Reason]:
    """The request schema's errors for `body`, each attributed to its x-rule.

    schemas.errors("request", body) minus its fastjsonschema fast path, which does not
    know the 2020-12 keyword `dependentSchemas` and so calls "top_logprobs without
    logprobs" and "stream_options without stream" valid (reported as an engine issue)."""
    v = schemas.validator("request")
    root = schemas.load("request")
    out: list[Reason] = []
    seen = set()
    for err in v.iter_errors(body):
        leaf = schemas._leaf(err)
        r = Reason(schemas.attribute(root, leaf), schemas._pointer(leaf.absolute_path), leaf.message, leaf.instance)
        if (r.rule, r.pointer, r.message) not in seen:
            seen.add((r.rule, r.pointer, r.message))
            out.append(r)
    return out


def invalid_reasons(body: Any) -> list[Reason]:
    """Every reason a server should refuse `body`: schema errors (x-rule) then prose rules."""
    return schema_errors(body) + prose_errors(body)


def is_valid(body: Any) -> bool:
    return schemas.is_valid("request", body) and not prose_errors(body)


# -- valid requests that were refused ------------------------------------------------------
FIELD_RULES = {
    "model": "REQ-001", "messages": "REQ-005",
    "temperature": "PARAM-010", "top_p": "PARAM-010", "presence_penalty": "PARAM-010", "frequency_penalty": "PARAM-010",
    "max_tokens": "PARAM-001", "max_completion_tokens": "PARAM-001", "stop": "PARAM-004", "n": "PARAM-007",
    "logit_bias": "PARAM-012", "logprobs": "PARAM-014", "top_logprobs": "PARAM-014", "seed": "PARAM-020",
    "tools": "TOOL-001", "tool_choice": "TOOL-010", "parallel_tool_calls": "TOOL-015",
    "stream": "STREAM-001", "stream_options": "STREAM-018",
    "user": "PARAM-028", "metadata": "PARAM-028", "store": "PARAM-028", "safety_identifier": "PARAM-028",
    "prompt_cache_key": "PARAM-028", "service_tier": "PARAM-028", "verbosity": "PARAM-028", "reasoning_effort": "PARAM-028",
}
RF_RULES = {"text": "PARAM-022", "json_object": "PARAM-023", "json_schema": "PARAM-025"}
NULLABLE = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "logit_bias", "stop", "n",
            "logprobs", "stream", "stream_options", "max_tokens", "max_completion_tokens")
# Top-level features in the order a refusal is blamed on them when the error names no field.
ORDER = ("logprobs", "top_logprobs", "n", "tools", "tool_choice", "parallel_tool_calls", "response_format",
         "stream_options", "stream", "stop", "logit_bias", "seed", "temperature", "top_p", "presence_penalty",
         "frequency_penalty", "max_completion_tokens", "user", "metadata", "store", "safety_identifier",
         "prompt_cache_key", "service_tier", "verbosity", "reasoning_effort")


def _field_feature(body: dict, key: str) -> tuple[str, str] | None:
    if key not in body:
        return None
    value = body[key]
    if value is None and key in NULLABLE:
        return "HTTP-007", f"{key}: null"
    if key == "response_format" and isinstance(value, dict):
        return RF_RULES.get(value.get("type"), "PARAM-022"), f"response_format {value.get('type')}"
    if key == "tools" and isinstance(value, list):
        for t in value:
            fn = t.get("function") if isinstance(t, dict) else None
            if isinstance(fn, dict) and ("parameters" not in fn or "strict" in fn):
                return "TOOL-002", "a tool without parameters or with strict" if "parameters" not in fn else f"tools with strict: {fn['strict']}"
        return "TOOL-001", f"{len(value)} function tool(s)"
    if key == "stream":
        return ("STREAM-001", "stream: true") if value is True else ("REQ-001", f"stream: {value}")
    if key == "stream_options" and isinstance(value, dict) and value.get("include_usage") is not True:
        return "STREAM-001", f"stream_options {value}"
    return FIELD_RULES.get(key, "REQ-001"), f"{key}: {_short(value)}"


def _short(value, limit: int = 60) -> str:
    import json
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_feature(m: Any, i: int, sub: str = "") -> tuple[str, str]:
    """The rule that says message `i` (as sent) is acceptable; `sub` is the rest of the error's param."""
    if not isinstance(m, dict):
        return "REQ-005", f"messages[{i}]"
    role = m.get("role")
    content = m.get("content")
    parts = [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []
    kinds = {p.get("type") for p in parts}
    where = f"messages[{i}] ({role})"
    if "name" in sub or (sub == "" and "name" in m and len(m) == 3 and isinstance(content, str)):
        return "REQ-009", f"{where} with name"
    if role == "user":
        if "image_url" in sub or ("image_url" in kinds and "input_audio" not in sub):
            detail = "detail" in sub or any(isinstance(p.get("image_url"), dict) and "detail" in p["image_url"] for p in parts)
            if "detail" in sub:
                return "VISION-003", f"{where} image detail"
            return ("VISION-005" if sum(k == "image_url" for k in (p.get("type") for p in parts)) > 1 else "VISION-002"), \
                f"{where} image part(s){' with detail' if detail else ''}"
        if "input_audio" in sub or "input_audio" in kinds:
            return "AUDIO-001", f"{where} input_audio part"
        if parts:
            return "CONTENT-001", f"{where} text parts"
        return "REQ-005", where
    if role in ("system", "developer"):
        if parts:
            return "REQ-007", f"{where} text parts"
        if role == "developer":
            return "REQ-006", where
        return "REQ-005", where
    if role == "tool":
        return ("TOOL-017", f"{where} text parts") if parts else ("TOOL-016", where)
    if role == "assistant":
        if m.get("tool_calls"):
            return ("REQ-008", f"{where} tool_calls with content null/absent") if content is None else ("TOOL-016", f"{where} tool_calls")
        if "refusal" in sub or "refusal" in kinds or "refusal" in m:
            return ("REQ-008", f"{where} refusal part") if "refusal" in kinds else ("REQ-009", f"{where} refusal field")
        if parts:
            return "REQ-008", f"{where} text parts"
        if "name" in m:
            return "REQ-009", f"{where} with name"
        return "REQ-005", f"{where} in the history"
    return "REQ-005", where


_MSG_PARAM = re.compile(r"^messages\.?\[?(\d+)\]?(.*)$")


def features(body: dict) -> list[tuple[str, str]]:
    """(rule, what) for every feature of a valid request beyond model + one user message + a limit."""
    out = []
    for key in ORDER:
        f = _field_feature(body, key)
        if f is not None:
            out.append(f)
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else []
    for i, m in enumerate(msgs):
        rule, what = message_feature(m, i)
        if rule != "REQ-005" or len(msgs) > 1:
            out.append((rule, what))
    return out


def _named_feature(body: dict, param: Any) -> tuple[str, str] | None:
    """The feature the error's `param` names, if it names one of the request."""
    if not (isinstance(param, str) and param):
        return None
    head = re.split(r"[.\[]", param, maxsplit=1)[0]
    m = _MSG_PARAM.match(param)
    if head == "messages" and m and isinstance(body.get("messages"), list) and int(m.group(1)) < len(body["messages"]):
        i = int(m.group(1))
        return message_feature(body["messages"][i], i, m.group(2))
    if head in body:
        return _field_feature(body, head)
    return None


def acceptance_rule(body: dict, param: Any = None) -> tuple[str, str]:
    """The rule a refusal of the valid `body` breaks, and what it refused.

    The error's `param` decides when it names a field of the request; otherwise the
    first feature (ORDER, then messages); a bare request (model, one user message, a
    token limit) is REQ-001.  Where that guess matters, ablations() lets the caller
    find the feature by experiment.
    """
    named = _named_feature(body, param)
    if named is not None:
        return named
    feats = features(body)
    if feats:
        return feats[0]
    return "REQ-001", "a request with only model, one user message and a token limit"


# Fields that mean nothing (or are invalid) without another: removed along with it.
_DEPENDENTS = {"logprobs": ("top_logprobs",), "stream": ("stream_options",), "tools": ("tool_choice", "parallel_tool_calls")}


def ablations(body: dict, param: Any = None) -> list[tuple[str, str, dict]]:
    """For a refused valid request whose error names no field (so acceptance_rule() could
    only guess): (rule, what, the request without that feature), for each feature whose
    removal leaves a valid request: top-level fields in ORDER, then earlier messages.
    The first variant that is accepted names the feature that was refused.  Empty when
    the error names the field or the request has fewer than two features."""
    if _named_feature(body, param) is not None or len(features(body)) < 2:
        return []
    out = []
    for key in ORDER:
        f = _field_feature(body, key)
        if f is None:
            continue
        smaller = {k: v for k, v in body.items() if k != key and k not in _DEPENDENTS.get(key, ())}
        if is_valid(smaller):
            out.append((*f, smaller))
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else []
    for i, m in enumerate(msgs[:-1]):
        smaller = {**body, "messages": msgs[:i] + msgs[i + 1:]}
        if is_valid(smaller):
            out.append((*message_feature(m, i), smaller))
    return out
