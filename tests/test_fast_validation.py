"""The fast validator may only ever answer "valid" where the full, strict jsonschema
validation agrees: a laxer fast path would hide violations.  Checked by mutating every
field of real documents into every JSON type."""

import copy

import pytest

from chatconform import schemas
from chatconform.paths import FIXTURES_DIR
from chatconform.sse import parse
from tests.helpers import good_response

CAPTURES = FIXTURES_DIR / "sdk-stream-captures"
REPLACEMENTS = [None, 0, 1, 1.0, 12.0, -1, 2.5, "", "x", "stop", True, False, [], {}, ["x"], {"a": 1}]


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def mutants(doc):
    for path in paths(doc):
        if not path:
            continue
        for rep in REPLACEMENTS:
            m = copy.deepcopy(doc)
            node = m
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = rep
            yield m
        if isinstance(path[-1], str):
            m = copy.deepcopy(doc)
            node = m
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
            yield m


def documents():
    docs = [("response", good_response())]
    if CAPTURES.is_dir():
        seen = set()
        for f in sorted(CAPTURES.glob("*.sse")):
            for c in parse(f.read_bytes()).chunks:
                shape = repr(sorted(paths(c)))
                if shape not in seen:
                    seen.add(shape)
                    docs.append(("chunk", c))
    docs.append(("error", {"error": {"message": "m", "type": "t", "param": None, "code": None}}))
    docs += [("request", r) for r in REQUESTS]
    return docs


# Requests touching the request schema's conditional parts (dependentSchemas, if/then,
# message roles, content parts, tools, response formats), each valid as written.
REQUESTS = [
    {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "logprobs": True,
        "top_logprobs": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 5,
        "stop": ["a"],
        "n": 2,
    },
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": "s"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "t"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
    },
    {
        "model": "m",
        "messages": [{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "strict": True, "schema": {"type": "object", "properties": {}}},
        },
        "temperature": 0.5,
        "top_p": 1,
        "seed": 7,
        "presence_penalty": 0,
        "frequency_penalty": 0,
    },
]


@pytest.mark.parametrize("name,doc", documents(), ids=lambda x: x if isinstance(x, str) else "")
def test_fast_path_never_laxer(name, doc):
    assert schemas.fast_valid(name, doc) and schemas.validator(name).is_valid(doc)
    checked = 0
    for m in mutants(doc):
        if schemas.fast_valid(name, m):
            assert schemas.validator(name).is_valid(m), f"fast path accepted what the schema rejects: {m}"
        checked += 1
    assert checked > 20


def test_fast_path_keeps_dependent_schemas():
    """fastjsonschema ignores dependentSchemas: the fast path gets them rewritten as
    if/then, or `top_logprobs` without `logprobs` would pass as valid."""
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert schemas._fast("request") is not None
    assert not schemas.fast_valid("request", {**base, "top_logprobs": 2})
    assert not schemas.fast_valid("request", {**base, "stream_options": {"include_usage": True}})
    assert schemas.fast_valid("request", {**base, "logprobs": True, "top_logprobs": 2})
    assert not schemas.is_valid("request", {**base, "top_logprobs": 2})
    assert not schemas.is_valid("request", {**base, "stream_options": {"include_usage": True}})
    assert schemas.is_valid("request", {**base, "logprobs": True, "top_logprobs": 2})


def test_fast_path_off_for_keywords_it_does_not_know():
    with pytest.raises(ValueError):
        schemas._for_fast({"type": "array", "prefixItems": [{"type": "string"}]})
    rewritten = schemas._for_fast({"allOf": [{"type": "object"}], "dependentSchemas": {"a": {"required": ["b"]}}})
    assert rewritten == {"allOf": [{"type": "object"}, {"if": {"required": ["a"]}, "then": {"required": ["b"]}}]}


def test_integral_floats_are_numbers_not_integers():
    """12.0 is a number but not an integer (strict types); the fast path judges such
    documents itself instead of sending every one of them to the slow path."""
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert schemas.fast_valid("request", {**base, "temperature": 1.0, "top_p": 1.0})
    assert not schemas.fast_valid("request", {**base, "n": 2.0})
    assert not schemas.fast_valid("request", {**base, "max_completion_tokens": 16.0})
    assert not schemas.validator("request").is_valid({**base, "n": 2.0})


def test_compiled_validators_are_cached_and_a_bad_entry_is_regenerated(tmp_path, monkeypatch):
    """The generated code is cached as bytecode (schemas._compiled); a cached validator
    judges like a fresh one, and a torn cache entry is regenerated, not trusted."""
    import fastjsonschema

    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))
    schema = schemas._for_fast(schemas.load("chunk"))
    fresh = schemas._compiled(schema, fastjsonschema)
    [entry] = list(tmp_path.iterdir())
    cached = schemas._compiled(schema, fastjsonschema)
    entry.write_bytes(b"torn")
    regenerated = schemas._compiled(schema, fastjsonschema)
    assert entry.read_bytes() != b"torn"
    good = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    bad = {**good, "object": "chat.completion"}
    for validate in (fresh, cached, regenerated):
        assert validate(good) == good
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(bad)
