"""Generated JSON Schemas: tool `parameters` and `response_format.json_schema.schema`.

The vocabulary is the one every structured-output implementation supports (type,
properties, required, additionalProperties, items, enum, min/max bounds, description),
so a conformant server can honour any schema drawn here.  `strict=True` draws only
schemas that follow OpenAI's strict-mode limits (every object closed, every property
required), which such servers otherwise refuse with 400.
"""

from __future__ import annotations

import functools

from hypothesis import strategies as st

from .text import integer_in, texts, words


def _described(schema_st: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    return st.builds(lambda s, d: {**s, "description": d} if d is not None else s, schema_st, st.none() | texts(20))


@functools.lru_cache(maxsize=None)
def _leaf() -> st.SearchStrategy[dict]:
    def bounded_int(a, b):
        lo, hi = min(a, b), max(a, b)
        return {"type": "integer", "minimum": lo, "maximum": hi}

    return _described(
        st.one_of(
            st.just({"type": "string"}),
            st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(1, 40)),
            st.builds(
                lambda vals: {"type": "string", "enum": vals}, st.lists(words(), min_size=1, max_size=4, unique=True)
            ),
            st.just({"type": "integer"}),
            st.builds(bounded_int, integer_in(-1000, 1000), integer_in(-1000, 1000)),
            st.just({"type": "number"}),
            st.just({"type": "boolean"}),
            st.builds(lambda vals: {"enum": vals}, st.lists(integer_in(-5, 5), min_size=1, max_size=3, unique=True)),
        )
    )


def _object_of(children: st.SearchStrategy[dict], strict: bool) -> st.SearchStrategy[dict]:
    props = st.dictionaries(words(), children, max_size=4)
    if strict:
        return props.map(
            lambda p: {"type": "object", "properties": p, "required": list(p), "additionalProperties": False}
        )

    def loose(p: dict, mask: int, extra) -> dict:
        node = {"type": "object", "properties": p}
        if p:
            node["required"] = [k for i, k in enumerate(p) if mask >> i & 1]
        if extra is not None:
            node["additionalProperties"] = extra
        return node

    return st.builds(loose, props, st.integers(0, 15), st.sampled_from([None, False, True]))


def _array_of(children: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    def build(items: dict, bounds) -> dict:
        node = {"type": "array", "items": items}
        if bounds is not None:
            node["minItems"], node["maxItems"] = bounds[0], bounds[0] + bounds[1]
        return node

    return st.builds(build, children, st.none() | st.tuples(st.integers(0, 2), st.integers(0, 3)))


@functools.lru_cache(maxsize=None)
def json_schemas(strict: bool = False, max_leaves: int = 6) -> st.SearchStrategy[dict]:
    """An object-rooted JSON Schema: nested objects, arrays, enums, required lists."""
    # Arrays hold leaves or objects, never arrays directly: instances stay small (a
    # server that honours the schema writes them within a small token limit).
    node = st.recursive(
        _leaf(),
        lambda kids: st.one_of(_array_of(_leaf() | _object_of(kids, strict)), _object_of(kids, strict)),
        max_leaves=max_leaves,
    )
    return _described(_object_of(node, strict))


@functools.lru_cache(maxsize=None)
def tool_parameters(strict: bool = False) -> st.SearchStrategy[dict | None]:
    """`function.parameters`: None means "leave the key out" (TOOL-002: a function without parameters)."""
    empty = {"type": "object", "properties": {}}
    if strict:
        empty = {**empty, "required": [], "additionalProperties": False}
    return st.one_of(st.none(), st.just(empty), json_schemas(strict=strict, max_leaves=4))
