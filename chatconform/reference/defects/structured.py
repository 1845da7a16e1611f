"""Defects of one area: structured output.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any, Callable

from ..exchange import Call
from .base import _bad, _on_text_choices, _retokenize, _rf_type, defect


def _is_rf(kind: str) -> Callable[[Call], bool]:
    return lambda call: _rf_type(call) == kind


def _fence(call: Call, ch: Any) -> None:
    if ch.finish_reason == "stop":
        _retokenize(ch, "```json\n" + ch.content + "\n```", call)


defect(
    "json-object-fenced",
    "structured",
    "PARAM-024",
    "json_object answers are wrapped in ```json fences.",
    on_completion=_on_text_choices(_fence, when=_is_rf("json_object")),
)


def _schema_of(call: Call) -> dict:
    rf = (call.body or {}).get("response_format") or {}
    schema = (rf.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {}


def _drop_required(call: Call, ch: Any) -> None:
    required = _schema_of(call).get("required") or []
    if ch.finish_reason != "stop" or not required:
        return
    value = json.loads(ch.content)
    if isinstance(value, dict):
        value.pop(required[0], None)
        _retokenize(ch, json.dumps(value, separators=(",", ":"), ensure_ascii=False), call)


defect(
    "json-schema-missing-required",
    "structured",
    "PARAM-026",
    "json_schema answers leave out the schema's first required property.",
    on_completion=_on_text_choices(_drop_required, when=_is_rf("json_schema")),
)


def _wrong_type(call: Call, ch: Any) -> None:
    props = _schema_of(call).get("properties") or {}
    if ch.finish_reason != "stop":
        return
    value = json.loads(ch.content)
    if not isinstance(value, dict):
        return
    for key, sub in props.items():
        t = sub.get("type") if isinstance(sub, dict) else None
        if key in value and t in ("integer", "number", "boolean"):
            value[key] = str(value[key])
            break
        if key in value and t == "string":
            value[key] = 12345
            break
    _retokenize(ch, json.dumps(value, separators=(",", ":"), ensure_ascii=False), call)


defect(
    "json-schema-wrong-type",
    "structured",
    "PARAM-026",
    "json_schema answers give the first scalar property the wrong JSON type (number as string, string as number).",
    on_completion=_on_text_choices(_wrong_type, when=_is_rf("json_schema")),
)


def _drop_rf_schema(call: Call) -> None:
    if _rf_type(call) == "json_schema":
        call.body = {k: v for k, v in call.body.items() if k != "response_format"}


defect(
    "json-schema-ignored",
    "structured",
    "PARAM-026",
    "`json_schema` is accepted but the answer is plain text.",
    on_request=_drop_rf_schema,
)
defect(
    "rejects-json-object",
    "structured",
    "PARAM-023",
    "`response_format: json_object` is rejected with 400.",
    on_request=lambda call: (
        _bad("response_format", "Invalid 'response_format': json_object is not supported.")
        if _rf_type(call) == "json_object"
        else None
    ),
)
defect(
    "rejects-json-schema",
    "structured",
    "PARAM-025",
    "`response_format: json_schema` is rejected with 400.",
    on_request=lambda call: (
        _bad("response_format", "Invalid 'response_format': json_schema is not supported.")
        if _rf_type(call) == "json_schema"
        else None
    ),
)
defect(
    "accepts-json-schema-without-name",
    "structured",
    "PARAM-027",
    "json_schema without `json_schema.name` is accepted.",
    skip_checks={"response_format.name"},
)
defect(
    "accepts-unknown-response-format",
    "structured",
    "PARAM-027",
    "An unknown response_format type is accepted (as text).",
    skip_checks={"response_format.type"},
)


def _drop_last_json_token(call: Call, chunks: list[dict]) -> list[dict]:
    if _rf_type(call) != "json_schema":
        return chunks
    last = max(
        (
            k
            for k, ch in enumerate(chunks)
            if ch.get("choices") and (ch["choices"][0].get("delta") or {}).get("content")
        ),
        default=None,
    )
    return chunks if last is None else chunks[:last] + chunks[last + 1 :]


defect(
    "stream-structured-output-invalid",
    "structured",
    "PARAM-026",
    "Streamed json_schema output loses its last fragment, so the assembled content is not valid JSON.",
    on_chunks=_drop_last_json_token,
)
