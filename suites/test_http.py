"""HTTP transport (HTTP-001..008, AUTH-008): the endpoint, media types, nulls, extra fields and headers.

The tests send requests and say which rule makes each one valid (`accept=`); the
transport checks (chatconform/checks/http.py) judge the media type and encoding of
every answer, and HTTP-008 on every request carrying an unknown top-level field.
"""

import pytest

from chatconform import probes

pytestmark = pytest.mark.area("http")


@pytest.mark.rules("HTTP-001")
def test_endpoint_exists(client, model):
    """HTTP-001: POST {base}/chat/completions is the operation (a 200, not 404/405)."""
    client.chat(probes.minimal(model), label="P-MIN", accept="HTTP-001")


@pytest.mark.rules("HTTP-002")
@pytest.mark.parametrize(
    "ctype", ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"]
)
def test_json_media_type_variants(client, model, ctype):
    """HTTP-002: application/json is accepted with or without a charset parameter."""
    client.chat(probes.minimal(model), content_type=ctype, label=f"Content-Type {ctype}", accept="HTTP-002")


@pytest.mark.rules("HTTP-003")
def test_json_answer_media_type(client, model):
    """HTTP-003: a non-streaming 200 has media type application/json."""
    client.chat(probes.minimal(model), label="P-MIN", accept="REQ-001")


@pytest.mark.rules("HTTP-004")
def test_utf8_round_trip(client, model):
    """HTTP-004: non-ASCII text in a request is accepted and the answer is UTF-8 JSON (whether the
    model repeats the text is its business)."""
    body = probes.with_messages(model, [{"role": "user", "content": "Repeat: héllo ✓ 你好 😀 𝄞"}])
    client.chat(body, label="non-ASCII prompt", accept="HTTP-004")


# HTTP-007: the request fields whose null the official schema accepts as "not set".
NULLABLE = [
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "logprobs",
    "logit_bias",
    "frequency_penalty",
    "presence_penalty",
    "stream",
    "stream_options",
    "store",
    "metadata",
    "service_tier",
    "reasoning_effort",
    "modalities",
    "audio",
    "prediction",
]


@pytest.mark.rules("HTTP-007")
@pytest.mark.parametrize("field", NULLABLE)
def test_null_means_not_set(client, model, field):
    """HTTP-007: null is accepted as "not set" for every nullable request field."""
    body = probes.minimal(model, limit=None if field in probes.LIMIT_FIELDS else probes.SHORT)
    body[field] = None
    client.chat(body, label=f"{field}: null", accept="HTTP-007")


@pytest.mark.rules("HTTP-008")
def test_unknown_field(client, model):
    """HTTP-008: an unknown top-level field is ignored (200) or refused with 400 + envelope, never 5xx
    (either choice is noted; the request carries no intent, since both answers are right)."""
    client.chat(probes.minimal(model, x_conformance_probe=1), label="unknown field")


@pytest.mark.rules("AUTH-008")
def test_sdk_headers_accepted(client, model):
    """AUTH-008: the headers the official SDKs add are accepted."""
    headers = {
        "OpenAI-Organization": "org-conformance",
        "OpenAI-Project": "proj_conformance",
        "User-Agent": "OpenAI/Python 3.3.1",
        "X-Stainless-Lang": "python",
        "X-Stainless-Package-Version": "3.3.1",
        "X-Stainless-OS": "Linux",
        "X-Stainless-Arch": "x64",
        "X-Stainless-Runtime": "CPython",
        "X-Stainless-Runtime-Version": "3.11.7",
        "X-Stainless-Retry-Count": "0",
        "X-Stainless-Helper-Method": "chat.completions.parse",
    }
    client.chat(probes.minimal(model), headers=headers, label="SDK headers", accept="AUTH-008")
