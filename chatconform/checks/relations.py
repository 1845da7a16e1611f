"""Relations between two requests (metamorphic): invariants no single answer can show.

A test sends both requests and asks for the relation by name (Recorder.relate); the
property tests draw the pairs (chatconform.strategies.cases: one more turn; the same
request streamed).  Each relation judges only when both answers are 200 and carry
what it compares; otherwise it says why not (NotJudged)."""

from __future__ import annotations

from ..violations import NotJudged, Violation
from . import is_int, relation, req


def _plain_usage(ex) -> dict | None:
    if ex.status != 200 or ex.is_stream or not isinstance(ex.json, dict):
        return None
    usage = ex.json.get("usage")
    return usage if isinstance(usage, dict) else None


def _stream_usage(ex) -> dict | None:
    if ex.status != 200 or not ex.is_stream or ex.truncated:
        return None
    for chunk in reversed(ex.chunks):
        if isinstance(chunk.get("usage"), dict):
            return chunk["usage"]
    return None


@relation("RESP-018")
def more_messages_more_prompt_tokens(fewer, more):
    """A request with more messages (the same ones, and one more turn) counts more prompt
    tokens: prompt_tokens counts the whole conversation, not its last message."""
    a, b = _plain_usage(fewer), _plain_usage(more)
    if a is None or b is None or not (is_int(a.get("prompt_tokens")) and is_int(b.get("prompt_tokens"))):
        raise NotJudged("one of the two answers has no integer usage.prompt_tokens")
    extra = len(req(more).get("messages") or []) - len(req(fewer).get("messages") or [])
    if extra <= 0:
        raise NotJudged("the second request has no more messages than the first")
    if b["prompt_tokens"] <= a["prompt_tokens"]:
        raise Violation(
            "RESP-018",
            f"more prompt_tokens than the same request with {extra} message(s) fewer ({a['prompt_tokens']})",
            str(b["prompt_tokens"]),
            "/usage/prompt_tokens",
            more,
        )


def _all_cut(choices, n: int) -> bool:
    reasons = [c.get("finish_reason") for c in choices if isinstance(c, dict)]
    return len(reasons) == n and all(r == "length" for r in reasons)


@relation("STREAM-018")
def stream_usage_counts_every_choice(plain, streamed):
    """With n > 1 the usage chunk of a stream totals every choice, as the plain answer's
    usage does: where every choice of both answers was cut by the token limit, each
    choice generated exactly the limit, so both report the same completion_tokens."""
    n = req(plain).get("n")
    if not (is_int(n) and n > 1):
        raise NotJudged("n > 1 was not requested")
    a, b = _plain_usage(plain), _stream_usage(streamed)
    if a is None or b is None or not (is_int(a.get("completion_tokens")) and is_int(b.get("completion_tokens"))):
        raise NotJudged("one of the two answers has no integer usage.completion_tokens")
    from .stream import _assembled

    streamed_choices = [
        {"finish_reason": c.finish_reasons[-1][1] if c.finish_reasons else None}
        for c in _assembled(streamed).choices.values()
    ]
    if not (_all_cut(plain.json.get("choices") or [], n) and _all_cut(streamed_choices, n)):
        raise NotJudged("not every choice of both answers was cut by the token limit")
    if b["completion_tokens"] != a["completion_tokens"]:
        raise Violation(
            "STREAM-018",
            f"the stream's usage to count all {n} choices, as the plain answer's does "
            f"(completion_tokens {a['completion_tokens']})",
            str(b["completion_tokens"]),
            "usage/completion_tokens",
            streamed,
        )
