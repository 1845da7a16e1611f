"""Defects of one area: http: transport, media types, headers.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations


from ..errors import ApiError
from ..exchange import Call, Reply, dumps
from ..validate import KNOWN_FIELDS
from .base import CHAT_PATH, _bad, _rewrite_error, _server_error, defect


def _rejects_charset(call: Call) -> ApiError | None:
    ctype = call.header("Content-Type")
    if ";" in ctype:
        return ApiError(
            415,
            f"Invalid Content-Type header ({ctype}), expected application/json.",
            code="unsupported_media_type",
            check="defect",
        )
    return None


defect(
    "rejects-charset-param",
    "http",
    "HTTP-002",
    "Compares Content-Type to 'application/json' literally, so 'application/json; charset=utf-8' gets 415.",
    on_request=_rejects_charset,
)


def _unknown_field_500(call: Call) -> ApiError | None:
    return _server_error() if set(call.body or {}) - KNOWN_FIELDS else None


defect(
    "unknown-field-500",
    "http",
    "HTTP-008",
    "An unknown top-level request field crashes the handler: 500 instead of 200 (ignore) or 400 (reject).",
    on_request=_unknown_field_500,
)


def _rejects_null_sampling(call: Call) -> ApiError | None:
    for key in ("temperature", "top_p"):
        if key in (call.body or {}) and call.body[key] is None:
            return _bad(key, f"Invalid type for '{key}': expected a decimal, but got null instead.", "invalid_type")
    return None


defect(
    "rejects-null-sampling",
    "http",
    "HTTP-007",
    "Treats temperature/top_p as non-nullable: an explicit null gets 400 instead of meaning 'not set'.",
    on_request=_rejects_null_sampling,
)


def _rejects_sdk_headers(call: Call) -> ApiError | None:
    for name in call.headers.keys():
        if name.lower().startswith("x-stainless"):
            return _bad(None, f"Unrecognized request header: {name}.")
    return None


defect(
    "rejects-sdk-headers",
    "http",
    "AUTH-008",
    "Rejects requests carrying the official SDK's X-Stainless-* headers with 400.",
    on_request=_rejects_sdk_headers,
)


def _labelled(content_type: str, *, streamed: bool):
    """An on_reply hook: 200 answers of the chat route, streamed or not, get this Content-Type."""

    def hook(call: Call, reply: Reply) -> Reply:
        if call.path == CHAT_PATH and reply.status == 200 and (reply.events is not None) == streamed:
            reply.headers["Content-Type"] = content_type
        return reply

    return hook


defect(
    "response-content-type-text-plain",
    "http",
    "HTTP-003",
    "Non-streaming 200 answers are labelled text/plain instead of application/json.",
    on_reply=_labelled("text/plain; charset=utf-8", streamed=False),
)
defect(
    "response-charset-latin1",
    "http",
    "HTTP-004",
    "Non-streaming 200 answers declare charset=iso-8859-1 (the body is still UTF-8).",
    on_reply=_labelled("application/json; charset=iso-8859-1", streamed=False),
)
defect(
    "stream-content-type-json",
    "http",
    "HTTP-005",
    "Event streams are sent with Content-Type application/json instead of text/event-stream.",
    on_reply=_labelled("application/json", streamed=True),
)


def _accept_json_disables_stream(call: Call) -> None:
    accept = call.header("Accept").lower()
    if call.stream and "application/json" in accept and "text/event-stream" not in accept:
        call.stream = False
        call.body = {**call.body, "stream": False, "stream_options": None}


defect(
    "stream-ignores-accept-json",
    "http",
    "HTTP-006",
    "Honours Accept over the body: `stream: true` with `Accept: application/json` (what the SDK sends) gets one JSON answer.",
    on_request=_accept_json_disables_stream,
)


def _unknown_path_html(call: Call, reply: Reply) -> Reply:
    if reply.check != "http.unknown-path":
        return reply
    return _rewrite_error(
        reply, lambda env: "<html><body><h1>404 Not Found</h1></body></html>", "text/html; charset=utf-8"
    )


# An unknown path is ERR-010's business (SHOULD): ERR-001/002 judge the chat operation's errors.
defect(
    "unknown-path-html",
    "http",
    "ERR-010",
    "An unknown path under the base URL gets an HTML 404 page instead of the JSON error envelope.",
    on_error=_unknown_path_html,
)


def _unknown_path_detail(call: Call, reply: Reply) -> Reply:
    if reply.check != "http.unknown-path":
        return reply
    return _rewrite_error(reply, lambda env: {"detail": "Not Found"})


defect(
    "unknown-path-detail",
    "http",
    "ERR-010",
    'An unknown path under the base URL gets a web framework\'s 404 body {"detail": "Not Found"} (FastAPI\'s '
    "default), not the error envelope.",
    on_error=_unknown_path_detail,
)

_WEB_UI = b"<!doctype html><html><head><title>Chat</title></head><body><div id=app></div></body></html>"


def _unknown_path_200(call: Call, reply: Reply) -> Reply:
    if reply.check != "http.unknown-path":
        return reply
    return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, _WEB_UI)


defect(
    "unknown-path-200",
    "http",
    "ERR-010",
    "An unknown path under the base URL is answered 200 with a web UI's HTML page (a single-page app's "
    "catch-all route), not 404 + envelope.",
    on_error=_unknown_path_200,
)


def _chat_route_404(call: Call, reply: Reply) -> Reply:
    if call.path != CHAT_PATH or call.method != "POST":
        return reply
    e = ApiError(404, f"Invalid URL (POST {CHAT_PATH})", check="defect")
    return Reply(
        404, {"Content-Type": "application/json"}, dumps(e.envelope()).encode(), error=e.error_object(), check="defect"
    )


defect(
    "chat-route-404",
    "http",
    "HTTP-001",
    "POST {base}/chat/completions answers 404 (the envelope): the operation is not served at the documented "
    "path (mounted elsewhere, e.g. {base}/chat).",
    on_reply=_chat_route_404,
)
