"""A curl command that reproduces an exchange's request, with the key left to the reader's shell."""
from __future__ import annotations

import json
import shlex

from . import redact


def command(method: str, url: str, headers: dict, body: bytes | None, key_env: str | None) -> str:
    parts = ["curl", "-sS", "-N" if body and b'"stream"' in body else "", "-X", method, shlex.quote(url)]
    for k, v in headers.items():
        if k.lower() == "authorization":
            # Never the key itself: the variable it came from, expanded by the reader's shell.
            scheme = v.split(" ", 1)[0] if v else "Bearer"
            ref = f"${key_env}" if key_env else "$API_KEY"
            parts += ["-H", f'"Authorization: {scheme} {ref}"']
            continue
        if k.lower() in ("content-length", "host", "accept-encoding", "connection", "user-agent"):
            continue
        parts += ["-H", shlex.quote(f"{k}: {redact.text(v)}")]
    if body is not None:
        try:
            text = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            text = body.decode("utf-8", errors="replace")
        if len(text) > 4000:
            text = text[:4000] + "…(truncated)"
        parts += ["--data-binary", shlex.quote(redact.text(text))]
    return " ".join(p for p in parts if p)
