"""Defects of one area: errors.  Each `defect(...)` registers one mutant (see the package docstring)."""
from __future__ import annotations


from .. import render
from ..exchange import Call, Reply
from .base import CHAT_PATH, _as_500, _edit_error_object, _error_500_when, _rewrite_error, defect


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
