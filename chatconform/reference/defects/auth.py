"""Defects of one area: auth.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

from ..auth import MISSING_KEY
from ..errors import ApiError
from ..exchange import Call, Reply, dumps
from .base import Defect, _edit_error_object, _rewrite_error, defect


defect(
    "auth-disabled",
    "auth",
    ("AUTH-003", "AUTH-004"),
    "Configured with a key but never checks it: no key and wrong keys are both answered 200.",
    skip_checks={"auth.missing", "auth.key"},
)
defect(
    "auth-wrong-key-accepted",
    "auth",
    "AUTH-004",
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
    "auth-missing-key-403",
    "auth",
    "AUTH-003",
    "A request without Authorization gets 403 instead of 401.",
    on_error=_status_for("auth.missing", 403),
)
defect(
    "auth-wrong-key-403",
    "auth",
    "AUTH-004",
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
    "auth-key-echoed",
    "auth",
    "AUTH-005",
    "The wrong-key 401 message repeats the submitted key in full instead of masking it.",
    on_error=_echo_key,
)
defect(
    "auth-scheme-case-sensitive",
    "auth",
    "AUTH-002",
    "Accepts only the exact scheme 'Bearer': 'bearer <key>' gets 401.",
    flags={"auth-scheme-case-sensitive"},
)


def _auth_plain_text(call: Call, reply: Reply) -> Reply:
    if reply.check in ("auth.missing", "auth.key"):
        return _rewrite_error(reply, lambda env: "Unauthorized", "text/plain; charset=utf-8")
    return reply


defect(
    "auth-401-plain-text",
    "auth",
    "ERR-001",
    "Authentication failures are a bare 'Unauthorized' text/plain body, not the JSON envelope.",
    on_error=_auth_plain_text,
)


def _bearer_ignored(call: Call, reply: Reply) -> Reply:
    """Takes the key from an `api-key` header only (Azure style): a request carrying its
    key as `Authorization: Bearer` is answered as if it had none."""
    if call.header("api-key") or not call.header("Authorization") or (reply.check or "").startswith("auth."):
        return reply
    e = ApiError(401, MISSING_KEY, check="auth.missing")
    return Reply(
        401, {"Content-Type": "application/json"}, dumps(e.envelope()).encode(), error=e.error_object(), check=e.check
    )


defect(
    "auth-bearer-ignored",
    "auth",
    "AUTH-001",
    "Reads the key from an `api-key` header only: `Authorization: Bearer <key>` gets 401 as if no key were sent.",
    on_reply=_bearer_ignored,
)


# -- outside the kill matrix ----------------------------------------------------------------
# The matrix runs every defect ad hoc (--base-url, --capabilities all), where no restricted
# key exists, so AUTH-006 is not exercised there.  These are killed instead by
# tests/test_media_checks.py, which points a targets file with `restricted_key` at the
# reference (whose restricted key is reference.auth.restricted_key_for(key)).
def _restricted_status(status: int):
    def hook(call: Call, reply: Reply) -> Reply:
        if reply.check == "auth.scope":
            reply.status = status
        return reply

    return hook


OUTSIDE_MATRIX: dict[str, Defect] = {
    d.name: d
    for d in (
        Defect(
            "auth-restricted-key-answered",
            "auth",
            ("AUTH-006",),
            "A key without permission for chat completions is answered 200 (the permission is never checked).",
            skip_checks=frozenset({"auth.scope"}),
        ),
        Defect(
            "auth-restricted-key-401",
            "auth",
            ("AUTH-006",),
            "A valid key lacking permission gets 401 (invalid key) instead of 403/404.",
            on_error=_restricted_status(401),
        ),
        Defect(
            "auth-restricted-key-500",
            "auth",
            ("AUTH-006",),
            "A valid key lacking permission crashes the permission check: 500.",
            on_error=_restricted_status(500),
        ),
    )
}
