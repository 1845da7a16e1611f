"""Defects of one area: errors.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

import json
import re
import threading
from typing import Callable

from .. import render
from ..errors import ApiError
from ..exchange import Call, Reply, dumps
from .base import CHAT_PATH, _as_500, _edit_error_object, _error_500_when, _rewrite_error, defect


defect(
    "error-not-enveloped",
    "errors",
    "ERR-001",
    'Error bodies are the bare error object, without the {"error": ...} envelope.',
    on_error=lambda call, reply: _rewrite_error(reply, lambda env: env["error"]),
)
defect(
    "error-html",
    "errors",
    "ERR-001",
    "Error bodies are HTML pages (text/html) instead of JSON.",
    on_error=lambda call, reply: _rewrite_error(
        reply,
        lambda env: f"<html><body><h1>Error</h1><p>{env['error']['message']}</p></body></html>",
        "text/html; charset=utf-8",
    ),
)
defect(
    "error-param-missing",
    "errors",
    "ERR-002",
    "The error object has no `param` key.",
    on_error=_edit_error_object(lambda err: err.pop("param", None)),
)
defect(
    "error-code-missing",
    "errors",
    "ERR-002",
    "The error object has no `code` key.",
    on_error=_edit_error_object(lambda err: err.pop("code", None)),
)


def _code_int(call: Call, reply: Reply) -> Reply:
    return _edit_error_object(lambda err: err.__setitem__("code", reply.status))(call, reply)


defect("error-code-integer", "errors", "ERR-002", "`error.code` is the HTTP status as an integer.", on_error=_code_int)
defect(
    "error-message-empty",
    "errors",
    "ERR-003",
    "`error.message` is the empty string.",
    on_error=_edit_error_object(lambda err: err.__setitem__("message", "")),
)


def _param_null_on_400(call: Call, reply: Reply) -> Reply:
    if reply.status != 400:
        return reply
    return _edit_error_object(lambda err: err.__setitem__("param", None))(call, reply)


defect(
    "error-param-null",
    "errors",
    "PARAM-011",
    "400 errors never name the offending field: `param` is always null.",
    on_error=_param_null_on_400,
)


defect(
    "invalid-json-500",
    "errors",
    "REQ-003",
    "A body that is not valid JSON gets 500.",
    on_error=_error_500_when("body.json"),
)
defect(
    "non-object-body-500",
    "errors",
    "REQ-003",
    "A JSON body that is not an object (e.g. `[]`) gets 500.",
    on_error=_error_500_when("body.object"),
)
defect(
    "empty-messages-500",
    "errors",
    "REQ-002",
    "`messages: []` gets 500 instead of 400.",
    on_error=_error_500_when("messages.empty"),
)


def _type_errors_422(call: Call, reply: Reply) -> Reply:
    if reply.status == 400 and reply.check.endswith(".type"):
        reply.status = 422
    return reply


defect(
    "wrong-type-422",
    "errors",
    "ERR-004",
    "Wrong JSON types for known fields get 422 (FastAPI style) instead of 400.",
    on_error=_type_errors_422,
)
defect(
    "unknown-model-200",
    "errors",
    "ERR-005",
    "An unknown model id is served by the default model (200).",
    skip_checks={"model.exists"},
)


def _model_500(call: Call, reply: Reply) -> Reply:
    return _as_500(reply) if reply.check == "model.exists" and call.path == CHAT_PATH else reply


defect(
    "unknown-model-500", "errors", "ERR-005", "An unknown model id gets 500 instead of 404/400.", on_error=_model_500
)
defect(
    "context-overflow-500",
    "errors",
    "ERR-008",
    "A prompt longer than the context window gets 500.",
    on_error=_error_500_when("context.length"),
)


def _stream_error_as_sse(call: Call, reply: Reply) -> Reply:
    if not call.stream or reply.status != 400:
        return reply
    events = [render.sse_event(reply.body.decode()), render.sse_event("[DONE]")]
    return Reply(
        200, {"Content-Type": "text/event-stream; charset=utf-8"}, events=events, error=reply.error, check=reply.check
    )


defect(
    "stream-validation-error-as-sse",
    "errors",
    "STREAM-023",
    "An invalid streaming request gets 200 and an SSE error event instead of a 400 JSON answer.",
    on_error=_stream_error_as_sse,
)


# -- what an error says ---------------------------------------------------------------------------
def _set_error(fn):
    """An on_error hook editing the error object of every enveloped error reply."""

    def hook(call: Call, reply: Reply) -> Reply:
        try:
            env = json.loads(reply.body)
        except ValueError:
            return reply
        if not isinstance(env, dict) or not isinstance(env.get("error"), dict):
            return reply
        fn(reply, env["error"])
        return Reply(reply.status, dict(reply.headers), dumps(env).encode(), error=env["error"], check=reply.check)

    return hook


def _param_none_string(reply: Reply, err: dict) -> None:
    if err.get("param") is None:
        err["param"] = "None"


defect(
    "error-param-none-string",
    "errors",
    "ERR-003",
    'Errors without an offending field carry `param: "None"` (Python\'s str(None)) instead of null.',
    on_error=_set_error(_param_none_string),
)


def _framework_loc(reply: Reply, err: dict) -> None:
    if isinstance(err.get("param"), str):
        err["param"] = "body." + re.sub(r"\.?\[(\d+)\]", r".\1", err["param"])


defect(
    "error-param-framework-path",
    "errors",
    "ERR-003",
    "`param` is the web framework's location of the fault (FastAPI's loc joined: `body.messages.0.role`) "
    "instead of the request field's path (`messages.[0].role`).",
    on_error=_set_error(_framework_loc),
)


def _bad_request_error_type(reply: Reply, err: dict) -> None:
    if reply.status == 400:
        err["type"] = "BadRequestError"


defect(
    "error-type-bad-request-error",
    "errors",
    "ERR-004",
    '400 errors carry `type: "BadRequestError"` (the exception\'s class name, as vLLM sends) instead of '
    "`invalid_request_error`.",
    on_error=_set_error(_bad_request_error_type),
)

_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/routes/chat.py", line 88, in create_chat_completion\n'
    "    params = coerce(body)\n"
    '  File "/srv/app/routes/params.py", line 31, in coerce\n'
    "    return {k: CASTS[k](v) for k, v in body.items()}\n"
    "ValueError: could not convert string to float: 'hot'"
)


def _traceback_message(reply: Reply, err: dict) -> None:
    if reply.check.endswith(".type") and reply.check != "messages.type":
        err["message"] = _TRACEBACK


defect(
    "error-leaks-traceback",
    "errors",
    ("ERR-012", "ERR-003"),
    "A wrong JSON type is refused with 400 whose message is the Python traceback of the crash it caused "
    "(file paths, lines, code).",
    on_error=_set_error(_traceback_message),
)


def _exception_message(reply: Reply, err: dict) -> None:
    if reply.check == "messages.type":
        err["message"] = "'str' object has no attribute 'get'"


defect(
    "error-message-exception-text",
    "errors",
    ("ERR-003", "ERR-012"),
    "`messages` of the wrong type is refused with 400 whose message is the internal exception's text "
    "(\"'str' object has no attribute 'get'\"), not a description of the fault.",
    on_error=_set_error(_exception_message),
)


# -- the status of an error ---------------------------------------------------------------------
_SAMPLING_RANGES = {"temperature.range", "top_p.range", "frequency_penalty.range", "presence_penalty.range"}


def _range_403(call: Call, reply: Reply) -> Reply:
    if reply.check in _SAMPLING_RANGES:
        reply.status = 403
    return reply


defect(
    "out-of-range-403",
    "errors",
    "ERR-011",
    "A sampling value out of its range is refused with 403 (a gateway's policy layer) instead of 400: the SDK "
    "raises PermissionDeniedError for an invalid request.",
    on_error=_range_403,
)


def _crash(call: Call, reply: Reply) -> Reply:
    if reply.check != "context.length":
        return reply
    return Reply(500, {"Content-Type": "text/plain; charset=utf-8"}, b"Internal Server Error", check=reply.check)


defect(
    "context-overflow-crash",
    "errors",
    ("ERR-008", "ERR-009"),
    "A prompt longer than the context window crashes the tokenizer: 500 with a plain-text 'Internal Server "
    "Error' body instead of 400 + envelope.",
    on_error=_crash,
)


# -- rate limits: a per-end-user limiter (the `user` field) that refuses an end user's second
# request once, as a server meets a burst; the client's retry is then answered.
def _second_request_of_a_user(error: Callable[[], ApiError]):
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def hook(call: Call) -> ApiError | None:
        user = (call.body or {}).get("user")
        if not isinstance(user, str):
            return None
        with lock:
            seen[user] = seen.get(user, 0) + 1
            n = seen[user]
        return error() if n == 2 else None

    return hook


defect(
    "rate-limit-retry-after-fraction",
    "errors",
    "ERR-006",
    "A burst from one end user gets a 429 whose Retry-After is '0.5' (fractional seconds), not an integer >= 1.",
    on_request=_second_request_of_a_user(
        lambda: ApiError(
            429,
            "Rate limit reached for requests per end user. Please try again shortly.",
            type="requests",
            code="rate_limit_exceeded",
            check="defect",
            headers={"Retry-After": "0.5"},
        )
    ),
)
defect(
    "quota-429-as-rate-limit",
    "errors",
    "ERR-007",
    "An end user out of budget gets a 429 saying the quota is exceeded, typed as a plain rate limit "
    "(type 'requests', code 'rate_limit_exceeded'): clients retry what retrying cannot fix.",
    on_request=_second_request_of_a_user(
        lambda: ApiError(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            type="requests",
            code="rate_limit_exceeded",
            check="defect",
        )
    ),
)
