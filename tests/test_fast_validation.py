"""The fast validator may only ever answer "valid" where the full, strict jsonschema
validation agrees: a laxer fast path would hide violations.  Checked by mutating every
field of real documents into every JSON type."""
import copy
import pathlib

import pytest

from chatconform import schemas
from chatconform.sse import parse
from tests.helpers import good_response

CAPTURES = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "sdk-stream-captures"
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
    return docs


@pytest.mark.parametrize("name,doc", documents(), ids=lambda x: x if isinstance(x, str) else "")
def test_fast_path_never_laxer(name, doc):
    assert schemas.fast_valid(name, doc) and schemas.validator(name).is_valid(doc)
    checked = 0
    for m in mutants(doc):
        if schemas.fast_valid(name, m):
            assert schemas.validator(name).is_valid(m), f"fast path accepted what the schema rejects: {m}"
        checked += 1
    assert checked > 20


def test_fast_path_off_where_it_ignores_keywords():
    """fastjsonschema ignores dependentSchemas: the request schema must take the full path,
    or `top_logprobs` without `logprobs` would pass as valid."""
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert not schemas.is_valid("request", {**base, "top_logprobs": 2})
    assert not schemas.is_valid("request", {**base, "stream_options": {"include_usage": True}})
    assert schemas.is_valid("request", {**base, "logprobs": True, "top_logprobs": 2})
