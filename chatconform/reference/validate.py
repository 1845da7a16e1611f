"""Request validation: a Chat Completions body either passes or raises a 400 ApiError.

Hand-written on purpose, independent of the suite's JSON Schemas, so that a bug in
one cannot hide the same bug in the other. Messages and `param` paths follow
api.openai.com (`messages.[3].role`, "Invalid 'temperature': decimal above maximum
value. ..."), see RULES.md ERR-003/ERR-004.

Every check has a name (the `check` argument of `Checker.fail`). A defect can
switch named checks off (`Defect.skip_checks`); the code after a failed-but-skipped
check therefore always carries on as if the value were acceptable.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from . import media
from .errors import ApiError

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")
PARTS_BY_ROLE = {
    "system": ("text",),
    "developer": ("text",),
    "tool": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
}
NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
INT64 = 2**63

# RULES.md HTTP-007: request fields whose `null` means "not set". Every other
# field given as null is rejected (top_logprobs, tools, tool_choice,
# response_format, user, parallel_tool_calls).
NULLABLE = frozenset(
    """temperature top_p max_tokens max_completion_tokens n stop seed logprobs logit_bias
    frequency_penalty presence_penalty stream stream_options store metadata service_tier
    reasoning_effort verbosity modalities audio prediction moderation safety_identifier
    prompt_cache_key prompt_cache_retention""".split()
)
# Top-level fields this server knows (everything else is ignored: HTTP-008 "tolerant").
KNOWN_FIELDS = frozenset(
    """model messages temperature top_p n stream stream_options stop max_tokens max_completion_tokens
    presence_penalty frequency_penalty logit_bias logprobs top_logprobs user seed tools tool_choice
    parallel_tool_calls response_format metadata store service_tier reasoning_effort verbosity modalities
    audio prediction moderation safety_identifier prompt_cache_key prompt_cache_retention
    prompt_cache_options web_search_options functions function_call""".split()
)
NOT_NULLABLE = ("top_logprobs", "tools", "tool_choice", "response_format", "user", "parallel_tool_calls")


def json_type(value: Any) -> str:
    """OpenAI's words for JSON types in "expected X, but got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def is_number(value: Any) -> bool:
    # JSON true/false are not numbers, even though bool subclasses int in Python.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    # 2.0 is a decimal, not an integer: typed clients and OpenAI reject it.
    return isinstance(value, int) and not isinstance(value, bool)


def _fmt(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _quote_list(values: Iterable[str]) -> str:
    items = [f"'{v}'" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + ", and " + items[-1]


class Checker:
    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        self.skip = skip

    def fail(self, check: str, message: str, param: str | None, code: str | None = None) -> None:
        if check in self.skip:
            return
        raise ApiError(400, message, param=param, code=code, check=check)

    # -- generic field helpers --------------------------------------------------

    def wrong_type(self, check: str, param: str, expected: str, value: Any) -> None:
        self.fail(
            check,
            f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
            param,
            "invalid_type",
        )

    def number(self, body: dict, key: str, lo: float, hi: float) -> None:
        v = body.get(key)
        if v is None:
            return
        if not is_number(v):
            return self.wrong_type(f"{key}.type", key, "a decimal", v)
        if v < lo:
            self.fail(
                f"{key}.range",
                f"Invalid '{key}': decimal below minimum value. Expected a value >= {_fmt(lo)}, but got {_fmt(v)} instead.",
                key,
                "decimal_below_min_value",
            )
        elif v > hi:
            self.fail(
                f"{key}.range",
                f"Invalid '{key}': decimal above maximum value. Expected a value <= {_fmt(hi)}, but got {_fmt(v)} instead.",
                key,
                "decimal_above_max_value",
            )

    def integer(self, body: dict, key: str, lo: int | None, hi: int | None) -> None:
        v = body.get(key)
        if v is None:
            return
        if not is_int(v):
            return self.wrong_type(f"{key}.type", key, "an integer", v)
        if lo is not None and v < lo:
            self.fail(
                f"{key}.range",
                f"Invalid '{key}': integer below minimum value. Expected a value >= {lo}, but got {v} instead.",
                key,
                "integer_below_min_value",
            )
        elif hi is not None and v > hi:
            self.fail(
                f"{key}.range",
                f"Invalid '{key}': integer above maximum value. Expected a value <= {hi}, but got {v} instead.",
                key,
                "integer_above_max_value",
            )

    def boolean(self, body: dict, key: str, param: str | None = None) -> None:
        v = body.get(key)
        if v is not None and not isinstance(v, bool):
            self.wrong_type(f"{key}.type", param or key, "a boolean", v)

    def string(self, body: dict, key: str, param: str | None = None, max_len: int | None = None) -> None:
        v = body.get(key)
        if v is None:
            return
        if not isinstance(v, str):
            return self.wrong_type(f"{key}.type", param or key, "a string", v)
        if max_len is not None and len(v) > max_len:
            self.fail(
                f"{key}.length",
                f"Invalid '{param or key}': string too long. Expected a string with maximum length {max_len}, but got a string with length {len(v)} instead.",
                param or key,
                "string_above_max_length",
            )

    def enum(self, body: dict, key: str, values: tuple[str, ...], param: str | None = None) -> None:
        v = body.get(key)
        if v is not None and v not in values:
            self.fail(
                f"{key}.value",
                f"Invalid value: '{v}'. Supported values are: {_quote_list(values)}.",
                param or key,
                "invalid_value",
            )


# -- the request --------------------------------------------------------------


def validate_request(body: dict[str, Any], skip: frozenset[str] = frozenset()) -> None:
    """Raise ApiError(400) for the first problem found, in a fixed order."""
    c = Checker(skip)
    for key in NOT_NULLABLE:
        if key in body and body[key] is None:
            expected = {
                "top_logprobs": "an integer",
                "tools": "an array",
                "tool_choice": "a string or object",
                "response_format": "an object",
                "user": "a string",
                "parallel_tool_calls": "a boolean",
            }[key]
            c.fail(
                f"{key}.null",
                f"Invalid type for '{key}': expected {expected}, but got null instead.",
                key,
                "invalid_type",
            )
    _model(c, body)
    _messages(c, body)
    _sampling(c, body)
    _output(c, body)
    _streaming(c, body)
    _response_format(c, body)
    _tools(c, body)
    _misc(c, body)


def _model(c: Checker, body: dict) -> None:
    if body.get("model") is None:
        return c.fail("model.required", "Missing required parameter: 'model'.", "model", "missing_required_parameter")
    if not isinstance(body["model"], str):
        c.wrong_type("model.type", "model", "a string", body["model"])


def _messages(c: Checker, body: dict) -> None:
    msgs = body.get("messages")
    if msgs is None:
        return c.fail(
            "messages.required", "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(msgs, list):
        return c.wrong_type("messages.type", "messages", "an array", msgs)
    if not msgs:
        return c.fail(
            "messages.empty",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    # TOOL-018 bookkeeping: ids of the latest assistant tool_calls message that
    # tool messages may answer, and those still unanswered.
    answerable: set[str] = set()
    unanswered: list[str] = []
    opened_at = -1
    for i, m in enumerate(msgs):
        p = f"messages.[{i}]"
        if not isinstance(m, dict):
            c.wrong_type("message.type", p, "an object", m)
            continue
        role = m.get("role")
        if role is None:
            c.fail(
                "role.required", f"Missing required parameter: '{p}.role'.", f"{p}.role", "missing_required_parameter"
            )
            continue
        if not isinstance(role, str) or role not in ROLES:
            c.fail(
                "role.unknown",
                f"Invalid value: '{role}'. Supported values are: {_quote_list(ROLES)}.",
                f"{p}.role",
                "invalid_value",
            )
            continue
        if "name" in m and m["name"] is not None and not isinstance(m["name"], str):
            c.wrong_type("message.name", f"{p}.name", "a string", m["name"])

        if role != "tool" and unanswered:
            _unanswered(c, opened_at, unanswered)
            unanswered = []
        if role != "tool":
            answerable = set()

        if role == "assistant":
            ids = _assistant(c, m, p)
            if ids:
                answerable, unanswered, opened_at = set(ids), list(ids), i
        elif role == "tool":
            _content(c, m, p, role)
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str):
                if tcid is None:
                    c.fail(
                        "tool.call-id",
                        f"Missing required parameter: '{p}.tool_call_id'.",
                        f"{p}.tool_call_id",
                        "missing_required_parameter",
                    )
                else:
                    c.wrong_type("tool.call-id", f"{p}.tool_call_id", "a string", tcid)
            elif tcid not in answerable:
                c.fail(
                    "tool.orphan",
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    f"{p}.role",
                    None,
                )
            elif tcid in unanswered:
                unanswered.remove(tcid)
        elif role == "function":
            if not isinstance(m.get("name"), str):
                c.fail(
                    "message.name",
                    f"Missing required parameter: '{p}.name'.",
                    f"{p}.name",
                    "missing_required_parameter",
                )
            if m.get("content") is not None and not isinstance(m["content"], str):
                c.wrong_type("content.type", f"{p}.content", "a string", m["content"])
        else:
            _content(c, m, p, role)
    if unanswered:
        _unanswered(c, opened_at, unanswered)


def _unanswered(c: Checker, at: int, ids: list[str]) -> None:
    c.fail(
        "tool.unanswered",
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(ids)}",
        f"messages.[{at}].role",
        None,
    )


def _assistant(c: Checker, m: dict, p: str) -> list[str]:
    """Validate an assistant message; return the ids of its tool calls."""
    ids: list[str] = []
    calls = m.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            c.wrong_type("assistant.tool_calls", f"{p}.tool_calls", "an array", calls)
        elif not calls:
            c.fail(
                "assistant.tool_calls",
                f"Invalid '{p}.tool_calls': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                f"{p}.tool_calls",
                "empty_array",
            )
        for j, call in enumerate(calls if isinstance(calls, list) else []):
            cp = f"{p}.tool_calls.[{j}]"
            if not isinstance(call, dict):
                c.wrong_type("assistant.tool_calls", cp, "an object", call)
                continue
            if not isinstance(call.get("id"), str):
                c.fail(
                    "assistant.tool_calls",
                    f"Missing required parameter: '{cp}.id'.",
                    f"{cp}.id",
                    "missing_required_parameter",
                )
                continue
            if call.get("type", "function") != "function":
                c.fail(
                    "assistant.tool_calls",
                    f"Invalid value: '{call.get('type')}'. Supported values are: 'function'.",
                    f"{cp}.type",
                    "invalid_value",
                )
            fn = call.get("function")
            if (
                not isinstance(fn, dict)
                or not isinstance(fn.get("name"), str)
                or not isinstance(fn.get("arguments"), str)
            ):
                c.fail(
                    "assistant.tool_calls",
                    f"Invalid '{cp}.function': expected an object with string 'name' and 'arguments'.",
                    f"{cp}.function",
                    "invalid_value",
                )
            ids.append(call["id"])
    has_calls = bool(ids) or isinstance(m.get("function_call"), dict)
    if m.get("content") is None:
        if not has_calls:
            c.fail(
                "assistant.content",
                f"Invalid value for '{p}.content': expected a string, got null.",
                f"{p}.content",
                "invalid_value",
            )
    else:
        _content(c, m, p, "assistant")
    if m.get("refusal") is not None and not isinstance(m["refusal"], str):
        c.wrong_type("assistant.refusal", f"{p}.refusal", "a string", m["refusal"])
    audio = m.get("audio")
    if audio is not None and not (isinstance(audio, dict) and isinstance(audio.get("id"), str)):
        c.fail(
            "assistant.audio", f"Invalid '{p}.audio': expected an object with an 'id'.", f"{p}.audio", "invalid_value"
        )
    return ids


def _content(c: Checker, m: dict, p: str, role: str) -> None:
    content = m.get("content")
    if content is None:
        return c.fail(
            "content.required",
            f"Missing required parameter: '{p}.content'.",
            f"{p}.content",
            "missing_required_parameter",
        )
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        return c.wrong_type("content.type", f"{p}.content", "one of a string or array of objects", content)
    if not content:
        return c.fail(
            "parts.empty",
            f"Invalid '{p}.content': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            f"{p}.content",
            "empty_array",
        )
    allowed = PARTS_BY_ROLE[role]
    refusals = 0
    for j, part in enumerate(content):
        pp = f"{p}.content.[{j}]"
        if not isinstance(part, dict):
            c.wrong_type("parts.type", pp, "an object", part)
            continue
        ptype = part.get("type")
        if ptype is None:
            c.fail(
                "parts.type", f"Missing required parameter: '{pp}.type'.", f"{pp}.type", "missing_required_parameter"
            )
            continue
        if ptype not in PART_TYPES:
            c.fail(
                "parts.unknown-type",
                f"Invalid value: '{ptype}'. Supported values are: {_quote_list(allowed)}.",
                f"{pp}.type",
                "invalid_value",
            )
            continue
        if ptype not in allowed:
            # CONTENT-002: e.g. an image in a system message.
            c.fail(
                "parts.role",
                f"Invalid value: '{ptype}'. Supported values are: {_quote_list(allowed)}.",
                f"{pp}.type",
                "invalid_value",
            )
            continue
        if ptype == "text":
            if not isinstance(part.get("text"), str):
                c.fail(
                    "parts.payload",
                    f"Missing required parameter: '{pp}.text'.",
                    f"{pp}.text",
                    "missing_required_parameter",
                )
        elif ptype == "refusal":
            refusals += 1
            if not isinstance(part.get("refusal"), str):
                c.fail(
                    "parts.payload",
                    f"Missing required parameter: '{pp}.refusal'.",
                    f"{pp}.refusal",
                    "missing_required_parameter",
                )
        elif ptype == "image_url":
            _image(c, part, pp)
        elif ptype == "input_audio":
            _audio(c, part, pp)
        elif ptype == "file":
            f = part.get("file")
            ok = isinstance(f, dict) and (isinstance(f.get("file_data"), str) or isinstance(f.get("file_id"), str))
            if not ok:
                c.fail(
                    "parts.payload",
                    f"Invalid '{pp}.file': expected an object with 'file_data' or 'file_id'.",
                    f"{pp}.file",
                    "missing_required_parameter",
                )
            elif isinstance(f.get("file_data"), str) and media.b64decode(f["file_data"].split(",")[-1]) is None:
                c.fail(
                    "file.decode",
                    f"Invalid '{pp}.file.file_data': not valid base64.",
                    f"{pp}.file.file_data",
                    "invalid_value",
                )
    if refusals and len(content) != 1:
        c.fail(
            "parts.refusal",
            f"Invalid '{p}.content': a refusal part must be the only content part.",
            f"{p}.content",
            "invalid_value",
        )


def _image(c: Checker, part: dict, pp: str) -> None:
    iu = part.get("image_url")
    if not isinstance(iu, dict) or not isinstance(iu.get("url"), str):
        return c.fail(
            "parts.payload",
            f"Missing required parameter: '{pp}.image_url.url'.",
            f"{pp}.image_url.url",
            "missing_required_parameter",
        )
    if "detail" in iu and iu["detail"] not in ("auto", "low", "high"):
        c.fail(
            "image.detail",
            f"Invalid value: '{iu['detail']}'. Supported values are: 'auto', 'low', and 'high'.",
            f"{pp}.image_url.detail",
            "invalid_value",
        )
    verdict, detail = media.classify_image_url(iu["url"])
    param = f"{pp}.image_url.url"
    if verdict == "bad-data-uri":
        c.fail("image.data-uri", f"Invalid image URL: {detail}.", param, "invalid_image_url")
    elif verdict == "undecodable":
        c.fail(
            "image.decode",
            f"You uploaded an unsupported image. Please make sure your image is valid: {detail}.",
            param,
            "invalid_image_format",
        )
    elif verdict == "unreachable":
        c.fail("image.unreachable", f"Error while downloading {iu['url']}.", param, "invalid_image_url")
    elif verdict == "bad-url":
        c.fail(
            "image.url", "Invalid image URL: expected an http(s) URL or a base64 data URI.", param, "invalid_image_url"
        )


def _audio(c: Checker, part: dict, pp: str) -> None:
    ia = part.get("input_audio")
    if not isinstance(ia, dict):
        return c.fail(
            "parts.payload",
            f"Missing required parameter: '{pp}.input_audio'.",
            f"{pp}.input_audio",
            "missing_required_parameter",
        )
    fmt = ia.get("format")
    if fmt not in media.AUDIO_FORMATS:
        if fmt is None:
            c.fail(
                "audio.format",
                f"Missing required parameter: '{pp}.input_audio.format'.",
                f"{pp}.input_audio.format",
                "missing_required_parameter",
            )
        else:
            c.fail(
                "audio.format",
                f"Invalid value: '{fmt}'. Supported values are: 'wav' and 'mp3'.",
                f"{pp}.input_audio.format",
                "invalid_value",
            )
        fmt = None
    data = ia.get("data")
    if not isinstance(data, str):
        return c.fail(
            "audio.data",
            f"Missing required parameter: '{pp}.input_audio.data'.",
            f"{pp}.input_audio.data",
            "missing_required_parameter",
        )
    raw = media.b64decode(data)
    if raw is None:
        return c.fail(
            "audio.decode",
            f"Invalid '{pp}.input_audio.data': the audio data is not valid base64.",
            f"{pp}.input_audio.data",
            "invalid_base64",
        )
    if fmt is not None and not media.audio_magic_ok(fmt, raw):
        c.fail(
            "audio.decode",
            f"The audio data could not be decoded as {fmt}.",
            f"{pp}.input_audio.data",
            "invalid_audio_format",
        )


def _sampling(c: Checker, body: dict) -> None:
    c.number(body, "temperature", 0, 2)
    c.number(body, "top_p", 0, 1)
    c.number(body, "presence_penalty", -2, 2)
    c.number(body, "frequency_penalty", -2, 2)
    c.integer(body, "seed", -INT64, INT64 - 1)
    lb = body.get("logit_bias")
    if lb is not None:
        if not isinstance(lb, dict):
            return c.wrong_type("logit_bias.type", "logit_bias", "an object", lb)
        for k, v in lb.items():
            if not k.strip().lstrip("-").isdigit():
                c.fail(
                    "logit_bias.key",
                    f"Invalid key in 'logit_bias': {k}. Keys must be token ids.",
                    "logit_bias",
                    "invalid_value",
                )
            elif not is_int(v):
                c.wrong_type("logit_bias.type", f"logit_bias.{k}", "an integer", v)
            elif not -100 <= v <= 100:
                c.fail(
                    "logit_bias.range",
                    f"Invalid value for 'logit_bias': bias value {v} for token {k} must be between -100 and 100.",
                    "logit_bias",
                    "invalid_value",
                )


def _output(c: Checker, body: dict) -> None:
    c.integer(body, "n", 1, 128)
    c.integer(body, "max_tokens", 1, None)
    c.integer(body, "max_completion_tokens", 1, None)
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            c.wrong_type("stop.type", "stop", "a string or an array of strings", stop)
        elif not 1 <= len(stop) <= 4:
            c.fail(
                "stop.count",
                f"Invalid 'stop': expected an array of 1 to 4 strings, but got an array with length {len(stop)} instead.",
                "stop",
                "array_above_max_length" if stop else "empty_array",
            )
    c.boolean(body, "logprobs")
    if "top_logprobs" in body and body["top_logprobs"] is not None:
        c.integer(body, "top_logprobs", 0, 20)
        if body.get("logprobs") is not True:
            c.fail(
                "top_logprobs.requires-logprobs",
                "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
                "top_logprobs",
                "invalid_value",
            )


def _streaming(c: Checker, body: dict) -> None:
    c.boolean(body, "stream")
    so = body.get("stream_options")
    if so is None:
        return
    if not isinstance(so, dict):
        return c.wrong_type("stream_options.type", "stream_options", "an object", so)
    if body.get("stream") is not True:
        # STREAM-019, worded as api.openai.com words it.
        c.fail(
            "stream_options.requires-stream",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    c.boolean(so, "include_usage", "stream_options.include_usage")
    c.boolean(so, "include_obfuscation", "stream_options.include_obfuscation")


def _response_format(c: Checker, body: dict) -> None:
    rf = body.get("response_format")
    if rf is None:
        return
    if not isinstance(rf, dict):
        return c.wrong_type("response_format.type", "response_format", "an object", rf)
    t = rf.get("type")
    if t not in ("text", "json_object", "json_schema"):
        return c.fail(
            "response_format.type",
            f"Invalid value: '{t}'. Supported values are: 'text', 'json_object', and 'json_schema'.",
            "response_format.type",
            "invalid_value",
        )
    if t != "json_schema":
        return
    js = rf.get("json_schema")
    if not isinstance(js, dict):
        return c.fail(
            "response_format.json_schema",
            "Missing required parameter: 'response_format.json_schema'.",
            "response_format.json_schema",
            "missing_required_parameter",
        )
    name = js.get("name")
    if not isinstance(name, str):
        c.fail(
            "response_format.name",
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
            "missing_required_parameter",
        )
    elif not NAME_RE.fullmatch(name):
        c.fail(
            "response_format.name",
            f"Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' and at most 64 characters, but got '{name}'.",
            "response_format.json_schema.name",
            "invalid_value",
        )
    if "schema" in js and not isinstance(js["schema"], dict):
        c.wrong_type("response_format.schema", "response_format.json_schema.schema", "an object", js["schema"])
    if js.get("strict") is not None and not isinstance(js["strict"], bool):
        c.wrong_type("response_format.strict", "response_format.json_schema.strict", "a boolean", js["strict"])


def _tools(c: Checker, body: dict) -> None:
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            c.wrong_type("tools.type", "tools", "an array", tools)
            tools = []
        for i, tool in enumerate(tools):
            tp = f"tools.[{i}]"
            if not isinstance(tool, dict):
                c.wrong_type("tools.type", tp, "an object", tool)
                continue
            if tool.get("type") != "function":
                c.fail(
                    "tools.kind",
                    f"Invalid value: '{tool.get('type')}'. Supported values are: 'function'.",
                    f"{tp}.type",
                    "invalid_value",
                )
                continue
            fn = tool.get("function")
            if not isinstance(fn, dict):
                c.fail(
                    "tools.function",
                    f"Missing required parameter: '{tp}.function'.",
                    f"{tp}.function",
                    "missing_required_parameter",
                )
                continue
            name = fn.get("name")
            if not isinstance(name, str):
                c.fail(
                    "tools.name",
                    f"Missing required parameter: '{tp}.function.name'.",
                    f"{tp}.function.name",
                    "missing_required_parameter",
                )
            elif not NAME_RE.fullmatch(name):
                c.fail(
                    "tools.name",
                    f"Invalid '{tp}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' and at most 64 characters, but got '{name}'.",
                    f"{tp}.function.name",
                    "invalid_value",
                )
            if isinstance(name, str):
                names.append(name)
            if fn.get("description") is not None and not isinstance(fn["description"], str):
                c.wrong_type("tools.description", f"{tp}.function.description", "a string", fn["description"])
            if "parameters" in fn and not isinstance(fn["parameters"], dict):
                c.wrong_type("tools.parameters", f"{tp}.function.parameters", "an object", fn["parameters"])
            if fn.get("strict") is not None and not isinstance(fn["strict"], bool):
                c.wrong_type("tools.strict", f"{tp}.function.strict", "a boolean", fn["strict"])
    choice = body.get("tool_choice")
    if choice is not None:
        named = None
        if isinstance(choice, str):
            if choice not in ("none", "auto", "required"):
                return c.fail(
                    "tool_choice.value",
                    f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                    "tool_choice",
                    "invalid_value",
                )
        elif isinstance(choice, dict):
            fn = choice.get("function")
            if choice.get("type") != "function" or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                return c.fail(
                    "tool_choice.value",
                    'Invalid \'tool_choice\': expected {"type": "function", "function": {"name": ...}}.',
                    "tool_choice",
                    "invalid_value",
                )
            named = fn["name"]
        else:
            return c.wrong_type("tool_choice.value", "tool_choice", "a string or object", choice)
        if choice != "none" and not names:
            c.fail(
                "tool_choice.without-tools",
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                "tool_choice",
                None,
            )
        elif named is not None and named not in names:
            c.fail(
                "tool_choice.unknown-function",
                f"Invalid value for 'tool_choice': function '{named}' is not one of the provided 'tools'.",
                "tool_choice",
                "invalid_value",
            )
    c.boolean(body, "parallel_tool_calls")


def _misc(c: Checker, body: dict) -> None:
    c.string(body, "user")
    md = body.get("metadata")
    if md is not None:
        if not isinstance(md, dict):
            c.wrong_type("metadata.type", "metadata", "an object", md)
        elif len(md) > 16:
            c.fail(
                "metadata.size",
                f"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with {len(md)} properties instead.",
                "metadata",
                "object_above_max_properties",
            )
        else:
            for k, v in md.items():
                if len(k) > 64 or not isinstance(v, str) or len(v) > 512:
                    c.fail(
                        "metadata.value",
                        f"Invalid 'metadata.{k}': keys are strings of at most 64 characters, values strings of at most 512.",
                        f"metadata.{k}",
                        "invalid_value",
                    )
    c.boolean(body, "store")
    c.enum(body, "service_tier", ("auto", "default", "flex", "scale", "priority", "fast"))
    c.string(body, "reasoning_effort")
    c.enum(body, "verbosity", ("low", "medium", "high"))
    c.string(body, "safety_identifier", max_len=64)
    c.string(body, "prompt_cache_key")
    c.enum(body, "prompt_cache_retention", ("in_memory", "24h"))
    mods = body.get("modalities")
    if mods is not None and (not isinstance(mods, list) or any(m not in ("text", "audio") for m in mods)):
        c.fail(
            "modalities.value",
            "Invalid 'modalities': expected an array of 'text' and 'audio'.",
            "modalities",
            "invalid_value",
        )
    for key in ("audio", "prediction"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            c.wrong_type(f"{key}.type", key, "an object", body[key])


def check_model(body: dict[str, Any], models: Iterable[str], skip: frozenset[str] = frozenset()) -> None:
    """Model lookup, after validation: 404 model_not_found like api.openai.com (ERR-005)."""
    model = body.get("model")
    if "model.exists" in skip or model in tuple(models):
        return
    raise ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
        check="model.exists",
    )
