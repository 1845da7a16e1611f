"""HTTP transport (HTTP-001..008, AUTH-008): the endpoint, media types, nulls, extra fields and headers."""

import pytest

from chatconform import expect, probes
from chatconform.violations import Violation

pytestmark = pytest.mark.area("http")


@pytest.mark.rules("HTTP-001")
def test_endpoint_exists(client, model):
    """HTTP-001: POST {base}/chat/completions is the operation (not 404/405)."""
    ex = client.chat(probes.minimal(model), label="P-MIN")
    if ex.status in (404, 405):
        raise Violation("HTTP-001", "the operation at POST {base}/chat/completions", f"HTTP {ex.status}", "status", ex)
    expect.ok(ex, "HTTP-001")


@pytest.mark.rules("HTTP-002")
@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"])
def test_json_media_type_variants(client, model, ctype):
    """HTTP-002: application/json is accepted with or without a charset parameter."""
    expect.ok(client.chat(probes.minimal(model), content_type=ctype, label=ctype), "HTTP-002", f"Content-Type {ctype}")


@pytest.mark.rules("HTTP-003")
def test_json_answer_media_type(client, model):
    """HTTP-003: a non-streaming 200 has media type application/json."""
    ex = expect.ok(client.chat(probes.minimal(model), label="P-MIN"), "HTTP-003")
    expect.field(ex, "HTTP-003", ex.headers.get("content-type"), "application/json", ex.media_type == "application/json", "headers/content-type")


@pytest.mark.rules("HTTP-004")
def test_utf8_round_trip(client, model):
    """HTTP-004: non-ASCII text in a request is accepted and the answer is UTF-8 JSON."""
    body = probes.with_messages(model, [{"role": "user", "content": "Repeat: héllo ✓ 你好 😀 𝄞"}])
    ex = expect.ok(client.chat(body, label="non-ASCII prompt"), "HTTP-004", "a non-ASCII prompt")
    try:
        ex.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Violation("HTTP-004", "a UTF-8 body", f"invalid UTF-8 at byte {exc.start}", "body", ex)


# HTTP-007: the request fields whose null the official schema accepts as "not set".
NULLABLE = ["temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "stop", "seed", "logprobs",
            "logit_bias", "frequency_penalty", "presence_penalty", "stream", "stream_options", "store", "metadata",
            "service_tier", "reasoning_effort", "modalities", "audio", "prediction"]


@pytest.mark.rules("HTTP-007")
@pytest.mark.parametrize("field", NULLABLE)
def test_null_means_not_set(client, model, field):
    """HTTP-007: null is accepted as "not set" for every nullable request field."""
    body = probes.minimal(model, limit=None if field in probes.LIMIT_FIELDS else probes.SHORT)
    body[field] = None
    expect.ok(client.chat(body, label=f"{field}: null"), "HTTP-007", f"{field}: null")


@pytest.mark.rules("HTTP-008")
def test_unknown_field(client, model, recorder):
    """HTTP-008: an unknown top-level field is ignored (200) or refused with 400 + envelope, never 5xx."""
    ex = client.chat(probes.minimal(model, x_conformance_probe=1), label="unknown field")
    if ex.status == 200:
        recorder.note("HTTP-008", "unknown fields tolerated")
        return
    expect.rejected(ex, "HTTP-008", "an unknown top-level field", recorder=recorder)
    recorder.note("HTTP-008", "unknown fields refused (strict, as api.openai.com)")


@pytest.mark.rules("AUTH-008")
def test_sdk_headers_accepted(client, model):
    """AUTH-008: the headers the official SDKs add are accepted."""
    headers = {"OpenAI-Organization": "org-conformance", "OpenAI-Project": "proj_conformance",
               "User-Agent": "OpenAI/Python 3.3.1", "X-Stainless-Lang": "python", "X-Stainless-Package-Version": "3.3.1",
               "X-Stainless-OS": "Linux", "X-Stainless-Arch": "x64", "X-Stainless-Runtime": "CPython",
               "X-Stainless-Runtime-Version": "3.11.7", "X-Stainless-Retry-Count": "0", "X-Stainless-Helper-Method": "chat.completions.parse"}
    expect.ok(client.chat(probes.minimal(model), headers=headers, label="SDK headers"), "AUTH-008", "the SDK's headers")
