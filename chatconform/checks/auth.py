"""Authentication (AUTH): what an answer to a request with a wrong, restricted or no key shows.

The statuses themselves are the tests' intents (refuse="AUTH-003"/"AUTH-004"/"AUTH-006",
accept="AUTH-001"/"AUTH-002", checks/intent.py); here, what the body of such an answer
must not do (echo the key) and what a keyless request says about the server.
"""

from __future__ import annotations

from ..redact import MASK
from ..violations import Note, NotJudged, Violation
from . import check, is_chat, relation

MIN_KEY = 8  # shorter "keys" could occur in a body by chance


def presented_key(ex) -> str | None:
    """The token of the request's `Authorization: Bearer <token>` (any case), or None."""
    header = next((str(v) for k, v in (ex.request_headers or {}).items() if k.lower() == "authorization"), None)
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _error(ex) -> dict:
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return err if isinstance(err, dict) else {}


@check("AUTH-005", applies=lambda ex: is_chat(ex) and ex.status == 401 and presented_key(ex) is not None)
def key_not_echoed(ex):
    """AUTH-005: the 401 body does not repeat the submitted key in full."""
    key = presented_key(ex)
    if MASK in key or len(key) < MIN_KEY:
        # A recorded exchange (rejudge) carries the key masked; a short one proves nothing.
        raise NotJudged("the submitted key is not known in full (masked in the record, or too short)")
    code = _error(ex).get("code")
    yield Note("AUTH-004", f"error.code {code!r} (api.openai.com: invalid_api_key)")
    if key.encode() in ex.body:
        yield Violation(
            "AUTH-005",
            "the submitted key not echoed in full (mask all but a few characters)",
            f"the full {len(key)}-character key is in the body",
            "body",
        )


@relation("AUTH-007")
def auth_disabled_reported(ex):
    """AUTH-007 (MAY): a server may run without authentication; a keyless request tells
    which it does, and the verdict says so.  Either way conforms: only reported."""
    if ex.status == 200:
        yield Note("AUTH-007", "auth disabled: a request without a key was answered")
    elif ex.status is not None and 400 <= ex.status < 500:
        yield Note("AUTH-007", f"auth enabled although not claimed: HTTP {ex.status} without a key")
    else:
        raise NotJudged(
            f"a request without a key got {f'HTTP {ex.status}' if ex.status else 'no answer'}: "
            "neither answered (auth disabled) nor refused (auth enabled)"
        )
