"""Response envelope (RESP): the non-streaming 200 body.

Most RESP rules are also enforced on every answer of every test by the observer;
the tests here are the one place each rule is asked about on purpose.
"""
import pytest

from chatconform import expect, probes
from chatconform.violations import Violation, short

pytestmark = pytest.mark.area("response")


@pytest.fixture
def answer(client, model):
    return expect.ok(client.chat(probes.minimal(model), label="P-MIN"), "REQ-001")


@pytest.mark.rules("REQ-001", "RESP-001")
def test_minimal_request_is_answered(client, model):
    """REQ-001: `model` and `messages` alone make a valid request; RESP-001: the body is a valid response."""
    ex = expect.ok(client.chat(probes.bare(model), label="P-MIN bare"), "REQ-001")
    if not isinstance(ex.json, dict):
        raise Violation("RESP-001", "a JSON object body", short(ex.body[:80].decode("utf-8", "replace")), "body", ex)


@pytest.mark.rules("RESP-002", "RESP-003", "RESP-004")
def test_top_level_fields(answer):
    """RESP-002/003/004: id, object, created, model, choices present; object is chat.completion; id a string."""
    body = answer.json
    for key in ("id", "object", "created", "model", "choices"):
        expect.field(answer, "RESP-002", sorted(body), f"key {key!r} present", key in body, f"/{key}")
    expect.field(answer, "RESP-003", body.get("object"), '"chat.completion"', body.get("object") == "chat.completion", "/object")
    expect.field(answer, "RESP-004", body.get("id"), "a string", isinstance(body.get("id"), str), "/id")


@pytest.mark.rules("RESP-005")
def test_ids_are_unique(client, model):
    """RESP-005: id is non-empty and unique per completion."""
    a = expect.ok(client.chat(probes.minimal(model), label="first"), "REQ-001").json
    b = expect.ok(client.chat(probes.minimal(model), label="second"), "REQ-001").json
    ida, idb = a.get("id"), b.get("id")
    if not ida or ida == idb:
        raise Violation("RESP-005", "two completions with different non-empty ids", f"{ida!r} and {idb!r}", "/id")


@pytest.mark.rules("RESP-006")
def test_created_is_unix_seconds(answer):
    """RESP-006: created is an integer Unix time in seconds."""
    c = answer.json.get("created")
    expect.field(answer, "RESP-006", c, "an integer (Unix seconds)", isinstance(c, int) and not isinstance(c, bool), "/created")


@pytest.mark.rules("RESP-007")
def test_model_is_named(answer, recorder, model):
    """RESP-007: model is a non-empty string naming the model used (a resolved version is fine)."""
    m = answer.json.get("model")
    expect.field(answer, "RESP-007", m, "a non-empty string", isinstance(m, str) and bool(m), "/model")
    if m != model:
        recorder.note("RESP-007", f"requested {model!r}, answered by {m!r}")


@pytest.mark.rules("RESP-008", "RESP-009")
def test_choice_fields(answer):
    """RESP-008: each choice has index, message, finish_reason and logprobs; RESP-009: exactly one choice, index 0."""
    choices = answer.json.get("choices")
    expect.field(answer, "RESP-009", choices, "a non-empty choices array", isinstance(choices, list) and bool(choices), "/choices")
    for i, ch in enumerate(choices):
        for key in ("index", "message", "finish_reason", "logprobs"):
            expect.field(answer, "RESP-008", sorted(ch) if isinstance(ch, dict) else ch, f"key {key!r} present",
                         isinstance(ch, dict) and key in ch, f"/choices/{i}/{key}")


@pytest.mark.rules("RESP-010", "RESP-011", "RESP-012")
def test_message_fields(answer):
    """RESP-010/011/012: role assistant; content present (string or null); refusal present (string or null)."""
    for i, ch in enumerate(answer.json.get("choices") or []):
        msg = ch.get("message") if isinstance(ch, dict) else None
        expect.field(answer, "RESP-010", msg, "a message object", isinstance(msg, dict), f"/choices/{i}/message")
        expect.field(answer, "RESP-010", msg.get("role"), '"assistant"', msg.get("role") == "assistant", f"/choices/{i}/message/role")
        expect.field(answer, "RESP-011", msg.get("content", "(absent)"), "content present, a string or null",
                     "content" in msg and (msg["content"] is None or isinstance(msg["content"], str)), f"/choices/{i}/message/content")
        expect.field(answer, "RESP-012", msg.get("refusal", "(absent)"), "refusal present, a string or null",
                     "refusal" in msg and (msg["refusal"] is None or isinstance(msg["refusal"], str)), f"/choices/{i}/message/refusal")


FINISH = ("stop", "length", "tool_calls", "content_filter", "function_call")


@pytest.mark.rules("RESP-013", "RESP-014")
def test_finish_reason(answer, recorder):
    """RESP-013: finish_reason is one of the enum values, never null or ""; RESP-014: stop or length for a plain answer."""
    for i, ch in enumerate(answer.json.get("choices") or []):
        fr = ch.get("finish_reason")
        expect.field(answer, "RESP-013", fr, " | ".join(FINISH), fr in FINISH, f"/choices/{i}/finish_reason")
        # A plain request (max_tokens 16, no tools) ends naturally or by the limit.
        expect.field(answer, "RESP-014", fr, '"stop" (or "length" at the token limit)', fr in ("stop", "length"), f"/choices/{i}/finish_reason")


@pytest.mark.rules("RESP-015", "RESP-016", "RESP-017", "RESP-018")
def test_usage(answer):
    """RESP-015: usage present; RESP-016: integer counts; RESP-017: total = prompt + completion; RESP-018: sane counts."""
    usage = answer.json.get("usage")
    expect.field(answer, "RESP-015", usage, "a usage object", isinstance(usage, dict), "/usage")
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        v = usage.get(k)
        expect.field(answer, "RESP-016", v, f"{k} an integer", isinstance(v, int) and not isinstance(v, bool), f"/usage/{k}")
    # RESP-017/018 arithmetic is enforced by the observer on this same answer.


@pytest.mark.rules("RESP-019", "RESP-020", "RESP-021")
def test_optional_fields_and_extensions(answer, recorder):
    """RESP-019/020: optional fields have the spec's types (schema); RESP-021: unknown fields are extensions, reported."""
    known_top = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "metadata", "moderation"}
    extra = sorted(set(answer.json) - known_top)
    if extra:
        recorder.note("RESP-021", f"extension fields at the top level: {', '.join(extra)}")
    for i, ch in enumerate(answer.json.get("choices") or []):
        msg = ch.get("message") or {}
        known = {"role", "content", "refusal", "tool_calls", "annotations", "audio", "function_call"}
        extra = sorted(set(msg) - known)
        if extra:
            recorder.note("RESP-021", f"extension fields in choices[{i}].message: {', '.join(extra)}")
    # The types of every optional field are enforced by the response schema on this
    # same answer (observer), attributed to RESP-019/RESP-020.
