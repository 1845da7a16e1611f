"""Defects of one area: auth.  Each `defect(...)` registers one mutant (see the package docstring)."""
from __future__ import annotations

from ..exchange import Call, Reply
from .base import _edit_error_object, _rewrite_error, defect


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
