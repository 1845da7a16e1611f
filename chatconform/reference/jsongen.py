"""Generate a JSON instance that validates against a (practical subset of) JSON Schema.

Used for structured output (`response_format: json_schema`, PARAM-026) and for tool
call arguments (TOOL-006). Supported: type (incl. type lists), enum, const,
properties/required, additionalProperties, items/prefixItems, minItems/maxItems,
minimum/maximum/exclusive bounds/multipleOf (integers), minLength/maxLength,
a few string formats, anyOf/oneOf (first usable branch), allOf (merged), local
$ref into $defs/definitions (recursion bounded), uniqueItems. Not supported: `pattern`
(strings are plain lorem words), `not`, `if/then/else`, dependent schemas.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "tempor")
_MAX_DEPTH = 6
_NO_VALUE = object()  # sentinel: no further distinct value exists


class SchemaGenerator:
    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root if isinstance(root, dict) else {}
        self.rng = rng

    def generate(self) -> Any:
        return self._gen(self.root, 0)

    # -- helpers ----------------------------------------------------------------

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}  # remote refs are out of scope: any value will do
        node: Any = self.root
        for token in ref[1:].split("/"):
            if not token:
                continue
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return {}
        return node if isinstance(node, dict) else {}

    def _merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema.get("allOf", []):
            if isinstance(sub, dict) and "$ref" in sub:
                sub = self._resolve(sub["$ref"])
            if not isinstance(sub, dict):
                continue
            sub = self._merge_all_of(sub) if "allOf" in sub else sub
            for k, v in sub.items():
                if k == "properties":
                    merged.setdefault("properties", {}).update(v)
                elif k == "required":
                    merged["required"] = list(dict.fromkeys(list(merged.get("required", [])) + list(v)))
                else:
                    merged.setdefault(k, v)
        return merged

    def _gen(self, schema: Any, depth: int) -> Any:
        if schema is True or not isinstance(schema, dict):
            return self._word()
        if "$ref" in schema:
            target = self._resolve(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if rest else target
            if depth > 4 * _MAX_DEPTH:
                return self._minimal(schema)  # a recursion with no way out: give up
        if "allOf" in schema:
            schema = self._merge_all_of(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                branches = [b for b in schema[key] if isinstance(b, (dict, bool))]
                if depth > _MAX_DEPTH:
                    # Deep in a recursive structure: prefer a branch that ends it.
                    for b in branches:
                        if isinstance(b, dict) and b.get("type") == "null":
                            return None
                base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                first = branches[0] if branches else {}
                if isinstance(first, dict) and "$ref" in first:
                    first = self._resolve(first["$ref"])
                return self._gen({**base, **first} if isinstance(first, dict) else first, depth + 1)
        t = schema.get("type")
        if isinstance(t, list):
            non_null = [x for x in t if x != "null"]
            t = non_null[0] if non_null else "null"
        if t is None:
            if "properties" in schema or "required" in schema or "additionalProperties" in schema:
                t = "object"
            elif "items" in schema or "prefixItems" in schema:
                t = "array"
            elif any(k in schema for k in ("minimum", "maximum", "multipleOf")):
                t = "number"
            else:
                t = "string"
        return getattr(self, f"_{t}", self._string)(schema, depth)

    def _minimal(self, schema: dict[str, Any]) -> Any:
        t = schema.get("type")
        if isinstance(t, list):
            return None if "null" in t else self._minimal({**schema, "type": t[0]})
        return {"object": {}, "array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(t, None)

    def _word(self) -> str:
        return self.rng.choice(WORDS)

    # -- one method per JSON type -------------------------------------------------

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        out: dict[str, Any] = {}
        # Every declared property (strict schemas require them all anyway), then
        # any required name that has no declared schema.
        for name, sub in props.items():
            if depth > _MAX_DEPTH and name not in required:
                continue
            out[name] = self._gen(sub, depth + 1)
        for name in required:
            if name not in out:
                extra = schema.get("additionalProperties")
                out[name] = self._gen(extra if isinstance(extra, dict) else {}, depth + 1)
        min_props = schema.get("minProperties", 0)
        extra = schema.get("additionalProperties", True)
        i = 0
        while len(out) < min_props and extra is not False:
            out[f"key_{i}"] = self._gen(extra if isinstance(extra, dict) else {}, depth + 1)
            i += 1
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        lo = schema.get("minItems", 0)
        hi = schema.get("maxItems")
        prefix = schema.get("prefixItems") or []
        count = lo if depth > _MAX_DEPTH else max(len(prefix), 2)
        count = max(lo, count if hi is None else min(count, hi))
        items = schema.get("items", {})
        out: list[Any] = []
        seen: set[str] = set()
        unique = schema.get("uniqueItems") is True
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else (items if isinstance(items, dict) else {})
            value = self._gen(sub, depth + 1)
            if unique:
                value = self._fresh(sub, value, seen, depth)
                if value is _NO_VALUE:
                    break  # the item schema has no more distinct values
                seen.add(json.dumps(value, sort_keys=True))
            out.append(value)
        return out

    def _fresh(self, sub: Any, value: Any, seen: set[str], depth: int) -> Any:
        """A value for `uniqueItems`: the first enum member not used yet, or a new draw."""
        if json.dumps(value, sort_keys=True) not in seen:
            return value
        target = self._resolve(sub["$ref"]) if isinstance(sub, dict) and "$ref" in sub else sub
        if isinstance(target, dict) and isinstance(target.get("enum"), list):
            for member in target["enum"]:
                if json.dumps(member, sort_keys=True) not in seen:
                    return member
            return _NO_VALUE
        for _ in range(20):
            value = self._gen(sub, depth + 1)
            if json.dumps(value, sort_keys=True) not in seen:
                return value
        return _NO_VALUE

    def _string(self, schema: dict[str, Any], depth: int) -> str:
        fmt = schema.get("format")
        fixed = {
            "date-time": "2024-01-01T00:00:00Z",
            "date": "2024-01-01",
            "time": "00:00:00Z",
            "email": "lorem@example.com",
            "uri": "https://example.com/lorem",
            "uuid": "00000000-0000-4000-8000-000000000000",
            "ipv4": "192.0.2.1",
        }
        if fmt in fixed:
            return fixed[fmt]
        text = " ".join(self._word() for _ in range(self.rng.randint(1, 3)))
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        while len(text) < lo:
            text += " " + self._word()
        if hi is not None:
            text = text[:hi]
        return text

    @staticmethod
    def _num(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def _integer(self, schema: dict[str, Any], depth: int) -> int:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        a = math.ceil(lo) if self._num(lo) else None
        b = math.floor(hi) if self._num(hi) else None
        if self._num(xlo):
            a = max(a, math.floor(xlo) + 1) if a is not None else math.floor(xlo) + 1
        if self._num(xhi):
            b = min(b, math.ceil(xhi) - 1) if b is not None else math.ceil(xhi) - 1
        if a is None and b is None:
            a, b = 0, 100
        elif a is None:
            a = b - 100
        elif b is None:
            b = a + 100
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            return math.ceil(a / step) * step
        return self.rng.randint(a, max(a, b))

    def _number(self, schema: dict[str, Any], depth: int) -> float | int:
        if schema.get("multipleOf") is not None:
            return self._integer(schema, depth)
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        a = lo if self._num(lo) else (xlo if self._num(xlo) else None)
        b = hi if self._num(hi) else (xhi if self._num(xhi) else None)
        if a is None and b is None:
            a, b = 0, 100
        elif a is None:
            a = b - 100
        elif b is None:
            b = a + 100
        value = round(a + (b - a) * (0.25 + 0.5 * self.rng.random()), 2)
        # Rounding must not push the value onto an exclusive bound.
        return value if a < value < b or a == b else (a + b) / 2

    def _boolean(self, schema: dict[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5

    def _null(self, schema: dict[str, Any], depth: int) -> None:
        return None


def instance_for(schema: dict[str, Any] | None, rng: random.Random) -> Any:
    return SchemaGenerator(schema or {}, rng).generate()
