"""Transport-level checks: media types of successful answers, UTF-8, unknown fields."""

from __future__ import annotations

from .. import rules, schemas
from ..client import DECODED_CODINGS
from ..violations import Note, Violation
from . import check, is_chat, req, valid_request
from .intent import RETRIED


@check("HTTP-003", applies=lambda ex: is_chat(ex) and ex.status == 200 and not ex.wants_stream and valid_request(ex))
def json_media_type(ex):
    if ex.media_type != "application/json":
        raise Violation(
            "HTTP-003", "Content-Type application/json", repr(ex.headers.get("content-type")), "headers/content-type"
        )


@check("HTTP-005", applies=lambda ex: is_chat(ex) and ex.status == 200 and ex.wants_stream and valid_request(ex))
def stream_media_type(ex):
    if ex.media_type != "text/event-stream":
        raise Violation(
            "HTTP-005",
            "Content-Type text/event-stream for stream: true",
            repr(ex.headers.get("content-type")),
            "headers/content-type",
        )


@check("HTTP-004", applies=lambda ex: is_chat(ex) and ex.status is not None and not ex.is_stream)
def utf8_body(ex):
    ct = ex.headers.get("content-type", "").lower()
    if "charset=" in ct:
        charset = ct.split("charset=", 1)[1].split(";")[0].strip().strip('"')
        if charset not in ("utf-8", "utf8"):
            raise Violation("HTTP-004", "charset utf-8 (or none)", charset, "headers/content-type")
    if ex.body and not ex.truncated:
        try:
            ex.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Violation("HTTP-004", "a UTF-8 body", f"invalid UTF-8 at byte {exc.start}", "body")


@check("HTTP-004", applies=lambda ex: ex.content_coding is not None)
def unrequested_content_coding(ex):
    """The client asks for `Accept-Encoding: identity`; a compressed answer is decoded (as
    the SDK's httpx would) and noted: information, since clients cope with gzip/deflate."""
    decoded = ex.content_coding in DECODED_CODINGS
    yield Note(
        "HTTP-004",
        f"Content-Encoding {ex.content_coding} although the request asked for identity; "
        + ("decoded as the SDK would" if decoded else "not decoded: the body is judged as it came"),
    )


def unknown_fields(ex) -> list[str]:
    """Top-level request fields the request schema does not define."""
    known = schemas.load("request").get("properties") or {}
    return [k for k in req(ex) if k not in known]


def _unknown_field_request(ex) -> bool:
    extra = unknown_fields(ex)
    if not extra:
        return False
    # Only an otherwise valid request says something about the unknown field itself.
    return schemas.is_valid("request", {k: v for k, v in req(ex).items() if k not in extra})


@check(
    "HTTP-008",
    applies=lambda ex: (
        is_chat(ex) and ex.status is not None and ex.status not in RETRIED and _unknown_field_request(ex)
    ),
)
def unknown_field(ex):
    """An unknown top-level field is ignored (200) or refused with the status the rule
    names (400, + envelope: ERR-001), never a 5xx."""
    names = ", ".join(unknown_fields(ex))
    allowed = rules.get("HTTP-008").statuses
    if ex.status == 200:
        yield Note("HTTP-008", f"unknown field(s) {names} tolerated")
    elif ex.status in allowed:
        yield Note("HTTP-008", f"unknown field(s) {names} refused with HTTP {ex.status} (strict, as api.openai.com)")
    else:
        raise Violation(
            "HTTP-008",
            f"HTTP 200 (ignored) or {'/'.join(map(str, allowed))} (refused) for the unknown field(s) {names}",
            f"HTTP {ex.status}",
            "status",
        )
