"""Read-only access to the request fixtures in `fixtures/` (see fixtures/README.md).

Suites load tools, JSON schemas and media from here and never by path of their own,
so the data directory can be moved (`CHATCONFORM_FIXTURES`) without touching a test.
Every loader returns a fresh copy: a test may change what it gets.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import pathlib

from .paths import FIXTURES_DIR

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".wav": "audio/wav", ".mp3": "audio/mpeg"}


def root() -> pathlib.Path:
    env = os.environ.get("CHATCONFORM_FIXTURES")
    return pathlib.Path(env) if env else FIXTURES_DIR


def _names(sub: str, suffix: str = ".json") -> tuple[str, ...]:
    d = root() / sub
    return tuple(sorted(p.stem for p in d.glob(f"*{suffix}"))) if d.is_dir() else ()


@functools.lru_cache(maxsize=None)
def _json(sub: str, name: str):
    path = root() / sub / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


# -- tools/: one OpenAI tool definition per file -----------------------------------------
def tool_names() -> tuple[str, ...]:
    return _names("tools")


def tool(name: str) -> dict:
    """`{"type": "function", "function": {...}}`, as sent in `tools[]`."""
    return copy.deepcopy(_json("tools", name))


# -- structured/: {"name", "schema"} per file ---------------------------------------------
def schema_names() -> tuple[str, ...]:
    return _names("structured")


def schema(name: str) -> dict:
    """`{"name": ..., "schema": ...}`: the body of `response_format.json_schema` without `strict`."""
    return copy.deepcopy(_json("structured", name))


def strict_compatible(s: dict) -> bool:
    """Whether a JSON Schema follows OpenAI strict-mode limits: every object closed
    (`additionalProperties: false`) with every property required.  Servers that
    implement strict mode like api.openai.com refuse other schemas with 400."""
    ok = True

    def walk(node):
        nonlocal ok
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                or (isinstance(node.get("type"), list) and "object" in node["type"])
                or "properties" in node
            ):
                props = node.get("properties") or {}
                if node.get("additionalProperties") is not False or set(node.get("required") or ()) != set(props):
                    ok = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(s)
    return ok


# -- media/: images and audio ------------------------------------------------------------
def media(name: str) -> bytes:
    return (root() / "media" / name).read_bytes()


def b64(name: str) -> str:
    return base64.b64encode(media(name)).decode("ascii")


def data_uri(name: str, mime: str | None = None) -> str:
    """`data:<mime>;base64,<bytes of fixtures/media/name>` (mime from the extension)."""
    mime = mime or MIME.get(pathlib.Path(name).suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{b64(name)}"


def image_part(name: str, detail: str | None = None, mime: str | None = None) -> dict:
    part = {"type": "image_url", "image_url": {"url": data_uri(name, mime)}}
    if detail is not None:
        part["image_url"]["detail"] = detail
    return part


def audio_part(name: str, fmt: str | None = None) -> dict:
    fmt = fmt or pathlib.Path(name).suffix.lstrip(".").lower()
    return {"type": "input_audio", "input_audio": {"data": b64(name), "format": fmt}}
