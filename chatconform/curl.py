"""A curl command that reproduces an exchange's request, with the key left to the reader's shell.

The command must run as printed: a key the suite was configured with is named by its
variable (the reader's shell expands it), a key the test made up (a wrong key) is
printed as sent, and a long body is never cut: base64 blobs are replaced by tiny valid
samples of the same kind, and a body still too long for one line goes in a here-document.
"""

from __future__ import annotations

import base64
import io
import json
import shlex
import wave

from . import redact

ONE_LINE = 4000  # characters of body beyond which the command uses a here-document
BLOB = 512  # a base64 string longer than this is a blob worth replacing
_PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _tiny_wav() -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)  # 10 ms of silence
    return base64.b64encode(buf.getvalue()).decode()


def command(method: str, url: str, headers: dict, body: bytes | None, key_env: str | None) -> str:
    parts = ["curl", "-sS", "-N" if body and b'"stream"' in body else "", "-X", method, shlex.quote(url)]
    for k, v in headers.items():
        if k.lower() == "authorization":
            scheme, _, token = (v or "Bearer").partition(" ")
            if token and redact.text(token) == token:
                # Not a secret the suite was given (a test's made-up wrong key): as sent.
                parts += ["-H", shlex.quote(f"Authorization: {v}")]
                continue
            # Never the key itself: the variable it came from, expanded by the reader's shell.
            ref = f"${key_env}" if key_env else "$API_KEY"
            parts += ["-H", f'"Authorization: {scheme} {ref}"']
            continue
        if k.lower() in ("content-length", "host", "accept-encoding", "connection", "user-agent"):
            continue
        parts += ["-H", shlex.quote(f"{k}: {redact.text(v)}")]
    note = ""
    if body is not None:
        try:
            doc = json.loads(body)
        except ValueError:
            doc, text = None, body.decode("utf-8", errors="replace")
        else:
            text = _dump(doc)
        if doc is not None and len(text) > ONE_LINE:
            doc, replaced = _shrink(doc)
            if replaced:
                text = _dump(doc)
                note = f"  # {replaced} base64 blob(s) replaced by tiny valid samples of the same kind"
        text = redact.text(text)
        if len(text) > ONE_LINE or "\n" in text and doc is None:
            parts += ["--data-binary", "@-", "<<'CHATCONFORM_BODY'" + note + "\n" + text + "\nCHATCONFORM_BODY"]
            return " ".join(p for p in parts if p)
        parts += ["--data-binary", shlex.quote(text)]
    return " ".join(p for p in parts if p) + note


MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"ID3", b"\xff\xfb", b"\xff\xf3", b"OggS", b"fLaC")


def _media(b64: str) -> bool:
    """Whether a blob is real media (a sample can stand in for it).  A blob a test made
    invalid on purpose is kept as sent: swapping it would change the answer."""
    try:
        head = base64.b64decode(b64[:24] + "=" * (-len(b64[:24]) % 4), validate=True)
    except ValueError:
        return False
    return head.startswith(MAGIC)


def _dump(doc) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _shrink(doc):
    """The body with its base64 blobs (data URLs, input_audio data) swapped for tiny samples."""
    count = 0

    def walk(node, parent_key=None):
        nonlocal count
        if isinstance(node, dict):
            out = {k: walk(v, k) for k, v in node.items()}
            if (
                parent_key == "input_audio"
                and isinstance(node.get("data"), str)
                and len(node["data"]) > BLOB
                and _media(node["data"])
            ):
                out["data"], out["format"] = _tiny_wav(), "wav"
                count += 1
            return out
        if isinstance(node, list):
            return [walk(v, parent_key) for v in node]
        if (
            isinstance(node, str)
            and len(node) > BLOB
            and node.startswith("data:")
            and ";base64," in node[:100]
            and _media(node.split(",", 1)[1])
        ):
            count += 1
            if node.startswith("data:image/"):
                return "data:image/png;base64," + _PNG_1X1
            kind = node[5 : node.index(";")]
            return f"data:{kind};base64," + _tiny_wav() if kind.startswith("audio/") else node[: node.index(",") + 1]
        return node

    return walk(doc), count
