"""Wire shapes: a generated Completion as a JSON body, as stream chunks, as SSE events.

The shapes copy what api.openai.com sends (see the recorded streams in
sdk-stream-captures/): every required-but-nullable key present, the first chunk
of a choice opening with the role, `finish_reason` null until a final `delta: {}`
chunk, one usage chunk with `choices: []` before `data: [DONE]`.
"""

from __future__ import annotations

from typing import Any, Iterator

from .exchange import dumps
from .model import SYSTEM_FINGERPRINT, Choice, Completion


def usage(c: Completion) -> dict[str, Any]:
    completion = c.completion_tokens
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": c.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": c.audio_tokens},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_calls(choice: Choice) -> list[dict[str, Any]]:
    return [
        {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
        for t in choice.tool_calls
    ]


def message(choice: Choice) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None, "annotations": []}
    if choice.tool_calls:
        msg["tool_calls"] = _tool_calls(choice)
    return msg


def choice_logprobs(choice: Choice, requested: bool) -> dict[str, Any] | None:
    if not requested:
        return None  # PARAM-018: present and null when not asked for
    # A tool-call answer has no content tokens: content null, like a refusal's.
    return {"content": None if choice.tool_calls else list(choice.logprobs or []), "refusal": None}


def completion_body(c: Completion) -> dict[str, Any]:
    return {
        "id": c.id,
        "object": "chat.completion",
        "created": c.created,
        "model": c.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {
                "index": ch.index,
                "message": message(ch),
                "logprobs": choice_logprobs(ch, c.logprobs_requested),
                "finish_reason": ch.finish_reason,
            }
            for ch in c.choices
        ],
        "usage": usage(c),
    }


def split_arguments(arguments: str) -> list[str]:
    """Two or three fragments, as the official API streams tool arguments in pieces."""
    n = len(arguments)
    if n >= 6:
        return [arguments[: n // 3], arguments[n // 3 : 2 * n // 3], arguments[2 * n // 3 :]]
    if n >= 2:
        return [arguments[: n // 2], arguments[n // 2 :]]
    return [arguments]


def _choice_items(ch: Choice, logprobs: bool) -> list[dict[str, Any]]:
    """The sequence of `choices[]` items one choice contributes to the stream."""

    def item(delta: dict[str, Any], lp: Any = None) -> dict[str, Any]:
        return {"index": ch.index, "delta": delta, "logprobs": lp, "finish_reason": None}

    if ch.tool_calls:
        items = [item({"role": "assistant", "content": None, "refusal": None})]
        for k, call in enumerate(ch.tool_calls):
            first = {"index": k, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            items.append(item({"tool_calls": [first]}))
            for piece in split_arguments(call.arguments):
                items.append(item({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
    else:
        opening = {"content": [], "refusal": None} if logprobs else None
        items = [item({"role": "assistant", "content": "", "refusal": None}, opening)]
        entries = ch.logprobs or []
        for i, tok in enumerate(ch.tokens):
            lp = {"content": [entries[i]] if i < len(entries) else [], "refusal": None} if logprobs else None
            items.append(item({"content": tok}, lp))
    final = item({})
    final["finish_reason"] = ch.finish_reason
    items.append(final)
    return items


def _round_robin(lists: list[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    # One choice per chunk, interleaved, so indexes first appear as 0, 1, 2...
    # (capture parse_pydantic_model_multiple_choices.sse; STREAM-020/021).
    for step in range(max((len(x) for x in lists), default=0)):
        for items in lists:
            if step < len(items):
                yield items[step]


def stream_chunks(c: Completion, include_usage: bool) -> list[dict[str, Any]]:
    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        out = {
            "id": c.id,
            "object": "chat.completion.chunk",
            "created": c.created,
            "model": c.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        if include_usage:
            out["usage"] = None  # the spec text: null on every chunk but the last
        return out

    per_choice = [_choice_items(ch, c.logprobs_requested) for ch in c.choices]
    chunks = [chunk([it]) for it in _round_robin(per_choice)]
    if include_usage:
        last = chunk([])
        last["usage"] = usage(c)
        chunks.append(last)
    return chunks


def sse_event(data: str) -> str:
    return f"data: {data}\n\n"


def sse_events(chunks: list[dict[str, Any]]) -> list[str]:
    return [sse_event(dumps(ch)) for ch in chunks] + [sse_event("[DONE]")]
