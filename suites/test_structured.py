"""Structured output (PARAM-023..026): response_format json_object and json_schema.

The server enforces the format (constrained decoding or validation), so a finished
answer is judged whatever the model is; an answer cut by the token limit is not held
to the format (noted).  Schemas come from fixtures/structured.
"""
import json

import pytest
from jsonschema import Draft202012Validator

from chatconform import expect, fixtures, probes
from chatconform.assemble import assemble
from chatconform.violations import Violation, short

pytestmark = pytest.mark.area("structured")

BUDGET = 200          # enough for every fixture schema's instance; a cut answer is noted, not judged

PROMPTS = {
    "contact_card": "Invent a contact card for a fictional person. Reply in JSON.",
    "shipping_order": "Invent a shipping order for a fictional customer. Reply in JSON.",
    "todo_list": "Write a to-do list of three tasks for a Saturday. Reply in JSON.",
    "product_review": "Classify this review: 'Great kettle, boils fast.' Reply in JSON.",
    "calendar_event_strict": "Create a calendar event for a team lunch next Friday. Reply in JSON.",
    "math_reasoning": "Solve 8x + 7 = -23 step by step. Reply in JSON.",
}


def _body(model: str, prompt: str, response_format: dict, **extra) -> dict:
    return probes.with_messages(model, [{"role": "system", "content": "You are a helpful assistant that replies in JSON."},
                                        {"role": "user", "content": prompt}],
                                max_tokens=BUDGET, response_format=response_format, **extra)


def _json_schema(name: str, strict=True) -> dict:
    js = fixtures.schema(name)
    if strict is not None:
        js["strict"] = strict
    return {"type": "json_schema", "json_schema": js}


def _choices(answer) -> list[dict]:
    return [c for c in (answer or {}).get("choices") or [] if isinstance(c, dict) and isinstance(c.get("message"), dict)]



def _judged(recorder, rule: str, ch: dict) -> bool:
    """Only a finished, unrefused answer is held to the format."""
    msg = ch["message"]
    if msg.get("refusal"):
        recorder.note(rule, f"choice {ch.get('index')} refused: {short(msg['refusal'], 60)} (allowed; not judged)")
        return False
    if ch.get("finish_reason") != "stop":
        recorder.note(rule, f"choice {ch.get('index')} ended {ch.get('finish_reason')!r} within {BUDGET} tokens: the format is not judged")
        return False
    return True


def _parse(ex, recorder, rule: str, ch: dict, what: str):
    content = ch["message"].get("content")
    where = f"/choices/{ch.get('index')}/message/content"
    if not isinstance(content, str):
        expect.once(recorder, Violation(rule, f"content a string holding {what}", short(content), where, ex))
        return None
    try:
        return json.loads(content)
    except ValueError as exc:
        fenced = content.lstrip().startswith("```")
        expect.once(recorder, Violation(rule, f"content that parses as {what}" + (" (no markdown fences)" if fenced else ""),
                                        f"{exc}: {short(content, 80)}", where, ex))
        return None


# -- json_object ----------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-023")
def test_json_object_accepted(client, model):
    """PARAM-023: response_format {"type": "json_object"} is accepted (with "JSON" in the prompt, as api.openai.com requires)."""
    body = _body(model, "Describe a cat with the keys name and colour. Reply in JSON.", {"type": "json_object"})
    expect.ok(client.chat(body, label="json_object"), "PARAM-023", 'response_format {"type": "json_object"}')


def _json_object_content(client, model, recorder, stream: bool):
    body = _body(model, "Describe a cat with the keys name and colour. Reply in JSON.", {"type": "json_object"},
                 **({"stream": True} if stream else {}))
    ex = expect.ok(client.chat(body, label=f"json_object{' stream' if stream else ''}"), "PARAM-023", 'response_format {"type": "json_object"}')
    if stream and not ex.is_stream:
        raise Violation("HTTP-005", "an SSE event stream for stream: true", repr(ex.headers.get("content-type")), "body", ex)
    answer = assemble(ex.chunks).as_response() if stream else ex.json
    for ch in _choices(answer):
        if not _judged(recorder, "PARAM-024", ch):
            continue
        parsed = _parse(ex, recorder, "PARAM-024", ch, "a JSON object")
        if parsed is not None and not isinstance(parsed, dict):
            expect.once(recorder, Violation("PARAM-024", "a JSON object (json_object)", f"a JSON {type(parsed).__name__}: {short(parsed, 60)}",
                                            f"/choices/{ch.get('index')}/message/content", ex))


@pytest.mark.smoke
@pytest.mark.rules("PARAM-024")
def test_json_object_content(client, model, recorder):
    """PARAM-024: under json_object the content parses as a JSON object (no markdown fences, no prose)."""
    _json_object_content(client, model, recorder, stream=False)


@pytest.mark.rules("PARAM-024")
@pytest.mark.needs("streaming")
def test_json_object_content_streamed(client, model, recorder):
    """PARAM-024 (streamed): the assembled content of a json_object stream parses as a JSON object."""
    _json_object_content(client, model, recorder, stream=True)


# -- json_schema ----------------------------------------------------------------------------------
SCHEMAS = list(fixtures.schema_names())


def _send_schema(client, model, recorder, name: str, strict, **extra):
    """Send a json_schema request; None when a strict-mode server refuses a schema that is
    not strict-compatible (api.openai.com does: a dialect, noted)."""
    rf = _json_schema(name, strict)
    ex = client.chat(_body(model, PROMPTS.get(name, "Reply in JSON."), rf, **extra),
                     label=f"json_schema {name} strict={strict}{' stream' if extra.get('stream') else ''}")
    if ex.status != 200 and strict is True and not fixtures.strict_compatible(rf["json_schema"]["schema"]) \
            and ex.status is not None and 400 <= ex.status < 500:
        recorder.note("PARAM-025", f"{name}: strict mode refused a schema that is not strict-compatible "
                                   f"(open objects or optional properties), HTTP {ex.status}; allowed")
        return None
    return expect.ok(ex, "PARAM-025", f"response_format json_schema {name!r} (strict={strict})")


@pytest.mark.rules("PARAM-025")
@pytest.mark.parametrize("strict", [True, False, None], ids=["strict", "not-strict", "strict-absent"])
def test_json_schema_accepted(client, model, recorder, strict):
    """PARAM-025: response_format {"type": "json_schema", "json_schema": {name, schema, strict?}} is accepted."""
    _send_schema(client, model, recorder, "calendar_event_strict", strict)


@pytest.mark.rules("PARAM-026")
@pytest.mark.parametrize("name", SCHEMAS)
def test_json_schema_strict_content(client, model, recorder, name):
    """PARAM-026: with json_schema and strict: true the content parses as JSON and validates against the schema."""
    ex = _send_schema(client, model, recorder, name, True)
    if ex is None:
        return
    _validate(ex, ex.json, recorder, name)


@pytest.mark.rules("PARAM-026")
@pytest.mark.needs("streaming")
@pytest.mark.parametrize("name", ["calendar_event_strict", "math_reasoning"])
def test_json_schema_strict_streamed(client, model, recorder, name):
    """PARAM-026 (streamed): the assembled content of a strict json_schema stream parses and validates."""
    ex = _send_schema(client, model, recorder, name, True, stream=True)
    if ex is None:
        return
    if not ex.is_stream:
        raise Violation("HTTP-005", "an SSE event stream for stream: true", repr(ex.headers.get("content-type")), "body", ex)
    _validate(ex, assemble(ex.chunks).as_response(), recorder, name)


def _validate(ex, answer, recorder, name):
    schema = fixtures.schema(name)["schema"]
    choices = _choices(answer)
    expect.field(ex, "PARAM-026", len(choices), "a choice with a message", bool(choices), "/choices")
    for ch in choices:
        if not _judged(recorder, "PARAM-026", ch):
            continue
        parsed = _parse(ex, recorder, "PARAM-026", ch, f"JSON valid against {name!r}")
        if parsed is None and ch["message"].get("content") != "null":
            continue
        errs = sorted(Draft202012Validator(schema).iter_errors(parsed), key=lambda e: list(e.absolute_path))
        if errs:
            at = "/".join(map(str, errs[0].absolute_path))
            expect.once(recorder, Violation("PARAM-026", f"content valid against the json_schema {name!r}",
                                            f"{errs[0].message} (at /{at}) in {short(parsed, 80)}",
                                            f"/choices/{ch.get('index')}/message/content", ex))
