"""Streamed answers: framing, chunk envelope, per-choice order, usage chunk, tool-call fragments."""
from __future__ import annotations

from .. import schemas
from ..assemble import assemble
from ..violations import Violation, short
from . import check, generic_pointer, ok_stream, req, valid_request
from .response import choice_indexes, usage_violations


def _assembled(ex):
    # Cached on the exchange: several checks and the tests read the same assembly.
    a = getattr(ex, "_assembled", None)
    if a is None:
        a = assemble(ex.chunks)
        ex._assembled = a
    return a


@check("STREAM-001", "STREAM-002", "STREAM-003", "STREAM-016", applies=ok_stream)
def framing(ex):
    for fault in ex.sse.faults:
        yield Violation(fault.rule, _FRAMING_EXPECTED[fault.kind], fault.detail, f"sse/line {fault.line}")
    if ex.truncated:
        yield Violation("STREAM-016", "a stream that ends with data: [DONE]", f"the suite stopped reading: {ex.truncated}", "sse")


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


@check("STREAM-001", "STREAM-004", "STREAM-005", "STREAM-009", "STREAM-010", "STREAM-014", applies=ok_stream)
def chunk_schema(ex):
    reported = set()
    for pos, chunk in enumerate(ex.chunks):
        for err in schemas.errors("chunk", chunk):
            # One report per rule and place across chunks: 300 identical faults say no more than one.
            key = (err.rule, generic_pointer(err.pointer))
            if key in reported:
                continue
            reported.add(key)
            yield Violation(err.rule, "every chunk valid per the chunk schema", f"chunk {pos}: {err.message}", f"chunk[{pos}]{err.pointer}")


@check("STREAM-006", "STREAM-007", "STREAM-008", applies=ok_stream)
def same_envelope(ex):
    a = _assembled(ex)
    for rule, name, values in (("STREAM-006", "id", a.ids), ("STREAM-007", "created", a.createds),
                               ("STREAM-008", "model", a.models), ("STREAM-008", "system_fingerprint", a.fingerprints)):
        distinct = []
        for v in values:
            if v not in distinct:
                distinct.append(v)
        if len(distinct) > 1:
            yield Violation(rule, f"one {name} across all chunks", f"{len(distinct)} values: {short(distinct[:4])}", f"chunks/{name}")


@check("STREAM-011", "STREAM-012", "STREAM-013", "STREAM-020", "STREAM-021", "RESP-009", "PARAM-008", applies=ok_stream)
def per_choice_order(ex):
    a = _assembled(ex)
    chunks = ex.chunks
    if not a.order:
        if chunks:
            yield Violation("STREAM-011", "at least one choice in the stream", "no chunk carried a choice", "chunks")
        return
    for idx in a.order:
        c = a.choices[idx]
        if not c.first_delta_has_role or c.role != "assistant":
            yield Violation("STREAM-012", 'the first delta of each choice to carry role "assistant"',
                            f"choice {idx}: first delta role {c.role!r}" if c.first_delta_has_role else f"choice {idx}: no role in its first delta",
                            f"chunk[{c.first_chunk}]/choices/{idx}/delta")
        if c.roles_seen > 1:
            yield Violation("STREAM-013", "delta.role only in the first delta of a choice", f"choice {idx}: role in {c.roles_seen} deltas", f"choices/{idx}/delta/role")
        if not c.finish_reasons:
            yield Violation("STREAM-011", "exactly one non-null finish_reason per choice", f"choice {idx}: none", f"choices/{idx}/finish_reason")
        elif len(c.finish_reasons) > 1:
            yield Violation("STREAM-011", "exactly one non-null finish_reason per choice",
                            f"choice {idx}: {len(c.finish_reasons)} ({short([v for _, v in c.finish_reasons])})", f"choices/{idx}/finish_reason")
        elif c.finish_reasons[0][0] != c.last_chunk or c.deltas_after_finish:
            yield Violation("STREAM-011", "the finish_reason in the last chunk of its choice, nothing after it",
                            f"choice {idx}: finished at chunk {c.finish_reasons[0][0]}, last delta at chunk {c.last_chunk}", f"choices/{idx}")
    if valid_request(ex):
        yield from choice_indexes([{"index": i} for i in a.order], req(ex), "stream")
    ints = [i for i in a.order if isinstance(i, int)]
    if ints and (ints != list(range(len(ints))) or a.order[0] != 0):
        yield Violation("STREAM-021", "choice indexes first appearing in order 0, 1, 2…", f"order {a.order}", "chunks/choices/index")


@check("STREAM-017", "STREAM-018", applies=ok_stream)
def usage_chunk(ex):
    a = _assembled(ex)
    opts = req(ex).get("stream_options")
    wants = isinstance(opts, dict) and opts.get("include_usage") is True
    chunks = ex.chunks
    if not wants:
        if a.usage_chunks:
            pos = a.usage_chunks[0][0]
            yield Violation("STREAM-017", "no usage without stream_options.include_usage", f"usage on chunk {pos}: {short(a.usage_chunks[0][1])}", f"chunk[{pos}]/usage")
        return
    if not chunks:
        return
    last = chunks[-1]
    if not a.usage_chunks:
        yield Violation("STREAM-018", "a final chunk with usage (include_usage: true)", "no chunk carried usage", "chunks/usage")
        return
    if last.get("choices") != [] or last.get("usage") is None:
        yield Violation("STREAM-018", "the last chunk before [DONE] to have choices: [] and usage",
                        f"last chunk choices={short(last.get('choices'), 60)} usage={short(last.get('usage'), 60)}", f"chunk[{len(chunks) - 1}]")
    others = [pos for pos, _ in a.usage_chunks if pos != len(chunks) - 1]
    if others:
        yield Violation("STREAM-018", "usage null or absent on every chunk but the last", f"usage on chunks {others[:5]}", "chunks/usage")
    yield from usage_violations(a.usage_chunks[-1][1], f"chunk[{a.usage_chunks[-1][0]}]/usage", True,
                                any((c.text or c.tool_calls) for c in a.choices.values()))


@check("TOOL-019", "TOOL-020", "TOOL-022", applies=ok_stream)
def tool_fragments(ex):
    a = _assembled(ex)
    for idx in a.order:
        c = a.choices[idx]
        order = c.tool_call_order
        for k in order:
            t = c.tool_calls[k]
            if isinstance(k, tuple) and k and k[0] == "missing-index":
                yield Violation("TOOL-019", "an integer index on every delta.tool_calls item", f"a fragment without index in chunk {k[1]}", f"chunk[{k[1]}]/choices/{idx}/delta/tool_calls")
                continue
            if not t.first_has_id_and_name:
                yield Violation("TOOL-020", "id, type and function.name in the first fragment of each tool call",
                                f"choice {idx} call {k}: first fragment lacks {'id' if not t.id else 'function.name'}", f"chunk[{t.first_chunk}]")
            if t.ids_seen > 1 or t.names_seen > 1:
                yield Violation("TOOL-020", "id and function.name exactly once per tool call (clients concatenate repeats)",
                                f"choice {idx} call {k}: id in {t.ids_seen} fragments, name in {t.names_seen}", f"choices/{idx}/tool_calls/{k}")
        ints = [k for k in order if isinstance(k, int) and not isinstance(k, bool)]
        if ints and ints != list(range(len(ints))):
            yield Violation("TOOL-022", "tool-call indexes 0, 1, 2… in order of first appearance", f"choice {idx}: {ints}", f"choices/{idx}/tool_calls")


@check("PARAM-019", applies=lambda ex: ok_stream(ex) and req(ex).get("logprobs") is True and valid_request(ex))
def stream_logprobs(ex):
    a = _assembled(ex)
    for idx in a.order:
        c = a.choices[idx]
        text = c.text or ""
        if not text:
            continue
        if not c.saw_logprobs:
            yield Violation("PARAM-019", "logprobs.content on the content chunks (logprobs: true)", f"choice {idx}: no logprobs in any chunk", f"choices/{idx}/logprobs")
            continue
        joined = "".join(e.get("token", "") for e in c.logprobs_content if isinstance(e.get("token"), str))
        if joined != text:
            yield Violation("PARAM-019", "the logprobs tokens joined == the streamed content", f"tokens {short(joined, 60)} vs content {short(text, 60)}", f"choices/{idx}/logprobs")
