"""Vendor dialects (DIALECT): what a target's profile declares beyond the official spec.

The declarations live in the targets file (dialects.yaml has the seed vendors):
`extensions.request` (extra parameters, each with the JSON Schema of its documented
type and range), `extensions.response` (extra answer fields by JSON pointer with `*`
wildcards) and `gated` (capabilities the target's key lacks, with the reason).  A
target without them gets "not applicable" here: nothing to judge.

Response extensions are judged on every exchange of every test (the client fixture tags
each exchange with them and a registered check judges it, chatconform/checks/extensions.py);
the test here makes sure there is at least a plain and a streamed answer to judge, and
reports which declared fields came.  Request extensions and gated capabilities are the
requests' intents: `accept="DIALECT-001"`, `refuse="DIALECT-003"` (checks/intent.py).
"""

import pytest

from chatconform import fixtures, probes
from chatconform.checks import extensions
from chatconform.plugin.run import RUN
from chatconform.violations import UsageError

pytestmark = pytest.mark.area("dialect")

NONE = "(none declared)"

# A request that uses each capability, for the gate probe: what a client would send.
GATE_PROBES = {
    "streaming": lambda m: probes.stream(m),
    "stream_usage": lambda m: probes.stream_usage(m),
    "tools": lambda m: probes.tool(m, tool_choice="auto"),
    "parallel_tools": lambda m: probes.tool(m, tool_choice="auto", parallel_tool_calls=True),
    "json_object": lambda m: probes.with_messages(
        m, [{"role": "user", "content": "Reply in JSON with a key ok."}], response_format={"type": "json_object"}
    ),
    "json_schema": lambda m: probes.with_messages(
        m,
        [{"role": "user", "content": "Reply in JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "ok",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"ok": {"type": "boolean"}},
                    "required": ["ok"],
                    "additionalProperties": False,
                },
            },
        },
    ),
    "logprobs": lambda m: probes.minimal(m, logprobs=True, top_logprobs=2),
    "n": lambda m: probes.minimal(m, n=2),
    "vision": lambda m: probes.with_messages(
        m,
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this image?"},
                    fixtures.image_part("red-16x16.png"),
                ],
            }
        ],
    ),
    "audio": lambda m: probes.with_messages(
        m,
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "What do you hear?"}, fixtures.audio_part("tone-440hz.wav")],
            }
        ],
    ),
}


def pytest_generate_tests(metafunc):
    # One test per declaration, named after it: the target is known at collection
    # (the plugin resolves it in pytest_configure).
    target = metafunc.config.stash[RUN].target
    ext = target.extensions or {}
    for arg, values in (("param", sorted((ext.get("request") or {}))), ("capability", sorted(target.gated or {}))):
        if arg in metafunc.fixturenames:
            metafunc.parametrize(arg, values or [NONE])


@pytest.mark.rules("DIALECT-001")
def test_request_extension_accepted(client, model, target, param):
    """DIALECT-001: a declared extra request parameter, sent with a value valid for its declared schema, is accepted."""
    if param == NONE:
        pytest.skip("not applicable: the target declares no request extensions")
    schema = target.extensions["request"][param]
    value = extensions.valid_value(schema)
    if value is None:
        raise UsageError(
            f"{target.source}: targets.{target.name}.extensions.request.{param}: no valid value to send "
            "(give the schema a default or examples)"
        )
    client.chat(probes.minimal(model, **{param: value}), label=f"extension {param}: {value!r}", accept="DIALECT-001")


@pytest.mark.rules("DIALECT-002")
def test_response_extensions_typed(client, model, target, recorder):
    """DIALECT-002: declared extra answer fields have their declared type when present (judged on every exchange);
    which of them came is reported (extensions are never failed for being there, RESP-021)."""
    declared = (target.extensions or {}).get("response") or {}
    if not declared:
        pytest.skip("not applicable: the target declares no response extensions")
    answers = [client.chat(probes.minimal(model), label="P-MIN", accept="REQ-001")]
    if target.claims("streaming"):
        answers.append(client.chat(probes.stream(model), label="P-STREAM", accept="STREAM-001"))
    seen = set().union(*(extensions.present(ex, declared) for ex in answers))
    recorder.note(
        "RESP-021",
        f"declared extension fields seen: {', '.join(sorted(seen)) or 'none'}; "
        f"not seen in these answers: {', '.join(sorted(set(declared) - seen)) or 'none'}",
    )


@pytest.mark.rules("DIALECT-003")
def test_gated_capability_refused(client, model, target, capability):
    """DIALECT-003: a capability the profile declares gated for this key is refused with a 4xx and the
    error envelope (AUTH-006: 403 or 404 preferred), never silently answered 200 or failed with 5xx."""
    if capability == NONE:
        pytest.skip("not applicable: the target declares no gated capabilities")
    build = GATE_PROBES.get(capability)
    if build is None:
        pytest.skip(f"not applicable: the suite has no probe for a gated {capability!r}")
    # Any 4xx meets DIALECT-003 (a 200 is the gate silently open, a 5xx a crash); the
    # envelope of the refusal is judged by the ERR checks, as for every error.
    client.chat(build(model), label=f"gated {capability} ({target.gated[capability]})", refuse="DIALECT-003")
