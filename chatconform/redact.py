"""The one place that hides secrets from every output: terminal, reports, curl, logs."""

from __future__ import annotations

import re
import threading

MASK = "***REDACTED***"
_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "openai-api-key",
}

_lock = threading.Lock()
_secrets: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret so that any text passing through `text()` is scrubbed of it."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def text(value: str) -> str:
    if not isinstance(value, str):
        return value
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in value:
            value = value.replace(s, MASK)
    # A bearer token we were never told about (e.g. from an extra header) is masked too.
    return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", lambda m: m.group(1) + MASK, value)


def headers(hdrs: dict | None) -> dict:
    out = {}
    for k, v in (hdrs or {}).items():
        out[k] = MASK if k.lower() in _SECRET_HEADERS and v else text(v)
    return out


def deep(value):
    """Scrub secrets from a JSON-ish structure (results files, attachments)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and k.lower() in _SECRET_HEADERS and v else deep(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [deep(v) for v in value]
    return value
