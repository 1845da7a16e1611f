"""Vendor extensions a target's profile declares (targets.yaml `extensions`), judged on every exchange.

The registered checks judge what every server owes and know nothing of the target,
while DIALECT-002 depends on what one target *declares*.  So the suites' client
fixture wraps the observer with `observer(...)` for targets that declare response
extensions: it tags each exchange with the declared fields (`DECLARED`) before the
checks run, and the registered check `declared_response_fields` judges every tagged
exchange any test makes, not only those of suites/test_extensions.py (the same "a
fault is caught even in a test about something else" the observer gives).

Response declarations are keyed by JSON pointers with `*` for "every array item /
object member", e.g. `/choices/*/message/reasoning`; they apply to the body of a
non-streaming 200 and to every chunk of a 200 stream.  A declared field that is
absent is not a fault (the page says what it is *when* sent): an answer with none of
the declared fields does not judge the rule.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Iterator

from jsonschema import Draft202012Validator

from ..client import Exchange
from ..violations import NotJudged, Violation, short
from . import check, ok_json, ok_stream

RULE = "DIALECT-002"
DECLARED = "declared_response"  # the Exchange attribute the observer wrapper sets


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve(doc: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    """(concrete pointer, value) for every place `pointer` (with `*` wildcards) names in `doc`."""
    tokens = [_unescape(t) for t in pointer.split("/")[1:]] if pointer else []

    def walk(node: Any, rest: list[str], at: str):
        if not rest:
            yield at, node
            return
        head, tail = rest[0], rest[1:]
        if head == "*":
            items = enumerate(node) if isinstance(node, list) else node.items() if isinstance(node, dict) else ()
            for k, v in items:
                yield from walk(v, tail, f"{at}/{k}")
        elif isinstance(node, dict) and head in node:
            yield from walk(node[head], tail, f"{at}/{head}")
        elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
            yield from walk(node[int(head)], tail, f"{at}/{head}")

    yield from walk(doc, tokens, "")


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def validator(schema: dict) -> Draft202012Validator:
    return _validator(json.dumps(schema, sort_keys=True))


def documents(ex: Exchange) -> list[tuple[str, Any]]:
    """The JSON documents of an answer that response extensions apply to, with a label."""
    if ok_json(ex) and isinstance(ex.json, dict):
        return [("", ex.json)]
    if ok_stream(ex):
        return [(f"chunk[{i}]", c) for i, c in enumerate(ex.chunks)]
    return []


def response_violations(ex: Exchange, declared: dict[str, dict]) -> list[Violation]:
    out: list[Violation] = []
    seen: set[str] = set()
    for label, doc in documents(ex):
        for pointer, schema in declared.items():
            for at, value in resolve(doc, pointer):
                err = next(iter(validator(schema).iter_errors(value)), None)
                if err is None or pointer in seen:  # one report per declared field and answer
                    continue
                seen.add(pointer)
                out.append(
                    Violation(
                        RULE,
                        f"{pointer} as declared: {short(schema, 100)}",
                        f"{short(value, 60)} ({err.message[:100]})",
                        f"{label}{at}",
                        ex,
                        origin="check",
                    )
                )
    return out


def present(ex: Exchange, declared: dict[str, dict]) -> set[str]:
    """Which declared pointers this answer carries (for reporting what was seen)."""
    return {p for _, doc in documents(ex) for p in declared if next(resolve(doc, p), None) is not None}


def declared(ex: Exchange) -> dict[str, dict]:
    """The response extensions the target declared, as tagged on this exchange."""
    return getattr(ex, DECLARED, None) or {}


@check(RULE, applies=lambda ex: bool(declared(ex)) and (ok_json(ex) or ok_stream(ex)))
def declared_response_fields(ex):
    """DIALECT-002: a declared extra answer field, when present, has its declared type."""
    fields = declared(ex)
    if not present(ex, fields):
        raise NotJudged("none of the declared extension fields is in this answer")
    yield from response_violations(ex, fields)


def observer(observe: Callable[[Exchange], None], recorder, fields: dict[str, dict]) -> Callable[[Exchange], None]:
    """`observe` (the recorder's), with each exchange first tagged with the declared
    response extensions, so that the registered check judges them (DIALECT-002).
    `recorder` is unused: kept for the callers' signature."""

    def tagged(ex: Exchange) -> None:
        setattr(ex, DECLARED, fields)
        observe(ex)

    return tagged


def valid_value(schema: dict) -> Any:
    """A value the declared schema accepts, to send as the probe of a request extension:
    its documented `default`, else the first of `examples`, `const`, `enum`, else one
    built from `type` and `minimum`.  None if nothing found validates."""
    candidates = []
    if "default" in schema:
        candidates.append(schema["default"])
    candidates += list(schema.get("examples") or [])
    if "const" in schema:
        candidates.append(schema["const"])
    candidates += list(schema.get("enum") or [])
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    for k in kinds:
        candidates += {
            "integer": [max(0, int(lo)) + (1 if "exclusiveMinimum" in schema else 0)],
            "number": [float(lo) + (0.5 if "exclusiveMinimum" in schema else 0.0)],
            "boolean": [True],
            "string": ["x"],
            "array": [[]],
            "object": [{}],
            "null": [None],
        }.get(k, [])
    v = validator(schema)
    return next((c for c in candidates if v.is_valid(c)), None)
