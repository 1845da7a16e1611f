"""Content parts (CONTENT-003): what an answer to a request carrying a `file` part shows.

Images and audio are judged by the tests' intents (accept="VISION-002", refuse="AUDIO-002",
refuse="VISION-006" ...: checks/intent.py).  A file part is different: servers without
file input may refuse it, so neither intent fits; only a 5xx breaks the rule.
"""

from __future__ import annotations

from ..violations import Note, Violation
from . import check, is_chat, req


def has_file_part(ex) -> bool:
    for m in req(ex).get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "file" for p in content):
            return True
    return False


def _message(ex) -> str:
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return str(err.get("message"))[:100] if isinstance(err, dict) else ""


@check("CONTENT-003", applies=lambda ex: is_chat(ex) and ex.status is not None and has_file_part(ex))
def file_part(ex):
    """CONTENT-003 (MAY): a file part is accepted (file input) or refused with a 4xx
    (none), never a server error."""
    if ex.status == 200:
        yield Note("CONTENT-003", "a file part was accepted (file input supported)")
    elif 400 <= ex.status < 500:
        yield Note(
            "CONTENT-003", f"a file part was refused with HTTP {ex.status} (file input not supported): {_message(ex)}"
        )
    else:
        yield Violation(
            "CONTENT-003",
            "HTTP 200 (file input) or a 4xx + envelope (no file input)",
            f"HTTP {ex.status} {_message(ex)}".strip(),
            "status",
        )
