"""Errors (ERR, REQ-002/003/004/010/011): invalid requests are refused with a 4xx JSON error envelope.

Each test sends an invalid request and names the rule that says it must be refused
(`refuse=`, with the field the error should name): the intent check judges the status
against the statuses the catalogue names for that rule; the error checks
(chatconform/checks/errors.py) judge every error answer any test provokes: the
envelope of the chat operation's errors (ERR-001/002), what it says (ERR-003, ERR-012),
the class of its status (ERR-004, ERR-011), every 429 (ERR-006/007) and 5xx (ERR-009).
"""

import uuid

import pytest

from chatconform import probes

pytestmark = pytest.mark.area("errors")


@pytest.mark.smoke
@pytest.mark.rules("ERR-001", "ERR-002", "ERR-003", "ERR-004", "ERR-012")
def test_error_envelope(client, model):
    """ERR-001..004: a 400 for an invalid value, as {"error": {message, type, param, code}}, type
    invalid_request_error, param naming the field; ERR-012: the error discloses no internals."""
    client.chat(
        probes.minimal(model, temperature="hot"), label="temperature hot", refuse="REQ-004", param="temperature"
    )


MISSING = [
    ("no model", lambda m: {"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ("no messages", lambda m: {"model": m}, "messages"),
    ("empty messages", lambda m: {"model": m, "messages": []}, "messages"),
]


@pytest.mark.rules("REQ-002")
@pytest.mark.parametrize("case", MISSING, ids=[c[0] for c in MISSING])
def test_missing_required(client, model, case):
    """REQ-002: missing model, missing messages or messages [] → 400 + envelope."""
    what, body, param = case
    client.chat(body(model), label=what, refuse="REQ-002", param=param)


@pytest.mark.rules("REQ-003")
@pytest.mark.parametrize(
    "raw", [b'{"model":', b"[]", b'"hello"', b"\xff\xfe not json"], ids=["truncated", "array", "string", "bytes"]
)
def test_not_a_json_object(client, raw):
    """REQ-003: a body that is not valid JSON, or JSON that is not an object → 400 + envelope."""
    client.chat(raw=raw, label=f"body {raw[:12]!r}", refuse="REQ-003")


WRONG_TYPES = [
    ("temperature", "hot"),
    ("n", "2"),
    ("stream", "yes"),
    ("messages", "hi"),
    ("max_tokens", "10"),
    ("model", 42),
]


@pytest.mark.rules("REQ-004")
@pytest.mark.parametrize("field,value", WRONG_TYPES, ids=[f for f, _ in WRONG_TYPES])
def test_wrong_types(client, model, field, value):
    """REQ-004: a wrong JSON type for a known field → 400 + envelope naming the field."""
    body = probes.minimal(model)
    body[field] = value
    client.chat(body, label=f"{field}={value!r}", refuse="REQ-004", param=field)


BAD_MESSAGES = [
    ("unknown role", {"role": "robot", "content": "hi"}),
    ("missing role", {"content": "hi"}),
    ("user without content", {"role": "user"}),
    ("system without content", {"role": "system"}),
]


@pytest.mark.rules("REQ-010")
@pytest.mark.parametrize("case", BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
def test_bad_messages(client, model, case):
    """REQ-010: a message with an unknown or missing role, or without content → 400 + envelope."""
    what, msg = case
    msgs = [msg] if "system" not in what else [msg, {"role": "user", "content": "hi"}]
    client.chat(probes.with_messages(model, msgs, limit=8), label=what, refuse="REQ-010", param="messages")


BAD_PARTS = [
    ("empty part array", []),
    ("unknown part type", [{"type": "hologram", "hologram": "x"}]),
    ("text part without text", [{"type": "text"}]),
]


@pytest.mark.rules("REQ-011")
@pytest.mark.parametrize("case", BAD_PARTS, ids=[c[0] for c in BAD_PARTS])
def test_bad_parts(client, model, case):
    """REQ-011: an empty part array, an unknown part type, or a part without payload → 400 + envelope."""
    what, content = case
    msgs = [{"role": "user", "content": content}]
    client.chat(probes.with_messages(model, msgs, limit=8), label=what, refuse="REQ-011", param="messages")


@pytest.mark.smoke
@pytest.mark.rules("ERR-005")
def test_unknown_model(client):
    """ERR-005: an unknown model → 404 (model_not_found) or 400, with the envelope naming `model`
    (error.code other than model_not_found is api.openai.com's detail: noted)."""
    client.chat(probes.minimal("conformance-no-such-model"), label="unknown model", refuse="ERR-005", param="model")


@pytest.mark.rules("ERR-010")
def test_unknown_path(client, model):
    """ERR-010: an unknown path under the base URL → 404 with the envelope."""
    client.chat(probes.minimal(model), path="/chat/completion", label="unknown path", refuse="ERR-010")


@pytest.mark.rules("ERR-011")
def test_status_matches_cause(client, model):
    """ERR-011: the status matches the error class: an invalid value (PARAM-011) is a
    400-class error, never 401/403/404/409/429 or a 5xx."""
    client.chat(probes.minimal(model, top_p=7), label="top_p 7", refuse="PARAM-011", param="top_p")


@pytest.mark.rules("ERR-008", "ERR-009")
def test_context_overflow(client, model):
    """ERR-008: a prompt far beyond any context window → 400 + envelope (413, a body-size
    limit, is as good), not 5xx and not silent truncation; a 200 counting the whole prompt
    means a larger context (not judged).  No intent: both a refusal and a whole answer are
    right.  ERR-009: a server that fails on it answers a 5xx with the envelope."""
    huge = "lorem ipsum " * 150_000  # ~300k tokens for any tokenizer, 1.8 MB
    client.chat(probes.with_messages(model, [{"role": "user", "content": huge}], limit=4), label="context overflow")


@pytest.mark.rules("ERR-006", "ERR-007")
def test_rate_limit_answer(client, model):
    """ERR-006: a 429 carries the envelope and an integer Retry-After >= 1; ERR-007: a 429
    retrying cannot fix says so in type/code.  Both are judged on every 429 any test meets;
    this test sends a short burst for one end user (`user`), the way a client meets a
    limit.  A server that never limits leaves both rules "not exercised"."""
    user = f"chatconform-burst-{uuid.uuid4().hex[:12]}"
    for i in range(3):
        client.chat(probes.minimal(model, user=user), label=f"burst {i + 1}/3", accept="PARAM-028")
