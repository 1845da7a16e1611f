"""Bearer-key authentication, worded as api.openai.com words it (AUTH-001..006)."""

from __future__ import annotations

from .errors import ApiError
from .exchange import Call

MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


RESTRICTED_SUFFIX = "-restricted"
INSUFFICIENT_PERMISSIONS = (
    "You have insufficient permissions for this operation. Missing scopes: model.request. Check that you have "
    "the correct role in your organization and project, and if you're using a restricted API key, that it has "
    "the necessary scopes."
)


def restricted_key_for(key: str) -> str:
    """The second key a reference with `key` knows: valid, but without permission for
    chat completions (a restricted project key), so it gets 403 (AUTH-006)."""
    return key + RESTRICTED_SUFFIX


def mask_key(key: str) -> str:
    """`sk-conformance-invalid-0000` -> `sk-c****0000`: never echo a whole key (AUTH-005)."""
    return f"{key[:4]}****{key[-4:]}" if len(key) > 8 else "****"


def presented_key(call: Call, *, scheme_case_sensitive: bool = False) -> str | None:
    """The key after a Bearer scheme; "" for another scheme; None without the header."""
    header = call.headers.get("Authorization")
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    # RFC 9110 §11.1: the scheme name is case-insensitive (AUTH-002).
    ok = scheme == "Bearer" if scheme_case_sensitive else scheme.lower() == "bearer"
    return token.strip() if ok else ""


def check_auth(call: Call, skip: frozenset[str], flags: frozenset[str]) -> None:
    if call.api_key is None:
        return  # auth disabled (AUTH-007)
    key = presented_key(call, scheme_case_sensitive="auth-scheme-case-sensitive" in flags)
    if key is None:
        if "auth.missing" not in skip:
            raise ApiError(401, MISSING_KEY, param=None, code=None, check="auth.missing")
        return
    if key == restricted_key_for(call.api_key):
        if "auth.scope" not in skip:
            # A valid key lacking the permission: 403, the SDK's PermissionDeniedError (AUTH-006).
            raise ApiError(403, INSUFFICIENT_PERMISSIONS, param=None, code=None, check="auth.scope")
        return
    if key != call.api_key and "auth.key" not in skip:
        raise ApiError(
            401,
            f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            param=None,
            code="invalid_api_key",
            check="auth.key",
        )
