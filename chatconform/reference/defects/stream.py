"""Defects of one area: streams: SSE framing and chunk contents.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

from .. import render
from ..exchange import Call, Reply
from .base import (
    _as_500,
    _finish_items,
    _first_items,
    _include_usage,
    _is_n,
    _items,
    _natural_stop,
    _on_events,
    _on_items,
    _rf_type,
    defect,
)


def _chunk_set(key: str, value: Callable[[int, dict], Any]):
    def hook(call: Call, chunks: list[dict]) -> list[dict]:
        for i, ch in enumerate(chunks):
            ch[key] = value(i, ch)
        return chunks

    return hook


def _intermediate_empty(call: Call, it: dict) -> None:
    if it.get("finish_reason") is None:
        it["finish_reason"] = ""


defect(
    "stream-finish-reason-empty-string",
    "stream",
    "STREAM-010",
    'Chunks that do not finish a choice carry finish_reason "" instead of null.',
    on_chunks=_on_items(_intermediate_empty),
)


def _stream_natural_eos(call: Call, it: dict) -> None:
    if _natural_stop(call, it.get("finish_reason"), False) and not (call.body or {}).get("tools"):
        it["finish_reason"] = "eos"


defect(
    "stream-finish-reason-eos",
    "stream",
    "STREAM-010",
    "A streamed text answer that ended naturally finishes with 'eos' (not in the enum).",
    on_chunks=_on_items(_stream_natural_eos),
)
defect(
    "stream-missing-done",
    "stream",
    "STREAM-016",
    "The stream ends without `data: [DONE]`.",
    on_events=_on_events(lambda ev: ev[:-1]),
)
defect(
    "stream-data-after-done",
    "stream",
    "STREAM-016",
    "The last chunk is sent again after `data: [DONE]`.",
    on_events=_on_events(lambda ev: ev + [ev[-2]]),
)
defect(
    "stream-events-single-newline",
    "stream",
    "STREAM-002",
    "Events are separated by a single \\n, so SSE clients merge them into one event.",
    on_events=_on_events(lambda ev: [e[:-1] if e.endswith("\n\n") else e for e in ev]),
)
defect(
    "stream-no-space-after-colon",
    "stream",
    "STREAM-003",
    "Lines are `data:{...}` without the space after the colon.",
    on_events=_on_events(lambda ev: ["data:" + e[len("data: ") :] for e in ev]),
)


def _insert_non_json(ev: list[str]) -> list[str]:
    return ev[:1] + ["data: keep-alive\n\n"] + ev[1:]


defect(
    "stream-non-json-event",
    "stream",
    "STREAM-001",
    "A `data: keep-alive` event that is not JSON is sent after the first chunk.",
    on_events=_on_events(_insert_non_json),
)
defect(
    "stream-chunk-object-wrong",
    "stream",
    "STREAM-004",
    "Chunks have object 'chat.completion' instead of 'chat.completion.chunk'.",
    on_chunks=_chunk_set("object", lambda i, ch: "chat.completion"),
)


def _drop_chunk_model(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        ch.pop("model", None)
    return chunks


defect("stream-chunk-model-missing", "stream", "STREAM-005", "Chunks carry no `model`.", on_chunks=_drop_chunk_model)


def _changing_id(i: int, ch: dict) -> str:
    return ch["id"] if i == 0 else ch["id"][:-4] + f"{i:04d}"[-4:]


defect(
    "stream-id-changes",
    "stream",
    "STREAM-006",
    "Every chunk gets its own id.",
    on_chunks=_chunk_set("id", _changing_id),
)


def _created_changes(call: Call, chunks: list[dict]) -> list[dict]:
    if len(chunks) > 1:
        chunks[-1]["created"] = chunks[-1]["created"] + 1
    return chunks


defect(
    "stream-created-changes",
    "stream",
    "STREAM-007",
    "The last chunk's `created` is one second later than the others.",
    on_chunks=_created_changes,
)
defect(
    "stream-model-changes",
    "stream",
    "STREAM-008",
    "After the first chunk, `model` switches to a dated variant of the name.",
    on_chunks=_chunk_set("model", lambda i, ch: ch["model"] if i == 0 else ch["model"] + "-2024-08-06"),
)


def _role_missing(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _first_items(chunks):
        it["delta"].pop("role", None)
    return chunks


defect(
    "stream-role-missing", "stream", "STREAM-012", "The first delta of a choice has no `role`.", on_chunks=_role_missing
)


def _role_everywhere(call: Call, it: dict) -> None:
    d = it.get("delta") or {}
    if "content" in d or "tool_calls" in d:
        d["role"] = "assistant"


defect(
    "stream-role-repeated",
    "stream",
    "STREAM-013",
    'Every content delta repeats `role: "assistant"`.',
    on_chunks=_on_items(_role_everywhere),
)


def _refusal_false(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _first_items(chunks):
        it["delta"]["refusal"] = False
    return chunks


defect(
    "stream-delta-refusal-boolean",
    "stream",
    "STREAM-014",
    "The opening delta has `refusal: false` instead of null.",
    on_chunks=_refusal_false,
)


def _finish_twice(call: Call, chunks: list[dict]) -> list[dict]:
    last: dict[Any, dict] = {}
    for _, it in _items(chunks):
        if it.get("finish_reason") is not None and it.get("index") in last:
            last[it["index"]]["finish_reason"] = it["finish_reason"]
        last[it.get("index")] = it
    return chunks


defect(
    "stream-finish-reason-twice",
    "stream",
    "STREAM-011",
    "The last content chunk of a choice already carries the finish_reason, then the closing chunk repeats it.",
    on_chunks=_finish_twice,
)


def _finish_missing(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _finish_items(chunks):
        if _natural_stop(call, it["finish_reason"], bool((call.body or {}).get("tools"))):
            it["finish_reason"] = None
    return chunks


defect(
    "stream-finish-reason-missing",
    "stream",
    "STREAM-011",
    "A streamed text answer that ends naturally never gets a non-null finish_reason (the closing chunk says null).",
    on_chunks=_finish_missing,
)


def _delta_after_finish(call: Call, chunks: list[dict]) -> list[dict]:
    out = []
    for ch in chunks:
        out.append(ch)
        for it in ch.get("choices") or []:
            if it.get("finish_reason") is not None:
                extra = copy.deepcopy(ch)
                extra["choices"] = [
                    {"index": it["index"], "delta": {"content": ""}, "logprobs": None, "finish_reason": None}
                ]
                out.append(extra)
    return out


defect(
    "stream-delta-after-finish",
    "stream",
    "STREAM-011",
    "After a choice's finishing chunk, one more (empty) content delta follows.",
    on_chunks=_delta_after_finish,
)


def _delta_missing(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _finish_items(chunks):
        it.pop("delta", None)
    return chunks


defect(
    "stream-finish-chunk-without-delta",
    "stream",
    "STREAM-009",
    "The finishing chunk's choice has no `delta` key.",
    on_chunks=_delta_missing,
)


def _content_as_text(call: Call, chunks: list[dict]) -> list[dict]:
    if _rf_type(call) not in (None, "text") or (call.body or {}).get("tools"):
        return chunks  # plain text only: structured output and tools have their own defects
    for _, it in _items(chunks):
        d = it.get("delta") or {}
        if "content" in d:
            d["text"] = d.pop("content")
    return chunks


defect(
    "stream-content-as-text-field",
    "stream",
    "STREAM-015",
    "Plain-text streams carry the text in `delta.text` (completions style) instead of `delta.content`: "
    "the assembled message has no content, unlike the non-streaming answer.",
    on_chunks=_content_as_text,
)


def _usage_ignored(call: Call, chunks: list[dict]) -> list[dict]:
    out = [ch for ch in chunks if ch.get("choices")]
    for ch in out:
        ch.pop("usage", None)
    return out


defect(
    "stream-usage-ignored",
    "stream",
    "STREAM-018",
    "`stream_options.include_usage: true` is ignored: no usage chunk.",
    on_chunks=_usage_ignored,
)


def _usage_on_last_choice_chunk(call: Call, chunks: list[dict]) -> list[dict]:
    if not chunks or chunks[-1].get("choices") or not isinstance(chunks[-1].get("usage"), dict):
        return chunks
    usage = chunks.pop()["usage"]
    chunks[-1]["usage"] = usage
    return chunks


defect(
    "stream-usage-chunk-has-choices",
    "stream",
    "STREAM-018",
    "With include_usage, usage rides on the last choice chunk instead of an extra chunk with `choices: []`.",
    on_chunks=_usage_on_last_choice_chunk,
)


def _usage_before_finish(call: Call, chunks: list[dict]) -> list[dict]:
    if len(chunks) >= 2 and not chunks[-1].get("choices") and isinstance(chunks[-1].get("usage"), dict):
        chunks.insert(len(chunks) - 2, chunks.pop())
    return chunks


defect(
    "stream-usage-before-finish",
    "stream",
    "STREAM-018",
    "With include_usage, the usage chunk comes before the finishing chunk instead of right before [DONE].",
    on_chunks=_usage_before_finish,
)


def _usage_unasked(call: Call, chunks: list[dict]) -> list[dict]:
    if not _include_usage(call) and chunks and call.completion is not None:
        extra = {k: v for k, v in chunks[-1].items() if k != "choices"}
        extra["choices"] = []
        extra["usage"] = render.usage(call.completion)
        chunks.append(extra)
    return chunks


defect(
    "stream-usage-without-include",
    "stream",
    "STREAM-017",
    "A usage chunk is sent even though `stream_options.include_usage` was not requested.",
    on_chunks=_usage_unasked,
)


def _drop_last_index(call: Call, chunks: list[dict]) -> list[dict]:
    if not _is_n(call):
        return chunks
    last = call.body["n"] - 1
    return [ch for ch in chunks if not (ch.get("choices") and all(it.get("index") == last for it in ch["choices"]))]


defect(
    "stream-n-missing-index",
    "stream",
    "STREAM-020",
    "With n > 1 the stream never sends the last choice index.",
    on_chunks=_drop_last_index,
)


def _reverse_first_appearance(call: Call, chunks: list[dict]) -> list[dict]:
    if not _is_n(call):
        return chunks
    body = [ch for ch in chunks if ch.get("choices")]
    tail = [ch for ch in chunks if not ch.get("choices")]
    body.sort(key=lambda ch: -ch["choices"][0]["index"])  # stable: each choice keeps its order
    return body + tail


defect(
    "stream-indexes-out-of-order",
    "stream",
    "STREAM-021",
    "With n > 1 choices are streamed highest index first, so the first chunk's choice is not index 0.",
    on_chunks=_reverse_first_appearance,
)


defect(
    "stream-obfuscation-not-string",
    "stream",
    "STREAM-022",
    "Chunks carry `obfuscation` as a number (the spec types it as a string).",
    on_chunks=_chunk_set("obfuscation", lambda i, ch: 12345),
)


def _buffer_stream(call: Call, events: list[str]) -> list[str]:
    # A buffering server still spends the generation time, then sends everything at
    # once: 60 ms per event before the first byte (headers included) leaves.
    time.sleep(0.06 * len(events))
    return ["".join(events)]


defect(
    "stream-buffered",
    "stream",
    "HTTP-009",
    "The stream is generated in full (60 ms an event) and only then written, all at once, instead of flushed per event.",
    on_events=_buffer_stream,
)


def _stream_options_500(call: Call, reply: Reply) -> Reply:
    return _as_500(reply) if reply.check == "stream_options.requires-stream" else reply


defect(
    "stream-options-without-stream-500",
    "stream",
    "STREAM-019",
    "`stream_options` on a non-streaming request crashes the server (500) instead of 400 or being ignored.",
    on_error=_stream_options_500,
)


def _error_event_midstream(call: Call, chunks: list[dict]) -> list[dict]:
    # A server that hits an error after the stream began, as some do when a backend
    # fails: it reports it as a bare string and keeps streaming.
    if len(chunks) < 2:
        return chunks
    return chunks[:1] + [{"error": "backend failure"}] + chunks[1:]


defect(
    "stream-error-event-malformed",
    "stream",
    "STREAM-024",
    'An error mid-stream is sent as `{"error": "<text>"}` (a string, not the error object) and the stream goes on.',
    on_chunks=_error_event_midstream,
)
