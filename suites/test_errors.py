"""Errors (ERR, REQ-002/003/004/010/011): invalid requests get a 4xx JSON error envelope.

The envelope itself (ERR-001/002) is checked by the observer on every error any test
provokes; these tests provoke one of each kind on purpose.
"""
import pytest

from chatconform import expect, probes
from chatconform.violations import Violation

pytestmark = pytest.mark.area("errors")


@pytest.mark.rules("ERR-001", "ERR-002", "ERR-003", "ERR-004")
def test_error_envelope(client, model, recorder):
    """ERR-001..004: a 400 for an invalid value, as {"error": {message, type, param, code}}."""
    ex = client.chat(probes.minimal(model, temperature="hot"), label="temperature hot")
    expect.rejected(ex, "ERR-004", "temperature as a string", param="temperature", recorder=recorder)
    err = (ex.json or {}).get("error") if isinstance(ex.json, dict) else None
    if not isinstance(err, dict):
        raise Violation("ERR-001", '{"error": {...}}', repr(ex.body[:80]), "body", ex)
    for key in ("message", "type", "param", "code"):
        expect.field(ex, "ERR-002", sorted(err), f"error.{key} present", key in err, f"/error/{key}")
    expect.field(ex, "ERR-003", err.get("message"), "a non-empty message", isinstance(err.get("message"), str) and err["message"].strip() != "", "/error/message")
    expect.field(ex, "ERR-004", ex.status, "HTTP 400", ex.status == 400, "status")
    if err.get("type") != "invalid_request_error":
        recorder.note("ERR-004", f"error.type is {err.get('type')!r} (api.openai.com: invalid_request_error)")


MISSING = [
    ("no model", lambda m: {"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ("no messages", lambda m: {"model": m}, "messages"),
    ("empty messages", lambda m: {"model": m, "messages": []}, "messages"),
]


@pytest.mark.rules("REQ-002")
@pytest.mark.parametrize("case", MISSING, ids=[c[0] for c in MISSING])
def test_missing_required(client, model, recorder, case):
    """REQ-002: missing model, missing messages or messages [] → 400 + envelope."""
    what, body, param = case
    expect.rejected(client.chat(body(model), label=what), "REQ-002", what, param=param, recorder=recorder)


@pytest.mark.rules("REQ-003")
@pytest.mark.parametrize("raw", [b'{"model":', b"[]", b'"hello"', b"\xff\xfe not json"], ids=["truncated", "array", "string", "bytes"])
def test_not_a_json_object(client, recorder, raw):
    """REQ-003: a body that is not valid JSON, or JSON that is not an object → 400 + envelope."""
    expect.rejected(client.chat(raw=raw, label="malformed body"), "REQ-003", f"body {raw[:12]!r}", recorder=recorder)


WRONG_TYPES = [("temperature", "hot"), ("n", "2"), ("stream", "yes"), ("messages", "hi"), ("max_tokens", "10"), ("model", 42)]


@pytest.mark.rules("REQ-004")
@pytest.mark.parametrize("field,value", WRONG_TYPES, ids=[f for f, _ in WRONG_TYPES])
def test_wrong_types(client, model, recorder, field, value):
    """REQ-004: a wrong JSON type for a known field → 400 + envelope naming the field."""
    body = probes.minimal(model)
    body[field] = value
    expect.rejected(client.chat(body, label=f"{field}={value!r}"), "REQ-004", f"{field} = {value!r}", param=field, recorder=recorder)


BAD_MESSAGES = [
    ("unknown role", {"role": "robot", "content": "hi"}),
    ("missing role", {"content": "hi"}),
    ("user without content", {"role": "user"}),
    ("system without content", {"role": "system"}),
]


@pytest.mark.rules("REQ-010")
@pytest.mark.parametrize("case", BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
def test_bad_messages(client, model, recorder, case):
    """REQ-010: a message with an unknown or missing role, or without content → 400 + envelope."""
    what, msg = case
    body = {"model": model, "messages": [msg] if "system" not in what else [msg, {"role": "user", "content": "hi"}], "max_tokens": 8}
    expect.rejected(client.chat(body, label=what), "REQ-010", what, param="messages", recorder=recorder)


BAD_PARTS = [
    ("empty part array", []),
    ("unknown part type", [{"type": "hologram", "hologram": "x"}]),
    ("text part without text", [{"type": "text"}]),
]


@pytest.mark.rules("REQ-011")
@pytest.mark.parametrize("case", BAD_PARTS, ids=[c[0] for c in BAD_PARTS])
def test_bad_parts(client, model, recorder, case):
    """REQ-011: an empty part array, an unknown part type, or a part without payload → 400 + envelope."""
    what, content = case
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 8}
    expect.rejected(client.chat(body, label=what), "REQ-011", what, param="messages", recorder=recorder)


@pytest.mark.rules("ERR-005")
def test_unknown_model(client, recorder):
    """ERR-005: an unknown model → 404 (model_not_found) or 400, with the envelope."""
    ex = client.chat(probes.minimal("conformance-no-such-model"), label="unknown model")
    expect.rejected(ex, "ERR-005", "an unknown model", statuses=(404, 400), param="model", recorder=recorder)
    code = expect.error_field(ex, "code")
    if code != "model_not_found":
        recorder.note("ERR-005", f"error.code is {code!r} (api.openai.com: model_not_found)")


@pytest.mark.rules("ERR-010")
def test_unknown_path(client, model, recorder):
    """ERR-010: an unknown path under the base URL → 404 with the envelope."""
    ex = client.chat(probes.minimal(model), path="/chat/completion", label="unknown path")
    expect.rejected(ex, "ERR-010", "POST {base}/chat/completion", statuses=(404,), recorder=recorder)
    expect.field(ex, "ERR-010", ex.status, "HTTP 404", ex.status == 404, "status")


@pytest.mark.rules("ERR-011")
def test_status_matches_cause(client, model):
    """ERR-011: the status matches the error class: an invalid request is a 400-class error, never 5xx or 401/403/404/429."""
    ex = client.chat(probes.minimal(model, top_p=7), label="top_p 7")
    if ex.status is not None and 400 <= ex.status < 500 and ex.status not in (400, 422):
        raise Violation("ERR-011", "400 (or 422) for an invalid parameter value", f"HTTP {ex.status}", "status", ex)
    expect.rejected(ex, "ERR-011", "top_p = 7", statuses=(400,))


@pytest.mark.rules("ERR-008")
def test_context_overflow(client, model, recorder):
    """ERR-008: a prompt far beyond any context window → 400 + envelope, not 5xx and not silent truncation."""
    huge = "lorem ipsum " * 150_000          # ~300k tokens for any tokenizer, 1.8 MB
    ex = client.chat(probes.with_messages(model, [{"role": "user", "content": huge}], max_tokens=4), label="context overflow")
    if ex.status == 200:
        usage = (ex.json or {}).get("usage") or {}
        recorder.note("ERR-008", f"a 1.8 MB prompt was accepted (prompt_tokens={usage.get('prompt_tokens')}): "
                                 "the context is larger or the server truncates")
        return
    if ex.status == 413:
        return                              # a body-size limit is a legitimate refusal
    expect.rejected(ex, "ERR-008", "a prompt longer than the context window", recorder=recorder)


@pytest.mark.rules("ERR-006", "ERR-007")
def test_rate_limit_answer(client, model, recorder):
    """ERR-006: a 429 carries the envelope and an integer Retry-After >= 1 (judged on every 429 any test meets)."""
    client.chat(probes.minimal(model), label="P-MIN")   # a 429 left after retries is an error (CannotJudge)
    seen = [ex for ex in recorder.exchanges if ex.status == 429]
    if not seen:
        pytest.skip("not applicable: no 429 met in this test; ERR-006 is judged on every 429 of the run")
    for ex in seen:
        if ex.headers.get("x-should-retry", "").lower() == "false":
            recorder.note("ERR-007", "a 429 with x-should-retry: false (quota, not a rate limit)")
