"""Streaming (STREAM): SSE framing, chunk envelope, per-choice order, usage, assembly."""
import pytest

from chatconform import expect, probes
from chatconform.assemble import assemble
from chatconform.violations import Violation, short

pytestmark = [pytest.mark.area("stream"), pytest.mark.needs("streaming")]


@pytest.fixture
def streamed(client, model):
    return expect.ok(client.chat(probes.stream(model), label="P-STREAM"), "STREAM-001")


def _require_stream(ex, rule):
    if not ex.is_stream:
        raise Violation(rule, "an SSE event stream for stream: true", f"{ex.headers.get('content-type')!r}: {short(ex.body[:80].decode('utf-8', 'replace'))}", "body", ex)


@pytest.mark.rules("HTTP-005", "STREAM-001", "STREAM-002", "STREAM-003")
def test_sse_framing(streamed):
    """HTTP-005 media type; STREAM-001/002/003: each event one `data: <json>` line ended by a blank line."""
    _require_stream(streamed, "STREAM-001")
    if not streamed.chunks:
        raise Violation("STREAM-001", "at least one JSON chunk", "none", "sse", streamed)


@pytest.mark.rules("STREAM-004", "STREAM-005", "STREAM-009", "STREAM-010", "STREAM-014")
def test_chunk_envelope(streamed):
    """Every chunk: object chat.completion.chunk, id/created/model/choices, choice keys, finish_reason null or enum."""
    _require_stream(streamed, "STREAM-004")
    for pos, chunk in enumerate(streamed.chunks):
        expect.field(streamed, "STREAM-004", chunk.get("object"), '"chat.completion.chunk"',
                     chunk.get("object") == "chat.completion.chunk", f"chunk[{pos}]/object")
        for key in ("id", "object", "created", "model", "choices"):
            expect.field(streamed, "STREAM-005", sorted(chunk), f"key {key!r}", key in chunk, f"chunk[{pos}]/{key}")
        for ch in chunk.get("choices") or []:
            for key in ("index", "delta", "finish_reason"):
                expect.field(streamed, "STREAM-009", sorted(ch) if isinstance(ch, dict) else ch, f"key {key!r}",
                             isinstance(ch, dict) and key in ch, f"chunk[{pos}]/choices/{key}")
            fr = ch.get("finish_reason")
            expect.field(streamed, "STREAM-010", fr, "null or one of stop|length|tool_calls|content_filter|function_call",
                         fr is None or fr in ("stop", "length", "tool_calls", "content_filter", "function_call"),
                         f"chunk[{pos}]/choices/{ch.get('index')}/finish_reason")


@pytest.mark.rules("STREAM-006", "STREAM-007", "STREAM-008")
def test_one_id_created_model(streamed):
    """STREAM-006/007/008: one id, one created, one model across the chunks of a stream."""
    _require_stream(streamed, "STREAM-006")
    a = assemble(streamed.chunks)
    for rule, name, values in (("STREAM-006", "id", a.ids), ("STREAM-007", "created", a.createds), ("STREAM-008", "model", a.models)):
        distinct = list(dict.fromkeys(map(repr, values)))
        expect.field(streamed, rule, distinct, f"one {name}", len(distinct) == 1, f"chunks/{name}")


@pytest.mark.rules("STREAM-011", "STREAM-012", "STREAM-013")
def test_choice_lifecycle(streamed):
    """STREAM-012 role first; STREAM-013 role once; STREAM-011 exactly one finish_reason, last."""
    _require_stream(streamed, "STREAM-011")
    a = assemble(streamed.chunks)
    expect.field(streamed, "STREAM-011", a.order, "choice 0 in the stream", a.order == [0], "chunks/choices")
    c = a.choices[0]
    expect.field(streamed, "STREAM-012", c.role, '"assistant" in the first delta', c.first_delta_has_role and c.role == "assistant", "choices/0/delta/role")
    expect.field(streamed, "STREAM-013", c.roles_seen, "role in one delta", c.roles_seen == 1, "choices/0/delta/role")
    expect.field(streamed, "STREAM-011", [v for _, v in c.finish_reasons], "exactly one finish_reason", len(c.finish_reasons) == 1, "choices/0/finish_reason")


@pytest.mark.rules("STREAM-016")
def test_done_terminates(streamed):
    """STREAM-016: the stream ends with data: [DONE] and nothing follows."""
    _require_stream(streamed, "STREAM-016")
    sse = streamed.sse
    expect.field(streamed, "STREAM-016", sse.done, "a data: [DONE] event", sse.done, "sse")
    last = sse.events[-1] if sse.events else None
    expect.field(streamed, "STREAM-016", last.data if last else None, "[DONE] as the last event", bool(last and last.is_done), "sse/last")


@pytest.mark.rules("STREAM-017")
def test_no_usage_unless_asked(streamed):
    """STREAM-017: without stream_options.include_usage no chunk carries a non-null usage."""
    _require_stream(streamed, "STREAM-017")
    with_usage = [i for i, c in enumerate(streamed.chunks) if c.get("usage") is not None]
    expect.field(streamed, "STREAM-017", with_usage, "no chunk with usage", not with_usage, "chunks/usage")


@pytest.mark.rules("STREAM-018")
@pytest.mark.needs("stream_usage")
def test_include_usage_final_chunk(client, model):
    """STREAM-018: include_usage adds one last chunk with choices [] and usage; usage null/absent elsewhere."""
    ex = expect.ok(client.chat(probes.stream_usage(model), label="P-USAGE"), "STREAM-018")
    _require_stream(ex, "STREAM-018")
    chunks = ex.chunks
    expect.field(ex, "STREAM-018", len(chunks), "at least two chunks", len(chunks) >= 2, "chunks")
    last = chunks[-1]
    expect.field(ex, "STREAM-018", last.get("choices"), "choices: [] on the usage chunk", last.get("choices") == [], f"chunk[{len(chunks) - 1}]/choices")
    expect.field(ex, "STREAM-018", last.get("usage"), "a usage object", isinstance(last.get("usage"), dict), f"chunk[{len(chunks) - 1}]/usage")
    others = [i for i, c in enumerate(chunks[:-1]) if c.get("usage") is not None]
    expect.field(ex, "STREAM-018", others, "usage null or absent before the last chunk", not others, "chunks/usage")


@pytest.mark.rules("STREAM-019")
def test_stream_options_without_stream(client, model, recorder):
    """STREAM-019: stream_options without stream: true is refused with 400 (strict) or ignored (tolerated dialect)."""
    ex = client.chat(probes.minimal(model, stream_options={"include_usage": True}), label="stream_options, no stream")
    if ex.status == 200:
        recorder.note("STREAM-019", "stream_options without stream was ignored (tolerant dialect)")
        if ex.is_stream:
            raise Violation("STREAM-019", "a JSON answer or a 400 (stream was not requested)", "an event stream", "body", ex)
        return
    expect.rejected(ex, "STREAM-019", "stream_options without stream", param="stream_options", recorder=recorder)


@pytest.mark.rules("STREAM-015")
def test_stream_assembles_like_non_stream(client, model):
    """STREAM-015: the assembled stream has the structure of the non-stream answer (same seed, temperature 0)."""
    body = probes.minimal(model, temperature=0, seed=7)
    plain = expect.ok(client.chat(body, label="non-stream"), "REQ-001")
    streamed = expect.ok(client.chat({**body, "stream": True}, label="stream"), "STREAM-015")
    _require_stream(streamed, "STREAM-015")
    got = assemble(streamed.chunks).as_response()
    want = plain.json
    shape = lambda b: [(c.get("index"), sorted(k for k in ("content", "tool_calls") if (c.get("message") or {}).get(k) is not None))
                       for c in (b.get("choices") or [])]
    expect.field(streamed, "STREAM-015", shape(got), f"the non-stream structure {shape(want)}", shape(got) == shape(want), "choices")


@pytest.mark.rules("STREAM-020", "STREAM-021")
@pytest.mark.needs("n")
def test_n_streams_by_index(client, model):
    """STREAM-020/021: with n=2 each index 0..1 opens with role and finishes; indexes first appear 0, 1."""
    ex = expect.ok(client.chat(probes.stream(model, n=2), label="P-STREAM n=2"), "STREAM-020")
    _require_stream(ex, "STREAM-020")
    a = assemble(ex.chunks)
    expect.field(ex, "STREAM-020", sorted(map(repr, a.order)), "indexes 0 and 1", sorted(a.order, key=repr) == [0, 1], "chunks/choices/index")
    for idx in (0, 1):
        c = a.choices[idx]
        expect.field(ex, "STREAM-020", c.role, "a role delta and a finish_reason for each index",
                     c.role == "assistant" and len(c.finish_reasons) == 1, f"choices/{idx}")
    expect.field(ex, "STREAM-021", a.order, "first appearance in order 0, 1", a.order == [0, 1], "chunks/choices/index")


@pytest.mark.rules("STREAM-022")
def test_extension_fields_tolerated(streamed, recorder):
    """STREAM-022: obfuscation, service_tier, system_fingerprint and extension keys may appear; reported."""
    _require_stream(streamed, "STREAM-022")
    known = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "obfuscation", "moderation"}
    extra = sorted({k for c in streamed.chunks for k in c} - known)
    if extra:
        recorder.note("STREAM-022", f"extension keys in chunks: {', '.join(extra)}")


@pytest.mark.rules("STREAM-023")
def test_invalid_stream_request_is_json_error(client, model, recorder):
    """STREAM-023: a request refused before generation gets the JSON error, not a 200 event stream."""
    ex = client.chat(probes.stream(model, temperature=5), label="stream + temperature 5")
    expect.rejected(ex, "STREAM-023", "temperature 5 with stream: true", param="temperature", recorder=recorder)
    expect.field(ex, "STREAM-023", ex.headers.get("content-type"), "application/json", ex.media_type == "application/json", "headers/content-type")


@pytest.mark.rules("HTTP-006")
def test_accept_json_still_streams(client, model):
    """HTTP-006: stream: true is honoured whatever Accept says (the SDK sends Accept: application/json)."""
    ex = expect.ok(client.chat(probes.stream(model), headers={"Accept": "application/json"}, label="Accept json"), "HTTP-006")
    if not ex.is_stream:
        raise Violation("HTTP-006", "an event stream despite Accept: application/json", repr(ex.headers.get("content-type")), "headers/content-type", ex)


@pytest.mark.rules("HTTP-009")
def test_stream_is_flushed(client, model, recorder):
    """HTTP-009: a stream is sent as it is generated: the bytes arrive over time, not all at once."""
    ex = expect.ok(client.chat(probes.long(model, stream=True, max_tokens=48), label="P-LONG stream"), "HTTP-009")
    _require_stream(ex, "HTTP-009")
    times = [e.arrival for e in ex.sse.events]
    first, last = min(times, default=0.0), max(times, default=0.0)
    # On loopback a fast server's events may share one read, so only a slow answer
    # can show buffering: one that took over a second and arrived all at the very end.
    if ex.elapsed > 1.0 and len(times) >= 4 and first > 0.8 * ex.elapsed and (last - first) < 0.05 * ex.elapsed:
        raise Violation("HTTP-009", "events flushed as generated",
                        f"all {len(times)} events arrived within {last - first:.3f}s at the end of a {ex.elapsed:.2f}s answer", "sse", ex)
    recorder.note("HTTP-009", f"{len(times)} events; first after {first:.3f}s, last after {last:.3f}s")
