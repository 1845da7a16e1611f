"""Streamed answers: framing, chunk envelope, per-choice order, usage chunk, tool-call
fragments, flushing, and the stream-specific handling of a request's options."""

from __future__ import annotations

from .. import schemas
from ..assemble import assemble
from ..violations import Note, NotJudged, Violation, short
from . import check, generic_pointer, is_chat, ok_stream, relation, req


def ended_by_error(ex) -> bool:
    """The stream's last chunk is an error event: STREAM-024 says the stream then ends, so
    [DONE], a finish_reason per choice and the choices still due are not owed after it
    (the SDK raises APIError on the event and reads no further)."""
    return bool(ex.chunks) and "error" in ex.chunks[-1]


def _assembled(ex):
    # Cached on the exchange: several checks and the tests read the same assembly.
    a = getattr(ex, "_assembled", None)
    if a is None:
        # An error event (STREAM-024) is not a chunk: the SDK raises on it, it assembles nothing.
        a = assemble([c for c in ex.chunks if "error" not in c])
        ex._assembled = a
    return a


# HTTP-004 too: an event stream that is not UTF-8 (sse.py names that fault HTTP-004).
@check("STREAM-001", "STREAM-002", "STREAM-003", "STREAM-016", "HTTP-004", applies=ok_stream)
def framing(ex):
    for fault in ex.sse.faults:
        if fault.kind == "no-done" and ended_by_error(ex):
            continue  # STREAM-024: the stream ends with its error event
        yield Violation(fault.rule, _FRAMING_EXPECTED[fault.kind], fault.detail, f"sse/line {fault.line}")
    if ex.truncated:
        yield Violation(
            "STREAM-016", "a stream that ends with data: [DONE]", f"the suite stopped reading: {ex.truncated}", "sse"
        )


_FRAMING_EXPECTED = {
    "unterminated-event": "every event ended by a blank line",
    "merged-events": "one chunk per event, events separated by a blank line",
    "no-space-after-colon": 'data lines written as "data: <json>"',
    "multi-line-data": "one data line per event",
    "non-json-data": "event data that is a JSON chunk or [DONE]",
    "not-an-object": "event data that is a JSON object",
    "data-after-done": "nothing after data: [DONE]",
    "no-done": "the stream to end with data: [DONE]",
    "invalid-utf8": "a UTF-8 event stream",
    "empty-stream": "at least one chunk",
}


CHUNK_RULES = schemas.rules_of("chunk")


@check(*CHUNK_RULES, applies=ok_stream)
def chunk_schema(ex):
    """Every chunk against schemas/chunk.schema.json; each error names its rule (x-rule)."""
    reported = set()
    for pos, chunk in enumerate(ex.chunks):
        if "error" in chunk:
            continue  # an error event mid-stream: STREAM-024's business
        for err in schemas.errors("chunk", chunk):
            # One report per rule and place across chunks: 300 identical faults say no more than one.
            key = (err.rule, generic_pointer(err.pointer))
            if key in reported:
                continue
            reported.add(key)
            yield Violation(
                err.rule,
                "every chunk valid per the chunk schema",
                f"chunk {pos}: {err.message}",
                f"chunk[{pos}]{err.pointer}",
            )
    chunks = [c for c in ex.chunks if "error" not in c]
    yield NotJudged("no chunk has such a field", tuple(set(CHUNK_RULES) - schemas.exercised("chunk", chunks)))


@check("STREAM-006", "STREAM-007", "STREAM-008", applies=ok_stream)
def same_envelope(ex):
    a = _assembled(ex)
    # system_fingerprint "when sent": a chunk with null (or none) says nothing about it.
    fingerprints = [v for v in a.fingerprints if v is not None]
    for rule, name, values in (
        ("STREAM-006", "id", a.ids),
        ("STREAM-007", "created", a.createds),
        ("STREAM-008", "model", a.models),
        ("STREAM-008", "system_fingerprint", fingerprints),
    ):
        distinct = []
        for v in values:
            if v not in distinct:
                distinct.append(v)
        if len(distinct) > 1:
            yield Violation(
                rule,
                f"one {name} across all chunks",
                f"{len(distinct)} values: {short(distinct[:4])}",
                f"chunks/{name}",
            )


@check("STREAM-011", "STREAM-012", "STREAM-013", "STREAM-021", applies=ok_stream)
def per_choice_order(ex):
    a = _assembled(ex)
    chunks = [c for c in ex.chunks if "error" not in c]  # as assembled (STREAM-024 events aside)
    cut = ended_by_error(ex)  # an error ended the stream: the choices stop where it came
    if not a.order:
        if chunks and not cut:
            yield Violation("STREAM-011", "at least one choice in the stream", "no chunk carried a choice", "chunks")
        return
    for idx in a.order:
        c = a.choices[idx]
        if not c.first_delta_has_role or c.role != "assistant":
            yield Violation(
                "STREAM-012",
                'the first delta of each choice to carry role "assistant"',
                f"choice {idx}: first delta role {c.role!r}"
                if c.first_delta_has_role
                else f"choice {idx}: no role in its first delta",
                f"chunk[{c.first_chunk}]/choices/{idx}/delta",
            )
        if c.roles_seen > 1:
            yield Violation(
                "STREAM-013",
                "delta.role only in the first delta of a choice",
                f"choice {idx}: role in {c.roles_seen} deltas",
                f"choices/{idx}/delta/role",
            )
        if not c.finish_reasons and cut:
            yield NotJudged("the stream ended with an error event before this choice finished", ("STREAM-011",))
        elif not c.finish_reasons:
            yield Violation(
                "STREAM-011",
                "exactly one non-null finish_reason per choice",
                f"choice {idx}: none",
                f"choices/{idx}/finish_reason",
            )
        elif len(c.finish_reasons) > 1:
            yield Violation(
                "STREAM-011",
                "exactly one non-null finish_reason per choice",
                f"choice {idx}: {len(c.finish_reasons)} ({short([v for _, v in c.finish_reasons])})",
                f"choices/{idx}/finish_reason",
            )
        elif c.finish_reasons[0][0] != c.last_chunk or c.deltas_after_finish:
            yield Violation(
                "STREAM-011",
                "the finish_reason in the last chunk of its choice, nothing after it",
                f"choice {idx}: finished at chunk {c.finish_reasons[0][0]}, last delta at chunk {c.last_chunk}",
                f"choices/{idx}",
            )
    ints = [i for i in a.order if isinstance(i, int)]
    if ints and (ints != list(range(len(ints))) or a.order[0] != 0):
        yield Violation(
            "STREAM-021", "choice indexes first appearing in order 0, 1, 2…", f"order {a.order}", "chunks/choices/index"
        )


@check("STREAM-017", "STREAM-018", applies=ok_stream)
def usage_chunk(ex):
    a = _assembled(ex)
    opts = req(ex).get("stream_options")
    wants = isinstance(opts, dict) and opts.get("include_usage") is True
    chunks = [c for c in ex.chunks if "error" not in c]  # as assembled (STREAM-024 events aside)
    yield NotJudged(
        "include_usage was not asked" if not wants else "include_usage was asked",
        ("STREAM-018",) if not wants else ("STREAM-017",),
    )
    if not wants:
        if a.usage_chunks:
            pos = a.usage_chunks[0][0]
            yield Violation(
                "STREAM-017",
                "no usage without stream_options.include_usage",
                f"usage on chunk {pos}: {short(a.usage_chunks[0][1])}",
                f"chunk[{pos}]/usage",
            )
        return
    if not chunks:
        return
    last = chunks[-1]
    if not a.usage_chunks:
        yield Violation(
            "STREAM-018", "a final chunk with usage (include_usage: true)", "no chunk carried usage", "chunks/usage"
        )
        return
    if last.get("choices") != [] or last.get("usage") is None:
        yield Violation(
            "STREAM-018",
            "the last chunk before [DONE] to have choices: [] and usage",
            f"last chunk choices={short(last.get('choices'), 60)} usage={short(last.get('usage'), 60)}",
            f"chunk[{len(chunks) - 1}]",
        )
    others = [pos for pos, _ in a.usage_chunks if pos != len(chunks) - 1]
    if others:
        yield Violation(
            "STREAM-018",
            "usage null or absent on every chunk but the last",
            f"usage on chunks {others[:5]}",
            "chunks/usage",
        )


@check("STREAM-024", applies=ok_stream)
def error_event(ex):
    """An error after the stream began: one data event with an `error` object (message,
    type, param, code), and nothing after it but [DONE]."""
    events = [(pos, c) for pos, c in enumerate(ex.chunks) if "error" in c]
    if not events:
        raise NotJudged("no error event in the stream")
    pos, chunk = events[0]
    err = chunk["error"]
    if not isinstance(err, dict) or not all(k in err for k in ("message", "type", "param", "code")):
        yield Violation(
            "STREAM-024",
            'an error event {"error": {message, type, param, code}}',
            short(chunk, 120),
            f"chunk[{pos}]/error",
        )
    if pos != len(ex.chunks) - 1:
        yield Violation(
            "STREAM-024",
            "the stream to end after its error event",
            f"{len(ex.chunks) - 1 - pos} chunk(s) followed it",
            f"chunk[{pos}]",
        )


@check(
    "STREAM-019",
    applies=lambda ex: (
        is_chat(ex)
        and ex.status not in (None, 429, 503)
        and req(ex).get("stream_options") is not None  # null means not set (HTTP-007's business)
        and req(ex).get("stream") is not True
        and schemas.is_valid("request", {**req(ex), "stream": True})
    ),
)
def stream_options_without_stream(ex):
    """Refused with 400 (api.openai.com), or ignored (a tolerated dialect): never a stream
    nobody asked for, never a server error."""
    if ex.status == 200:
        if ex.is_stream:
            raise Violation(
                "STREAM-019", "a JSON answer or a 400 (stream was not requested)", "an event stream", "body"
            )
        yield Note("STREAM-019", "stream_options without stream was ignored (a tolerated dialect)")
    elif not 400 <= ex.status < 500:
        raise Violation("STREAM-019", "HTTP 400 (or the options ignored)", f"HTTP {ex.status}", "status")
    elif ex.status != 400:
        raise Violation("STREAM-019", "HTTP 400 refusing stream_options without stream", f"HTTP {ex.status}", "status")


@check(
    "HTTP-006",
    applies=lambda ex: (
        is_chat(ex)
        and ex.wants_stream
        and ex.status == 200
        and str(ex.request_headers.get("Accept", "")).startswith("application/json")
    ),
)
def stream_despite_accept_json(ex):
    """The SDK sends Accept: application/json on streaming requests too."""
    if not ex.is_stream:
        raise Violation(
            "HTTP-006",
            "an event stream despite Accept: application/json",
            repr(ex.headers.get("content-type")),
            "headers/content-type",
        )


FLUSH_MIN_EVENTS = 8


@check("HTTP-009", applies=lambda ex: ok_stream(ex) and not ex.truncated)
def flushed(ex):
    """Buffered to the end, a stream reaches the client in one or two reads however long
    the answer took; flushed as generated, its events arrive over several reads.  Counting
    distinct arrival times, not their spread, keeps a slow first token followed by fast
    decoding from looking like buffering."""
    times = [e.arrival for e in ex.sse.events]
    if len(times) < FLUSH_MIN_EVENTS or ex.elapsed < 1.0:
        raise NotJudged(f"{len(times)} events in {ex.elapsed:.2f}s: too short an answer to tell buffering apart")
    reads = len(set(times))
    if reads <= 2:
        raise Violation(
            "HTTP-009",
            "events flushed as generated (arriving over several reads)",
            f"all {len(times)} events arrived in {reads} read(s) after {max(times):.2f}s",
            "sse",
        )
    yield Note(
        "HTTP-009",
        f"{len(times)} events over {reads} reads; first after {min(times):.3f}s, last after {max(times):.3f}s",
    )


@relation("STREAM-015")
def stream_assembles_like_plain(plain, streamed):
    """The assembled stream has the structure of the plain answer to the same
    deterministic request: the same choices, each with content or tool calls alike."""
    if plain.status != 200 or not isinstance(plain.json, dict) or not streamed.is_stream:
        raise NotJudged("one of the two answers is missing")
    got = _assembled(streamed).as_response()
    # What a choice carries, not how it spells its absence: tool_calls [] (vLLM) or null is none.
    shape = lambda b: [
        (c.get("index"), sorted(k for k in ("content", "tool_calls") if (c.get("message") or {}).get(k)))
        for c in (b.get("choices") or [])
        if isinstance(c, dict)
    ]
    if shape(got) != shape(plain.json):
        raise Violation("STREAM-015", f"the non-stream structure {shape(plain.json)}", str(shape(got)), "choices")
