"""Streaming (STREAM): SSE framing, chunk envelope, per-choice order, usage, assembly.

Each test provokes one streaming behaviour and names the rules it exercises; the
stream checks (chatconform/checks/stream.py) judge every stream any test receives, and
a rule passes only where a check judged it.  `accept=` names the rule that makes the
request valid: if the server refuses it, that rule fails and the test's other rules
are "not judged".
"""

import pytest

from chatconform import probes

pytestmark = [pytest.mark.area("stream"), pytest.mark.needs("streaming")]


@pytest.mark.smoke
@pytest.mark.rules("HTTP-005", "STREAM-001", "STREAM-002", "STREAM-003", "STREAM-016")
def test_sse_framing(client, model):
    """HTTP-005 media type; STREAM-001/002/003: each event one `data: <json>` line ended by a
    blank line; STREAM-016: the stream ends with data: [DONE] and nothing follows."""
    client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001")


@pytest.mark.rules("STREAM-004", "STREAM-005", "STREAM-009", "STREAM-010", "STREAM-014", "STREAM-022")
def test_chunk_envelope(client, model):
    """Every chunk: object chat.completion.chunk, id/created/model/choices, choice keys,
    finish_reason null or enum, delta field types; extension fields tolerated (STREAM-022)."""
    client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001")


@pytest.mark.rules("STREAM-006", "STREAM-007", "STREAM-008", "RESP-005", "RESP-006")
def test_one_id_created_model(client, model):
    """STREAM-006/007/008: one id, one created, one model (and fingerprint, when sent)
    across the chunks; RESP-005/006 hold for the stream's id and created too."""
    client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001")


@pytest.mark.rules("STREAM-011", "STREAM-012", "STREAM-013", "STREAM-021")
def test_choice_lifecycle(client, model):
    """STREAM-012 role first; STREAM-013 role once; STREAM-011 exactly one finish_reason,
    last; STREAM-021 the choice index starts at 0."""
    client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001")


@pytest.mark.rules("STREAM-017")
def test_no_usage_unless_asked(client, model):
    """STREAM-017: without stream_options.include_usage no chunk carries a non-null usage."""
    client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001")


@pytest.mark.rules("STREAM-018")
@pytest.mark.needs("stream_usage")
def test_include_usage_final_chunk(client, model):
    """STREAM-018: include_usage adds one last chunk with choices [] and usage; usage null or
    absent elsewhere."""
    client.chat(probes.stream_usage(model), label="P-USAGE", accept="STREAM-018")


@pytest.mark.rules("STREAM-019")
def test_stream_options_without_stream(client, model):
    """STREAM-019: stream_options without stream: true is refused with 400 (strict) or
    ignored (a tolerated dialect), never answered with a stream or a 5xx."""
    client.chat(probes.minimal(model, stream_options={"include_usage": True}), label="stream_options, no stream")


@pytest.mark.rules("STREAM-015")
def test_stream_assembles_like_non_stream(client, model, recorder):
    """STREAM-015: the assembled stream has the structure of the non-stream answer to the
    same deterministic request (seed, temperature 0)."""
    body = probes.minimal(model, temperature=0, seed=7)
    plain = client.chat(body, label="non-stream", accept="REQ-001")
    streamed = client.chat({**body, "stream": True}, label="stream", accept="STREAM-001")
    recorder.relate("stream_assembles_like_plain", plain, streamed)


@pytest.mark.rules("STREAM-020", "STREAM-021")
@pytest.mark.needs("n")
def test_n_streams_by_index(client, model):
    """STREAM-020/021: with n=2 each index 0..1 opens with its role and finishes; indexes
    first appear in order 0, 1."""
    client.chat(probes.stream(model, n=2), label="P-STREAM n=2", accept="PARAM-007")


@pytest.mark.rules("STREAM-023")
def test_invalid_stream_request_is_json_error(client, model):
    """STREAM-023: a request refused before generation gets the error status and the JSON
    envelope (ERR-001), not a 200 event stream."""
    client.chat(
        probes.stream(model, temperature=5), label="stream + temperature 5", refuse="STREAM-023", param="temperature"
    )


@pytest.mark.rules("HTTP-006")
def test_accept_json_still_streams(client, model):
    """HTTP-006: stream: true is honoured whatever Accept says (the SDK sends Accept:
    application/json)."""
    client.chat(probes.stream(model), headers={"Accept": "application/json"}, label="Accept json", accept="STREAM-001")


@pytest.mark.rules("HTTP-009")
def test_stream_is_flushed(client, model):
    """HTTP-009: a stream is sent as it is generated: its events arrive over several reads."""
    client.chat(probes.long(model, stream=True, limit=48), label="P-LONG stream", accept="STREAM-001")


@pytest.mark.rules("STREAM-024")
def test_error_after_stream_began(client, model):
    """STREAM-024: an error after streaming began is one data event with the error object,
    and the stream ends.  Nothing a client sends can make a conformant server fail
    mid-stream, so the rule is judged on whatever stream carries such an event."""
    client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001")
