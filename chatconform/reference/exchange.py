"""What the server and the defect hooks share about one HTTP exchange.

`Call` is the request as hooks see it; `Reply` is the answer about to be written.
Both are plain mutable objects on purpose: a defect hook receives them and returns
(possibly modified) versions, so every deviation is expressed against the same
small vocabulary instead of reaching into the HTTP handler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass
class Call:
    method: str
    path: str
    headers: Mapping[str, str]  # case-insensitive (http.client.HTTPMessage)
    body: dict[str, Any] | None = None  # parsed JSON object once parsing succeeded
    stream: bool = False  # the body asked for `stream: true`
    api_key: str | None = None  # the key the server expects (None: auth disabled)
    completion: Any = None  # the generated model.Completion, once there is one

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else value


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # For event streams: the framed SSE events, written and flushed one by one
    # (chunked transfer encoding). None means a plain body with Content-Length.
    events: list[str] | None = None
    # For error replies: the error object and the check that failed, so hooks can
    # match errors without parsing the body.
    error: dict[str, Any] | None = None
    check: str = ""

    @property
    def is_error(self) -> bool:
        return self.error is not None


def dumps(value: Any) -> str:
    """Compact JSON with raw UTF-8, the form OpenAI sends (HTTP-004, STREAM-003)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_reply(status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return Reply(status, h, dumps(value).encode("utf-8"))
