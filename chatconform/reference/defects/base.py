"""What every defect module shares: the Defect record, `defect()` which registers one,
and the helpers the hooks are built from (see the package docstring for the hook points)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .. import model as fake_model
from ..errors import ApiError
from ..exchange import Call, Reply, dumps

AREAS = ("http", "auth", "request", "response", "stream", "errors", "tools", "params", "vision", "audio", "structured")

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Defect:
    name: str  # kebab-case, stable: the kill matrix and CLI refer to it
    area: str  # one of AREAS
    breaks: tuple[str, ...]  # rule IDs a faithful suite must report as failed
    description: str
    skip_checks: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    on_parsed: Optional[Callable[[Call], Optional[ApiError]]] = None
    on_request: Optional[Callable[[Call], Optional[ApiError]]] = None
    on_completion: Optional[Callable[[Call, Any], None]] = None
    on_response: Optional[Callable[[Call, dict], dict]] = None
    on_chunks: Optional[Callable[[Call, list], list]] = None
    on_events: Optional[Callable[[Call, list], list]] = None
    on_error: Optional[Callable[[Call, Reply], Reply]] = None
    on_reply: Optional[Callable[[Call, Reply], Reply]] = None


# =====================================================================================
# Helpers shared by the hooks
# =====================================================================================


def _bad(param: str | None, message: str, code: str | None = "invalid_value", check: str = "defect") -> ApiError:
    return ApiError(400, message, param=param, code=code, check=check)


def _server_error() -> ApiError:
    return ApiError(500, "The server had an error while processing your request.", type="server_error", check="defect")


def _as_500(reply: Reply) -> Reply:
    e = _server_error()
    return Reply(
        500,
        {"Content-Type": "application/json"},
        dumps(e.envelope()).encode(),
        error=e.error_object(),
        check=reply.check,
    )


def _error_500_when(*checks: str) -> Callable[[Call, Reply], Reply]:
    def hook(call: Call, reply: Reply) -> Reply:
        return _as_500(reply) if reply.check in checks else reply

    return hook


def _rewrite_error(reply: Reply, fn: Callable[[dict], Any], content_type: str = "application/json") -> Reply:
    """Replace an error body by fn(envelope); fn returns a dict (JSON) or str (raw)."""
    value = fn(json.loads(reply.body))
    body = value.encode() if isinstance(value, str) else dumps(value).encode()
    return Reply(
        reply.status, {**reply.headers, "Content-Type": content_type}, body, error=reply.error, check=reply.check
    )


def _edit_error_object(fn: Callable[[dict], None]) -> Callable[[Call, Reply], Reply]:
    def hook(call: Call, reply: Reply) -> Reply:
        def edit(env: dict) -> dict:
            fn(env["error"])
            return env

        return _rewrite_error(reply, edit)

    return hook


def _messages(call: Call) -> list[dict]:
    msgs = (call.body or {}).get("messages")
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def _reject_message(refused: Callable[[dict], bool], field: str, message: str, code: str | None = "invalid_value"):
    """An on_request hook: 400 for the first message `refused(m)` holds for, naming
    `messages.[i].<field>`; `{i}` in `message` is that index."""

    def hook(call: Call) -> ApiError | None:
        for i, m in enumerate(_messages(call)):
            if refused(m):
                return _bad(f"messages.[{i}].{field}", message.format(i=i), code)
        return None

    return hook


def _parts(call: Call, kind: str) -> list[tuple[int, int, dict]]:
    """(message index, part index, payload) for every content part of a type."""
    out = []
    for i, m in enumerate(_messages(call)):
        if isinstance(m.get("content"), list):
            for j, p in enumerate(m["content"]):
                if isinstance(p, dict) and p.get("type") == kind and isinstance(p.get(kind), dict):
                    out.append((i, j, p[kind]))
    return out


def _rf_type(call: Call) -> str | None:
    rf = (call.body or {}).get("response_format")
    return rf.get("type") if isinstance(rf, dict) else None


def _is_n(call: Call) -> bool:
    n = (call.body or {}).get("n")
    return isinstance(n, int) and not isinstance(n, bool) and n > 1


def _natural_stop(call: Call, finish: Any, has_tools: bool) -> bool:
    """A text answer that ended by itself (not a stop sequence, limit or tool call)."""
    return finish == "stop" and not has_tools and (call.body or {}).get("stop") is None


def _on_choices(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    """on_response hook running fn(call, choice) for each choice of the JSON body."""

    def hook(call: Call, body: dict) -> dict:
        if when(call):
            for ch in body.get("choices", []):
                fn(call, ch)
        return body

    return hook


def _on_body(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    def hook(call: Call, body: dict) -> dict:
        if when(call):
            fn(call, body)
        return body

    return hook


def _usage_edit(fn: Callable[[dict], None]):
    def edit(call: Call, body: dict) -> None:
        if isinstance(body.get("usage"), dict):
            fn(body["usage"])

    return _on_body(edit)


def _items(chunks: list[dict]):
    """(chunk, choice item) for every choice item of the stream."""
    for ch in chunks:
        for it in ch.get("choices") or []:
            yield ch, it


def _on_items(fn: Callable[[Call, dict], None], *, when: Callable[[Call], bool] = lambda c: True):
    def hook(call: Call, chunks: list[dict]) -> list[dict]:
        if when(call):
            for _, it in _items(chunks):
                fn(call, it)
        return chunks

    return hook


def _first_items(chunks: list[dict]) -> list[dict]:
    seen: set[int] = set()
    out = []
    for _, it in _items(chunks):
        if it.get("index") not in seen:
            seen.add(it.get("index"))
            out.append(it)
    return out


def _finish_items(chunks: list[dict]) -> list[dict]:
    return [it for _, it in _items(chunks) if it.get("finish_reason") is not None]


def _tool_fragments(chunks: list[dict]) -> list[dict]:
    return [tc for _, it in _items(chunks) for tc in (it.get("delta") or {}).get("tool_calls") or []]


def _include_usage(call: Call) -> bool:
    so = (call.body or {}).get("stream_options")
    return isinstance(so, dict) and so.get("include_usage") is True


def _on_events(fn: Callable[[list[str]], list[str]]):
    return lambda call, events: fn(list(events))


def _retokenize(choice: Any, text: str, call: Call) -> None:
    """Replace a generated choice's text, keeping tokens, logprobs and usage consistent."""
    choice.tokens = fake_model.tokenize(text)
    choice.content = text
    choice.completion_tokens = len(choice.tokens)
    if choice.logprobs is not None:
        top = (call.body or {}).get("top_logprobs") or 0
        choice.logprobs = fake_model.logprob_entries(choice.tokens, top, random.Random(text))


def _on_text_choices(fn: Callable[[Call, Any], None], *, when: Callable[[Call], bool] = lambda c: True):
    def hook(call: Call, completion: Any) -> None:
        if when(call):
            for ch in completion.choices:
                if not ch.tool_calls:
                    fn(call, ch)

    return hook


def _tool_choice(call: Call) -> Any:
    body = call.body or {}
    if not body.get("tools"):
        return None
    return body.get("tool_choice", "auto")


_DEFECTS: list[Defect] = []


def defect(name: str, area: str, breaks: tuple[str, ...] | str, description: str, **hooks: Any) -> None:
    if isinstance(breaks, str):
        breaks = (breaks,)
    for key in ("skip_checks", "flags"):
        if key in hooks:
            hooks[key] = frozenset(hooks[key])
    _DEFECTS.append(Defect(name, area, tuple(breaks), description, **hooks))
