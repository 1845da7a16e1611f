"""Structured output (PARAM-023..026): response_format json_object and json_schema.

The server enforces the format (constrained decoding or validation), so a finished answer
is judged whatever the model is (chatconform/checks/params.py, json_modes): json_object
content parses as a JSON object, strict json_schema content validates.  A json_schema
without `strict` promises nothing (noted), and an answer cut by the token limit or refused
is not held to the format.  Schemas come from fixtures/structured.
"""

import copy

import pytest

from chatconform import fixtures, probes

pytestmark = pytest.mark.area("structured")

BUDGET = 200  # enough for every fixture schema's instance; a cut answer is not judged

PROMPTS = {
    "contact_card": "Invent a contact card for a fictional person. Reply in JSON.",
    "shipping_order": "Invent a shipping order for a fictional customer. Reply in JSON.",
    "todo_list": "Write a to-do list of three tasks for a Saturday. Reply in JSON.",
    "product_review": "Classify this review: 'Great kettle, boils fast.' Reply in JSON.",
    "calendar_event_strict": "Create a calendar event for a team lunch next Friday. Reply in JSON.",
    "math_reasoning": "Solve 8x + 7 = -23 step by step. Reply in JSON.",
}

STREAMED = [pytest.param(False, id="plain"), pytest.param(True, id="streamed", marks=pytest.mark.needs("streaming"))]


def _body(model, prompt: str, response_format: dict, **extra) -> dict:
    return probes.with_messages(
        model,
        [
            {"role": "system", "content": "You are a helpful assistant that replies in JSON."},
            {"role": "user", "content": prompt},
        ],
        limit=BUDGET,
        response_format=response_format,
        **extra,
    )


def _json_schema(name: str, strict=True) -> dict:
    js = fixtures.schema(name)
    if strict is not None:
        js["strict"] = strict
    return {"type": "json_schema", "json_schema": js}


# -- json_object ----------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-023")
def test_json_object_accepted(client, model):
    """PARAM-023: response_format {"type": "json_object"} is accepted (with "JSON" in the prompt, as api.openai.com requires)."""
    body = _body(model, "Describe a cat with the keys name and colour. Reply in JSON.", {"type": "json_object"})
    client.chat(body, label="json_object", accept="PARAM-023")


@pytest.mark.smoke
@pytest.mark.rules("PARAM-024")
@pytest.mark.parametrize("stream", STREAMED)
def test_json_object_content(client, model, stream):
    """PARAM-024: under json_object the content (assembled, for a stream) parses as a JSON
    object (no markdown fences, no prose)."""
    body = _body(
        model,
        "Describe a cat with the keys name and colour. Reply in JSON.",
        {"type": "json_object"},
        **({"stream": True} if stream else {}),
    )
    client.chat(body, label=f"json_object{' stream' if stream else ''}", accept="PARAM-023")


# -- json_schema ----------------------------------------------------------------------------------
SCHEMAS = list(fixtures.schema_names())


def _send_schema(client, recorder, model, name: str, strict, **extra):
    """A json_schema request.  A strict-compatible schema must be taken (PARAM-025); one
    outside the strict subset, sent with strict: true, may be refused with 400 as a
    strict-mode server does (api.openai.com): the relation judges that."""
    rf = _json_schema(name, strict)
    label = f"json_schema {name} strict={strict}{' stream' if extra.get('stream') else ''}"
    body = _body(model, PROMPTS.get(name, "Reply in JSON."), rf, **extra)
    if strict is True and not fixtures.strict_compatible(rf["json_schema"]["schema"]):
        ex = client.chat(body, label=label)
        recorder.relate("strict_schema_taken", ex)
        return ex
    return client.chat(body, label=label, accept="PARAM-025")


@pytest.mark.rules("PARAM-025")
@pytest.mark.parametrize("strict", [True, False, None], ids=["strict", "not-strict", "strict-absent"])
def test_json_schema_accepted(client, recorder, model, strict):
    """PARAM-025: response_format {"type": "json_schema", "json_schema": {name, schema, strict?}} is accepted."""
    _send_schema(client, recorder, model, "calendar_event_strict", strict)


@pytest.mark.rules("PARAM-025", "PARAM-026")
@pytest.mark.parametrize("name", SCHEMAS)
def test_json_schema_strict_content(client, recorder, model, name):
    """PARAM-026: with json_schema and strict: true the content parses as JSON and validates
    against the schema.  PARAM-025: a schema outside the strict subset (open objects,
    optional properties) is answered, or refused with 400 by a strict-mode server."""
    _send_schema(client, recorder, model, name, True)


@pytest.mark.rules("PARAM-026")
@pytest.mark.needs("streaming")
@pytest.mark.parametrize("name", ["calendar_event_strict", "math_reasoning"])
def test_json_schema_strict_streamed(client, recorder, model, name):
    """PARAM-026 (streamed): the assembled content of a strict json_schema stream parses and validates."""
    _send_schema(client, recorder, model, name, True, stream=True)


@pytest.mark.rules("PARAM-025")
@pytest.mark.parametrize("strict", [False, None], ids=["strict-false", "strict-absent"])
def test_json_schema_without_strict(client, recorder, model, strict):
    """PARAM-025: a json_schema without strict is taken; PARAM-026 promises nothing for it
    (what the model wrote is noted, never failed)."""
    _send_schema(client, recorder, model, "contact_card", strict)


# -- typed values: enum and const of integers, booleans and null, arrays of arrays --------------------
# Constrained decoding that treats every enum member as a string ("1", "true", "null"), or
# nests arrays one level only, breaks a strict schema although the model did nothing wrong.
TYPED = {
    "name": "typed_values",
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["priority", "urgent", "schema_version", "parent", "grid", "tags"],
        "properties": {
            "priority": {"type": "integer", "enum": [1, 2, 3]},
            "urgent": {"type": "boolean", "enum": [True, False]},
            "schema_version": {"type": "integer", "const": 2},
            "parent": {"type": ["null", "string"], "enum": [None, "root"]},
            "grid": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "minItems": 1, "items": {"type": "integer", "enum": [0, 1]}},
            },
            "tags": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["label", "weights"],
                    "properties": {
                        "label": {"type": "string", "enum": ["home", "work"]},
                        "weights": {"type": "array", "minItems": 1, "items": {"type": "number", "enum": [0.5, 1.5]}},
                    },
                },
            },
        },
    },
}


@pytest.mark.rules("PARAM-025", "PARAM-026")
@pytest.mark.parametrize("stream", STREAMED)
def test_json_schema_typed_values(client, model, stream):
    """PARAM-026: under a strict schema whose enum and const members are integers, booleans
    and null, with arrays of arrays, the content validates: 1 not "1", true not "true",
    null not "null", [[0, 1]] not [0, 1]."""
    rf = {"type": "json_schema", "json_schema": {**copy.deepcopy(TYPED), "strict": True}}
    body = _body(
        model,
        "Describe a task: its priority (1-3), whether it is urgent, schema version 2, no parent, a 0/1 "
        "grid of two rows and one tag with weights. Reply in JSON.",
        rf,
        **({"stream": True} if stream else {}),
    )
    client.chat(body, label=f"json_schema typed_values strict{' stream' if stream else ''}", accept="PARAM-025")
