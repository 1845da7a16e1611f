"""Byte-level checks for inline images and audio (VISION-002/004, AUDIO-001/002).

Nothing is fetched and no pixels or samples are decoded: base64, the file signature
and the container structure (chunks, markers, sizes) are enough to tell a payload
from garbage or a truncated file, deterministically and offline.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from urllib.parse import urlsplit

IMAGE_TYPES = ("png", "jpeg", "gif", "webp")
AUDIO_FORMATS = ("wav", "mp3")

_DATA_URI = re.compile(r"data:image/(?P<kind>[A-Za-z0-9.+-]+);base64,(?P<data>.*)", re.S)


def b64decode(text: str) -> bytes | None:
    """Strict base64 (whitespace tolerated, as MIME line breaks are common); None if invalid."""
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


# -- images --------------------------------------------------------------------------


def _png_ok(data: bytes) -> bool:
    """Signature, then a walk over the chunks (length, type, data, CRC) up to IEND."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    pos, first = 8, True
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data) or (first and kind != b"IHDR"):
            return False
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            return False
        if kind == b"IEND":
            return True
        pos, first = end, False
    return False  # ran out of bytes before IEND: truncated


def _jpeg_ok(data: bytes) -> bool:
    # Start-of-image marker, and an end-of-image marker after it (a cut file has none).
    return data.startswith(b"\xff\xd8\xff") and data.rfind(b"\xff\xd9") > 2


def _gif_ok(data: bytes) -> bool:
    return data.startswith((b"GIF87a", b"GIF89a")) and len(data) > 13 and data.rstrip(b"\x00").endswith(b";")


def _riff_ok(data: bytes, form: bytes) -> bool:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != form:
        return False
    return int.from_bytes(data[4:8], "little") + 8 <= len(data)


def image_magic_ok(kind: str, data: bytes) -> bool:
    """Enough structure to tell an image from a non-image or a truncated one (VISION-004)."""
    if kind == "png":
        return _png_ok(data)
    if kind == "jpeg":
        return _jpeg_ok(data)
    if kind == "gif":
        return _gif_ok(data)
    if kind == "webp":
        return _riff_ok(data, b"WEBP")
    return False


# -- audio ---------------------------------------------------------------------------


def _wav_ok(data: bytes) -> bool:
    """RIFF/WAVE with a `fmt ` chunk and then a `data` chunk (the data chunk may be cut
    short: streaming writers leave its size open)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    pos, has_fmt = 12, False
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind == b"fmt ":
            has_fmt = size >= 16 and pos + 8 + size <= len(data)
        elif kind == b"data":
            return has_fmt
        pos += 8 + size + (size & 1)
    return False


def _mp3_ok(data: bytes) -> bool:
    """An MPEG audio frame sync (11 bits set), at the start or after an ID3v2 tag."""
    pos = 0
    if data.startswith(b"ID3") and len(data) >= 10:
        size = 0
        for b in data[6:10]:  # syncsafe integer: 7 bits per byte
            size = (size << 7) | (b & 0x7F)
        pos = 10 + size + (10 if data[5] & 0x10 else 0)
        while pos < len(data) and data[pos] == 0:  # padding some encoders leave
            pos += 1
    return pos + 1 < len(data) and data[pos] == 0xFF and data[pos + 1] & 0xE0 == 0xE0


def audio_magic_ok(fmt: str, data: bytes) -> bool:
    if fmt == "wav":
        return _wav_ok(data)
    if fmt == "mp3":
        return _mp3_ok(data)
    return False


# -- image URLs ----------------------------------------------------------------------


def classify_image_url(url: str) -> tuple[str, str | None]:
    """Return (verdict, detail): verdict is one of
    "ok", "bad-data-uri" (malformed or unsupported data URI), "undecodable"
    (base64 fails or bytes are not a well-formed image of the declared type),
    "unreachable" (a host that by definition cannot resolve), "bad-url" (not a URL).
    """
    if url.startswith("data:"):
        m = _DATA_URI.fullmatch(url)
        if not m:
            return "bad-data-uri", "expected data:image/<type>;base64,<data>"
        kind = m.group("kind").lower()
        if kind == "jpg":
            kind = "jpeg"
        if kind not in IMAGE_TYPES:
            return "bad-data-uri", f"unsupported image type image/{kind}"
        data = b64decode(m.group("data"))
        if data is None:
            return "undecodable", "the base64 data is invalid"
        if not image_magic_ok(kind, data):
            return "undecodable", f"the data is not a valid {kind} image"
        return "ok", None
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        host = parts.hostname.lower().rstrip(".")
        # RFC 6761: `.invalid` never resolves. We never fetch, so this is the one
        # unreachable case we can know for certain without network access.
        if host == "invalid" or host.endswith(".invalid"):
            return "unreachable", host
        return "ok", None
    return "bad-url", None
