"""Response envelope (RESP): the non-streaming 200 body.

Each test sends the minimal request (valid by REQ-001) and names the rules it asks
about; the response checks (chatconform/checks/response.py and the response schema)
judge every answer any test receives, and a rule passes only where a check judged it.
If the server refuses the request, REQ-001 fails and the test's other rules are
"not judged".
"""

import pytest

from chatconform import probes

pytestmark = pytest.mark.area("response")


def _minimal(client, model, label="P-MIN"):
    return client.chat(probes.minimal(model), label=label, accept="REQ-001")


@pytest.mark.rules("REQ-001", "RESP-001")
def test_minimal_request_is_answered(client, model):
    """REQ-001: `model` and `messages` alone make a valid request; RESP-001: the body is a valid response."""
    client.chat(probes.bare(model), label="P-MIN bare", accept="REQ-001")


@pytest.mark.smoke
@pytest.mark.rules("RESP-002", "RESP-003", "RESP-004")
def test_top_level_fields(client, model):
    """RESP-002/003/004: id, object, created, model, choices present; object is chat.completion; id a string."""
    _minimal(client, model)


@pytest.mark.rules("RESP-005")
def test_ids_are_unique(client, model, recorder):
    """RESP-005: id is non-empty and unique per completion."""
    first = _minimal(client, model, "first")
    second = _minimal(client, model, "second")
    recorder.relate("distinct_ids", first, second)


@pytest.mark.rules("RESP-006", "RESP-022")
def test_created_is_unix_seconds(client, model):
    """RESP-006: created is an integer Unix time in seconds; RESP-022: it is the time the
    completion was made (within an hour of when the answer arrived)."""
    _minimal(client, model)


@pytest.mark.rules("RESP-007")
def test_model_is_named(client, model):
    """RESP-007: model is a non-empty string naming the model used (a resolved version is fine, noted)."""
    _minimal(client, model)


@pytest.mark.rules("RESP-008", "RESP-009")
def test_choice_fields(client, model):
    """RESP-008: each choice has index, message, finish_reason and logprobs; RESP-009: exactly one choice, index 0."""
    _minimal(client, model)


@pytest.mark.rules("RESP-010", "RESP-011", "RESP-012")
def test_message_fields(client, model):
    """RESP-010/011/012: role assistant; content present (string or null); refusal present (string or null)."""
    _minimal(client, model)


@pytest.mark.rules("RESP-013", "RESP-014")
def test_finish_reason(client, model):
    """RESP-013: finish_reason is one of the enum values, never null or ""; RESP-014: stop for a
    plain answer that ended by itself (a short reply well within the token limit)."""
    _minimal(client, model)


@pytest.mark.rules("RESP-015", "RESP-016", "RESP-017", "RESP-018")
def test_usage(client, model):
    """RESP-015: usage present; RESP-016: integer counts; RESP-017: total = prompt + completion; RESP-018: sane counts."""
    _minimal(client, model)


@pytest.mark.rules("RESP-019", "RESP-020", "RESP-021")
def test_optional_fields_and_extensions(client, model):
    """RESP-019/020: optional fields have the spec's types where present (schema, usage
    details); RESP-021 (MAY): unknown fields are extensions, listed as notes and never
    failed, so no answer can break it and it is never judged."""
    _minimal(client, model)
