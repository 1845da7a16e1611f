"""Self-tests of schemas/*.schema.json.

- each schema is a valid JSON Schema 2020-12 document, self-contained;
- agreement with the normalized OpenAPI spec: required / type / enum (and bounds,
  lengths, patterns, formats) of a walked set of object paths match the spec, or the
  difference is listed in schemas/DIFFERENCES.yaml (unlisted and stale entries fail);
- every recorded stream chunk, and the spec's own examples, validate (known spec
  example faults are listed in DIFFERENCES.yaml);
- broken documents fail with the expected `x-rule` attribution (docs/DESIGN.md);
- every rule id used by a schema exists in the rule catalogue (chatconform/rules.yaml).

Run: python -m pytest tests/test_schemas.py -q
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
from typing import Any, Iterator

import pytest
import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
# Vendored from the official spec and SDK (schemas/openai/SOURCE.md, tests/test_vendored.py).
SPEC_FILE = SCHEMAS / "openai" / "openai-chat-completions.normalized.openapi.yaml"
CAPTURES = ROOT / "fixtures" / "sdk-stream-captures"
DIFFERENCES_FILE = SCHEMAS / "DIFFERENCES.yaml"

OURS = ("request", "response", "chunk", "error")
SPEC_NAME = {
    "request": "CreateChatCompletionRequest",
    "response": "CreateChatCompletionResponse",
    "chunk": "CreateChatCompletionStreamResponse",
    "error": "ErrorResponse",
}


# ----------------------------------------------------------------------------------
# loading


def _load_schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


SCHEMA = {name: _load_schema(name) for name in OURS}
SPEC = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
DIFFS = yaml.safe_load(DIFFERENCES_FILE.read_text(encoding="utf-8"))


def _is_int(checker, value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(checker, value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# the engine's type checking: a JSON 12.0 is not an integer, true is not a number
StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_int, "number": _is_number}),
)
VALIDATOR = {name: StrictValidator(SCHEMA[name]) for name in OURS}


def spec_validator(component: str) -> Draft202012Validator:
    base = "urn:chatconform:spec"
    registry = Registry().with_resource(base, Resource.from_contents(SPEC, default_specification=DRAFT202012))
    return StrictValidator({"$ref": f"{base}#/components/schemas/{component}"}, registry=registry)


def rule_ids() -> set[str]:
    from chatconform import rules

    return set(rules.catalogue())


# ----------------------------------------------------------------------------------
# JSON pointers


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def resolve_pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in pointer.split("/")[1:] if pointer else []:
        part = _unescape(part)
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def resolve_ref(doc: dict, ref: str) -> tuple[Any, str]:
    assert ref.startswith("#"), f"non-local $ref {ref!r}"
    return resolve_pointer(doc, ref[1:]), ref[1:]


# ----------------------------------------------------------------------------------
# x-rule attribution (docs/DESIGN.md, "Schema rule attribution")


# The engine's attribution is the one under test: one implementation, used by the checks.
from chatconform.schemas import attribute  # noqa: E402


def rules_for(name: str, instance: Any) -> set[str]:
    return {attribute(SCHEMA[name], e) for e in VALIDATOR[name].iter_errors(instance)}


def errors_with_rules(name: str, instance: Any) -> set[tuple[str, str]]:
    out = set()
    for e in VALIDATOR[name].iter_errors(instance):
        ptr = "".join("/" + _escape(p) for p in e.absolute_path)
        out.add((ptr, attribute(SCHEMA[name], e)))
    return out


# ----------------------------------------------------------------------------------
# semantic view of a schema node (works on the spec and on our schemas alike)

COMPARED_KEYWORDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "format",
)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def deref(doc: dict, node: Any, ptr: str) -> tuple[Any, str]:
    while isinstance(node, dict) and "$ref" in node:
        node, ptr = resolve_ref(doc, node["$ref"])
    return node, ptr


def _inter(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def types_of(doc: dict, node: Any) -> frozenset | None:
    """The JSON types a node admits (None: unrestricted)."""
    node, _ = deref(doc, node, "")
    result = None
    if "type" in node:
        t = node["type"]
        result = frozenset(t if isinstance(t, list) else [t])
    for sub in node.get("allOf", []):
        result = _inter(result, types_of(doc, sub))
    for key in ("anyOf", "oneOf"):
        if key in node:
            union: frozenset | None = frozenset()
            for branch in node[key]:
                t = types_of(doc, branch)
                if t is None:
                    union = None
                    break
                union = union | t
            result = _inter(result, union)
    return result


def enums_of(doc: dict, node: Any) -> frozenset | None:
    """The values a node is limited to, as canonical JSON (None: not an enumeration)."""
    node, _ = deref(doc, node, "")
    result = None
    if "const" in node:
        result = frozenset([_canon(node["const"])])
    if "enum" in node:
        result = _inter(result, frozenset(_canon(v) for v in node["enum"]))
    for sub in node.get("allOf", []):
        result = _inter(result, enums_of(doc, sub))
    for key in ("anyOf", "oneOf"):
        if key in node:
            union: frozenset | None = frozenset()
            for branch in node[key]:
                e = enums_of(doc, branch)
                if e is None and types_of(doc, branch) == frozenset(["null"]):
                    e = frozenset(["null"])
                if e is None:
                    union = None
                    break
                union = union | e
            result = _inter(result, union)
    return result


def constraints_of(doc: dict, node: Any, acc: dict | None = None) -> dict:
    """Bounds, lengths, patterns and formats of a node and its allOf/anyOf/oneOf parts."""
    acc = {} if acc is None else acc
    node, _ = deref(doc, node, "")
    for k in COMPARED_KEYWORDS:
        if k in node:
            acc.setdefault(k, set()).add(_canon(node[k]))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            constraints_of(doc, sub, acc)
    return acc


def branches(doc: dict, node: Any, ptr: str) -> list[tuple[Any, str]]:
    """Alternatives of a node: anyOf/oneOf branches and if/then dispatch targets in allOf."""
    node, ptr = deref(doc, node, ptr)
    out: list[tuple[Any, str]] = []
    for key in ("anyOf", "oneOf"):
        for i, b in enumerate(node.get(key, [])):
            out += branches(doc, b, f"{ptr}/{key}/{i}")
    for i, part in enumerate(node.get("allOf", [])):
        part, p = deref(doc, part, f"{ptr}/allOf/{i}")
        if "then" in part:
            out += branches(doc, part["then"], f"{p}/then")
    return out or [(node, ptr)]


def parts(doc: dict, node: Any, ptr: str) -> list[tuple[Any, str]]:
    """A node and its allOf parts, recursively (the spec's request is an allOf chain)."""
    node, ptr = deref(doc, node, ptr)
    out = [(node, ptr)]
    for i, sub in enumerate(node.get("allOf", [])):
        out += parts(doc, sub, f"{ptr}/allOf/{i}")
    return out


def _objectish(doc: dict, node: Any, ptr: str) -> bool:
    t = types_of(doc, node)
    if t is not None:
        return "object" in t
    return any("properties" in n for n, _ in parts(doc, node, ptr))


def object_view(doc: dict, node: Any, ptr: str):
    """(properties: name -> [(node, ptr)], required, ptr) of the single object branch, or None."""
    cands = [(b, p) for b, p in branches(doc, node, ptr) if _objectish(doc, b, p)]
    if len(cands) != 1:
        return None
    b, p = cands[0]
    props: dict[str, list[tuple[Any, str]]] = {}
    required: set[str] = set()
    for n, pp in parts(doc, b, p):
        for name, sub in n.get("properties", {}).items():
            props.setdefault(name, []).append((sub, f"{pp}/properties/{_escape(name)}"))
        required |= set(n.get("required", []))
    return props, required, p


def _merge(cands: list[tuple[Any, str]]) -> tuple[Any, str]:
    if len(cands) == 1:
        return cands[0]
    # a property declared by several allOf parts: every declaration applies
    return {"allOf": [c for c, _ in cands]}, cands[0][1]


def _discriminator(doc: dict, node: Any, ptr: str, key: str):
    for n, _ in parts(doc, node, ptr):
        if key in n.get("properties", {}):
            e = enums_of(doc, n["properties"][key])
            if e is not None and len(e) == 1:
                return json.loads(next(iter(e)))
    return None


def step(doc: dict, node: Any, ptr: str, s: str) -> tuple[Any, str]:
    """One step of a walk path: `name`, `[]` (items), `{}` (additionalProperties),
    `@key=value` (the variant whose `key` is `value`), `~type` (the branch of that type)."""
    if s.startswith("@"):
        key, value = s[1:].split("=", 1)
        cands = [(b, p) for b, p in branches(doc, node, ptr) if _discriminator(doc, b, p, key) == value]
    elif s.startswith("~"):
        cands = [(b, p) for b, p in branches(doc, node, ptr) if s[1:] in (types_of(doc, b) or ())]
    else:
        cands = []
        for b, p in branches(doc, node, ptr):
            for n, pp in parts(doc, b, p):
                if s == "[]" and isinstance(n.get("items"), dict):
                    cands.append((n["items"], f"{pp}/items"))
                elif s == "{}" and isinstance(n.get("additionalProperties"), dict):
                    cands.append((n["additionalProperties"], f"{pp}/additionalProperties"))
                elif s not in ("[]", "{}") and s in n.get("properties", {}):
                    cands.append((n["properties"][s], f"{pp}/properties/{_escape(s)}"))
    if not cands:
        raise LookupError(f"step {s!r} not found at {ptr or '/'}")
    if s[0] in "@~" and len(cands) != 1:
        raise LookupError(f"step {s!r} is ambiguous at {ptr or '/'}: {[p for _, p in cands]}")
    return _merge(cands)


def walk(doc: dict, node: Any, ptr: str, path: str) -> tuple[Any, str]:
    for s in [x for x in path.split("/") if x]:
        node, ptr = step(doc, node, ptr, s)
    return node, ptr


# ----------------------------------------------------------------------------------
# comparison with the spec


def _show_types(t):
    return None if t is None else sorted(t)


def _show_enum(e):
    return None if e is None else [json.loads(v) for v in sorted(e)]


def _show_constraint(values):
    if values is None:
        return None
    vals = [json.loads(v) for v in sorted(values)]
    return vals[0] if len(vals) == 1 else vals


def node_diffs(s_node, s_ptr, o_node, o_ptr) -> Iterator[dict]:
    st, ot = types_of(SPEC, s_node), types_of(OUR_DOC[0], o_node)
    if st != ot:
        yield {
            "keyword": "type",
            "spec": _show_types(st),
            "ours": _show_types(ot),
            "pointer": o_ptr,
            "spec_pointer": s_ptr,
        }
    se, oe = enums_of(SPEC, s_node), enums_of(OUR_DOC[0], o_node)
    if se != oe:
        yield {
            "keyword": "enum",
            "spec": _show_enum(se),
            "ours": _show_enum(oe),
            "pointer": o_ptr,
            "spec_pointer": s_ptr,
        }
    sc, oc = constraints_of(SPEC, s_node), constraints_of(OUR_DOC[0], o_node)
    for k in sorted(set(sc) | set(oc)):
        if sc.get(k) != oc.get(k):
            yield {
                "keyword": k,
                "spec": _show_constraint(sc.get(k)),
                "ours": _show_constraint(oc.get(k)),
                "pointer": o_ptr,
                "spec_pointer": s_ptr,
            }


OUR_DOC: list[dict] = [{}]  # the schema being compared (set by compare())

WALK = {
    "request": [
        "",
        "messages/[]/@role=developer",
        "messages/[]/@role=developer/content/[]/@type=text",
        "messages/[]/@role=system",
        "messages/[]/@role=system/content/[]/@type=text",
        "messages/[]/@role=user",
        "messages/[]/@role=user/content/[]/@type=text",
        "messages/[]/@role=user/content/[]/@type=text/prompt_cache_breakpoint",
        "messages/[]/@role=user/content/[]/@type=image_url",
        "messages/[]/@role=user/content/[]/@type=image_url/image_url",
        "messages/[]/@role=user/content/[]/@type=input_audio",
        "messages/[]/@role=user/content/[]/@type=input_audio/input_audio",
        "messages/[]/@role=user/content/[]/@type=file",
        "messages/[]/@role=user/content/[]/@type=file/file",
        "messages/[]/@role=assistant",
        "messages/[]/@role=assistant/content/[]/@type=text",
        "messages/[]/@role=assistant/content/[]/@type=refusal",
        "messages/[]/@role=assistant/audio",
        "messages/[]/@role=assistant/function_call",
        "messages/[]/@role=assistant/tool_calls/[]/@type=function",
        "messages/[]/@role=assistant/tool_calls/[]/@type=function/function",
        "messages/[]/@role=assistant/tool_calls/[]/@type=custom",
        "messages/[]/@role=assistant/tool_calls/[]/@type=custom/custom",
        "messages/[]/@role=tool",
        "messages/[]/@role=tool/content/[]/@type=text",
        "messages/[]/@role=function",
        "tools/[]/@type=function",
        "tools/[]/@type=function/function",
        "tools/[]/@type=custom",
        "tools/[]/@type=custom/custom",
        "tools/[]/@type=custom/custom/format/@type=text",
        "tools/[]/@type=custom/custom/format/@type=grammar",
        "tools/[]/@type=custom/custom/format/@type=grammar/grammar",
        "tool_choice/~string",
        "tool_choice/@type=function",
        "tool_choice/@type=function/function",
        "tool_choice/@type=custom",
        "tool_choice/@type=custom/custom",
        "tool_choice/@type=allowed_tools",
        "tool_choice/@type=allowed_tools/allowed_tools",
        "response_format/@type=text",
        "response_format/@type=json_object",
        "response_format/@type=json_schema",
        "response_format/@type=json_schema/json_schema",
        "stream_options",
        "stop/[]",
        "logit_bias/{}",
        "metadata/{}",
        "modalities/[]",
        "audio",
        "audio/voice/~object",
        "prediction",
        "prediction/content/[]/@type=text",
        "web_search_options",
        "web_search_options/user_location",
        "web_search_options/user_location/approximate",
        "moderation",
        "moderation/policy",
        "moderation/policy/input",
        "moderation/policy/output",
        "prompt_cache_options",
        "function_call/~string",
        "function_call/~object",
        "functions/[]",
    ],
    "response": [
        "",
        "choices/[]",
        "choices/[]/message",
        "choices/[]/message/tool_calls/[]/@type=function",
        "choices/[]/message/tool_calls/[]/@type=function/function",
        "choices/[]/message/tool_calls/[]/@type=custom",
        "choices/[]/message/tool_calls/[]/@type=custom/custom",
        "choices/[]/message/annotations/[]",
        "choices/[]/message/annotations/[]/url_citation",
        "choices/[]/message/audio",
        "choices/[]/message/function_call",
        "choices/[]/logprobs",
        "choices/[]/logprobs/content/[]",
        "choices/[]/logprobs/content/[]/bytes/[]",
        "choices/[]/logprobs/content/[]/top_logprobs/[]",
        "choices/[]/logprobs/content/[]/top_logprobs/[]/bytes/[]",
        "choices/[]/logprobs/refusal/[]",
        "usage",
        "usage/completion_tokens_details",
        "usage/prompt_tokens_details",
        "metadata/{}",
        "moderation",
        "moderation/input/@type=moderation_results",
        "moderation/input/@type=moderation_results/results/[]",
        "moderation/input/@type=error",
        "moderation/output/@type=error",
    ],
    "chunk": [
        "",
        "choices/[]",
        "choices/[]/delta",
        "choices/[]/delta/tool_calls/[]",
        "choices/[]/delta/tool_calls/[]/function",
        "choices/[]/delta/function_call",
        "choices/[]/logprobs",
        "choices/[]/logprobs/content/[]",
        "choices/[]/logprobs/content/[]/bytes/[]",
        "choices/[]/logprobs/content/[]/top_logprobs/[]",
        "choices/[]/logprobs/content/[]/top_logprobs/[]/bytes/[]",
        "choices/[]/logprobs/refusal/[]",
        "usage",
        "usage/completion_tokens_details",
        "usage/prompt_tokens_details",
        "moderation",
        "moderation/input/@type=moderation_results",
        "moderation/input/@type=error",
    ],
    "error": ["", "error"],
}


def compare(name: str) -> dict[tuple[str, str, str], dict]:
    """Every required/type/enum/constraint difference along WALK[name], keyed by
    (schema file, pointer into our schema, keyword)."""
    ours = SCHEMA[name]
    OUR_DOC[0] = ours
    s_root = SPEC["components"]["schemas"][SPEC_NAME[name]]
    s_root_ptr = f"/components/schemas/{SPEC_NAME[name]}"
    found: dict[tuple[str, str, str], dict] = {}

    def add(diff: dict, path: str):
        diff = dict(diff, schema=f"{name}.schema.json", path=path or "/")
        found.setdefault((diff["schema"], diff["pointer"], diff["keyword"]), diff)

    for path in WALK[name]:
        s_node, s_ptr = walk(SPEC, s_root, s_root_ptr, path)
        o_node, o_ptr = walk(ours, ours, "", path)
        for d in node_diffs(s_node, s_ptr, o_node, o_ptr):
            add(d, path)
        s_view, o_view = object_view(SPEC, s_node, s_ptr), object_view(ours, o_node, o_ptr)
        assert (s_view is None) == (o_view is None), f"{name} {path}: object in one schema only"
        if s_view is None:
            continue
        s_props, s_req, s_optr = s_view
        o_props, o_req, o_optr = o_view
        if s_req != o_req:
            add(
                {
                    "keyword": "required",
                    "spec": sorted(s_req),
                    "ours": sorted(o_req),
                    "pointer": o_optr,
                    "spec_pointer": s_optr,
                },
                path,
            )
        for prop in sorted(set(s_props) | set(o_props)):
            if prop not in o_props or prop not in s_props:
                add(
                    {
                        "keyword": "properties",
                        "spec": prop if prop in s_props else None,
                        "ours": prop if prop in o_props else None,
                        "pointer": f"{o_optr}/properties/{_escape(prop)}",
                        "spec_pointer": s_optr,
                    },
                    path,
                )
                continue
            sn, sp = _merge(s_props[prop])
            on, op = _merge(o_props[prop])
            for d in node_diffs(sn, sp, on, op):
                add(d, f"{path}/{prop}" if path else prop)
    return found


# ----------------------------------------------------------------------------------
# tests: schema documents


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_valid_2020_12_schema(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("$id") == f"https://chatconform.invalid/schemas/{path.name}"


def _nodes(node: Any, ptr: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        yield ptr, node
        for k, v in node.items():
            yield from _nodes(v, f"{ptr}/{_escape(k)}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _nodes(v, f"{ptr}/{i}")


ANNOTATIONS = {"$ref", "description", "title", "x-rule", "x-rule-required", "deprecated", "examples"}


@pytest.mark.parametrize("name", OURS)
def test_self_contained_refs(name):
    """Every $ref is local and resolves; a $ref has only annotations beside it, so the
    attribution walk can follow it without ambiguity."""
    for ptr, node in _nodes(SCHEMA[name]):
        if isinstance(node.get("$ref"), str):
            target, _ = resolve_ref(SCHEMA[name], node["$ref"])
            assert isinstance(target, dict), ptr
            assert set(node) <= ANNOTATIONS, f"{name}{ptr}: structural keywords beside $ref: {set(node) - ANNOTATIONS}"


@pytest.mark.parametrize("name", ("response", "chunk", "error"))
def test_responses_are_open(name):
    for ptr, node in _nodes(SCHEMA[name]):
        assert node.get("additionalProperties") is not False, f"{name}{ptr} closes the object (RESP-021)"


def test_request_top_level_is_open():
    assert "additionalProperties" not in SCHEMA["request"]
    assert "unevaluatedProperties" not in SCHEMA["request"]
    assert VALIDATOR["request"].is_valid(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "x_conformance_probe": 1}
    )


def test_rule_ids_exist():
    known = rule_ids()
    assert len(known) >= 140, "the rule catalogue did not load"
    for name in OURS:
        for ptr, node in _nodes(SCHEMA[name]):
            if "x-rule" in node and isinstance(node["x-rule"], str):
                assert node["x-rule"] in known, f"{name}{ptr}: unknown rule {node['x-rule']}"
            if isinstance(node.get("x-rule-required"), dict):
                for prop, rid in node["x-rule-required"].items():
                    assert rid in known, f"{name}{ptr}: unknown rule {rid}"
                    assert prop in node.get("required", []), f"{name}{ptr}: x-rule-required names non-required {prop}"


def test_root_rules():
    assert SCHEMA["response"]["x-rule"] == "RESP-001"
    assert SCHEMA["chunk"]["x-rule"] == "STREAM-001"
    assert SCHEMA["error"]["x-rule"] == "ERR-001"


def test_integers_are_strict():
    """12.0 is a number, not an integer: the engine's type checker, used here too."""
    assert not VALIDATOR["error"].is_valid({"error": {"message": "m", "type": "t", "param": None, "code": 1.0}})
    assert rules_for("response", _response(created=1741570283.0)) == {"RESP-006"}


# ----------------------------------------------------------------------------------
# tests: agreement with the spec


def _listed() -> dict[tuple[str, str, str], dict]:
    out = {}
    for entry in DIFFS["differences"]:
        for field in ("schema", "pointer", "keyword", "spec", "ours", "reason", "spec_pointer", "kind"):
            assert field in entry, f"DIFFERENCES.yaml entry without {field}: {entry}"
        key = (entry["schema"], entry["pointer"], entry["keyword"])
        assert key not in out, f"listed twice: {key}"
        out[key] = entry
    return out


def test_differences_with_spec_are_listed():
    listed = {k: v for k, v in _listed().items() if v["kind"] == "compared"}
    found: dict = {}
    for name in OURS:
        found.update(compare(name))
    unlisted = [
        f"{d['schema']} {d['pointer']} [{d['keyword']}] spec={d['spec']!r} ours={d['ours']!r} (at {d['path']})"
        for k, d in sorted(found.items())
        if k not in listed
    ]
    stale = [f"{k[0]} {k[1]} [{k[2]}]" for k in sorted(listed) if k not in found]
    changed = [
        f"{k[0]} {k[1]} [{k[2]}]: listed spec={listed[k]['spec']!r} ours={listed[k]['ours']!r}, "
        f"now spec={found[k]['spec']!r} ours={found[k]['ours']!r} spec_pointer={found[k]['spec_pointer']}"
        for k in sorted(listed)
        if k in found
        and (
            listed[k]["spec"] != found[k]["spec"]
            or listed[k]["ours"] != found[k]["ours"]
            or listed[k]["spec_pointer"] != found[k]["spec_pointer"]
        )
    ]
    assert not unlisted, "differences from the spec not listed in DIFFERENCES.yaml:\n" + "\n".join(unlisted)
    assert not stale, "DIFFERENCES.yaml lists differences that no longer exist:\n" + "\n".join(stale)
    assert not changed, "DIFFERENCES.yaml entries out of date:\n" + "\n".join(changed)


def test_encoded_prose_differences_exist():
    """Entries whose keyword the comparison does not cover: the keyword is where the
    entry says, with the listed value, and the spec node it refers to exists."""
    for entry in _listed().values():
        if entry["kind"] == "compared":
            continue
        assert entry["kind"] == "encoded", entry
        node = resolve_pointer(_load_schema(entry["schema"].split(".")[0]), entry["pointer"])
        assert node.get(entry["keyword"]) == entry["ours"], entry
        spec_node = resolve_pointer(SPEC, entry["spec_pointer"])
        assert entry["keyword"] not in spec_node, entry


def test_walk_reaches_every_spec_path():
    """The comparison really walks the variants: each path exists in the spec (walk() raises otherwise)."""
    for name in OURS:
        s_root = SPEC["components"]["schemas"][SPEC_NAME[name]]
        for path in WALK[name]:
            walk(SPEC, s_root, "", path)
            walk(SCHEMA[name], SCHEMA[name], "", path)


# ----------------------------------------------------------------------------------
# tests: real traffic and the spec's examples


def capture_chunks() -> Iterator[tuple[str, dict]]:
    for path in sorted(CAPTURES.glob("*.sse")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.startswith("data: "):
                continue
            data = line[len("data: ") :]
            if data == "[DONE]":
                continue
            yield f"{path.name}:{n + 1}", json.loads(data)


def test_captures_validate():
    chunks = list(capture_chunks())
    assert len(chunks) == 380
    bad = [(label, e.message) for label, chunk in chunks for e in VALIDATOR["chunk"].iter_errors(chunk)]
    assert not bad, bad[:5]


def _json_objects(text: str) -> Iterator[Any]:
    try:
        yield json.loads(text)
        return
    except json.JSONDecodeError:
        pass
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            yield json.loads(line)


def spec_examples() -> Iterator[tuple[str, str, Any]]:
    """(example label, our schema name, instance) for every example the spec carries."""
    op = SPEC["paths"]["/chat/completions"]["post"]
    for ex in op["x-oaiMeta"]["examples"]:
        m = re.search(r"-d '(.*)'", ex["request"]["curl"], re.S)
        if m:
            yield ex["title"] + " request", "request", json.loads(m.group(1))
        for i, obj in enumerate(_json_objects(ex["response"])):
            kind = "chunk" if obj.get("object") == "chat.completion.chunk" else "response"
            yield ex["title"] if kind == "response" else f"{ex['title']} #{i}", kind, obj
    for component, kind in (
        ("CreateChatCompletionResponse", "response"),
        ("CreateChatCompletionStreamResponse", "chunk"),
    ):
        for i, obj in enumerate(_json_objects(SPEC["components"]["schemas"][component]["x-oaiMeta"]["example"])):
            yield f"{component} #{i}", kind, obj


def test_spec_examples_validate_except_listed():
    expected: dict[str, set] = {}
    for entry in DIFFS["spec_example_exceptions"]:
        expected.setdefault(entry["example"], set()).add((entry["schema"], entry["instance_pointer"], entry["rule"]))
    seen_labels = set()
    counts = {"request": 0, "response": 0, "chunk": 0}
    for label, kind, instance in spec_examples():
        seen_labels.add(label)
        counts[kind] += 1
        got = {(f"{kind}.schema.json", ptr, rule) for ptr, rule in errors_with_rules(kind, instance)}
        assert got == expected.get(label, set()), f"example {label!r}: {sorted(got)}"
    assert set(expected) <= seen_labels, f"exceptions for unknown examples: {set(expected) - seen_labels}"
    assert counts["request"] == 5 and counts["response"] >= 5 and counts["chunk"] >= 4, counts


def test_spec_itself_rejects_the_listed_examples():
    """The listed example faults are real faults of the spec's own examples, not of our schemas."""
    validators_ = {kind: spec_validator(SPEC_NAME[kind]) for kind in ("response", "chunk")}
    listed = {entry["example"] for entry in DIFFS["spec_example_exceptions"]}
    for label, kind, instance in spec_examples():
        if label in listed:
            assert not validators_[kind].is_valid(instance), label


# ----------------------------------------------------------------------------------
# tests: attribution of broken documents


def _response(**top) -> dict:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "OK", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 1,
            "total_tokens": 13,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_1",
    }
    body.update(top)
    return body


def _tool_response() -> dict:
    r = _response()
    r["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    r["choices"][0]["finish_reason"] = "tool_calls"
    return r


def _chunk(**top) -> dict:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1727346182,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_1",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ],
    }
    body.update(top)
    return body


def _error() -> dict:
    return {"error": {"message": "bad", "type": "invalid_request_error", "param": "temperature", "code": None}}


def _mutate(doc: dict, pointer: str, value: Any = ..., delete: bool = False) -> dict:
    doc = copy.deepcopy(doc)
    *head, last = [_unescape(p) for p in pointer.split("/")[1:]]
    parent = resolve_pointer(doc, "".join("/" + _escape(p) for p in head))
    last = int(last) if isinstance(parent, list) else last
    if delete:
        del parent[last]
    else:
        parent[last] = value
    return doc


DELETE = object()

NEGATIVE = [
    # (schema, base document, pointer, new value or DELETE, expected rules)
    ("response", _response, "/object", DELETE, {"RESP-002"}),
    ("response", _response, "/choices", DELETE, {"RESP-002"}),
    ("response", _response, "/object", "chat.completion.chunk", {"RESP-003"}),
    ("response", _response, "/id", 123, {"RESP-004"}),
    ("response", _response, "/created", "1741570283", {"RESP-006"}),
    ("response", _response, "/created", 1741570283.5, {"RESP-006"}),
    ("response", _response, "/model", None, {"RESP-007"}),
    ("response", _response, "/choices/0/logprobs", DELETE, {"RESP-008"}),
    ("response", _response, "/choices/0/index", "0", {"RESP-008"}),
    ("response", _response, "/choices/0/message", DELETE, {"RESP-008"}),
    ("response", _response, "/choices/0/message", "OK", {"RESP-008"}),
    ("response", _response, "/choices/0/message/role", "user", {"RESP-010"}),
    ("response", _response, "/choices/0/message/role", DELETE, {"RESP-010"}),
    ("response", _response, "/choices/0/message/content", DELETE, {"RESP-011"}),
    ("response", _response, "/choices/0/message/content", ["OK"], {"RESP-011"}),
    ("response", _response, "/choices/0/message/refusal", DELETE, {"RESP-012"}),
    ("response", _response, "/choices/0/message/refusal", False, {"RESP-012"}),
    ("response", _response, "/choices/0/finish_reason", None, {"RESP-013"}),
    ("response", _response, "/choices/0/finish_reason", "", {"RESP-013"}),
    ("response", _response, "/choices/0/finish_reason", "eos", {"RESP-013"}),
    ("response", _response, "/usage/total_tokens", "13", {"RESP-016"}),
    ("response", _response, "/usage/prompt_tokens", 12.0, {"RESP-016"}),
    ("response", _response, "/usage/completion_tokens", DELETE, {"RESP-016"}),
    ("response", _response, "/usage/prompt_tokens_details/cached_tokens", 0.5, {"RESP-019"}),
    ("response", _response, "/usage/completion_tokens_details", [], {"RESP-019"}),
    ("response", _response, "/system_fingerprint", 7, {"RESP-020"}),
    ("response", _response, "/service_tier", "gold", {"RESP-020"}),
    ("response", _response, "/choices/0/message/annotations", [{"type": "url_citation"}], {"RESP-020"}),
    ("response", _response, "/choices/0/logprobs", {"content": []}, {"PARAM-016"}),
    (
        "response",
        _response,
        "/choices/0/logprobs",
        {"content": [{"token": "OK", "logprob": "-0.1", "bytes": None, "top_logprobs": []}], "refusal": None},
        {"PARAM-016"},
    ),
    ("response", _tool_response, "/choices/0/message/tool_calls/0/function/arguments", {"city": "Paris"}, {"TOOL-005"}),
    ("response", _tool_response, "/choices/0/message/tool_calls/0/id", DELETE, {"TOOL-004"}),
    ("response", _tool_response, "/choices/0/message/tool_calls/0/type", "fn", {"TOOL-004"}),
    ("response", _tool_response, "/choices/0/message/tool_calls/0/function/name", 1, {"TOOL-004"}),
    ("response", _tool_response, "/choices/0/message/tool_calls", {"id": "call_1"}, {"TOOL-004"}),
    ("chunk", _chunk, "/object", "chat.completion", {"STREAM-004"}),
    ("chunk", _chunk, "/created", DELETE, {"STREAM-005"}),
    ("chunk", _chunk, "/id", DELETE, {"STREAM-005"}),
    ("chunk", _chunk, "/created", 1727346182.0, {"STREAM-007"}),
    ("chunk", _chunk, "/choices/0/finish_reason", DELETE, {"STREAM-009"}),
    ("chunk", _chunk, "/choices/0/delta", DELETE, {"STREAM-009"}),
    ("chunk", _chunk, "/choices/0/delta", "hi", {"STREAM-009"}),
    ("chunk", _chunk, "/choices/0/index", 0.0, {"STREAM-009"}),
    ("chunk", _chunk, "/choices/0/finish_reason", "", {"STREAM-010"}),
    ("chunk", _chunk, "/choices/0/finish_reason", "done", {"STREAM-010"}),
    ("chunk", _chunk, "/choices/0/delta/content", 5, {"STREAM-014"}),
    ("chunk", _chunk, "/choices/0/delta/refusal", [], {"STREAM-014"}),
    ("chunk", _chunk, "/choices/0/delta/role", "robot", {"STREAM-014"}),
    (
        "chunk",
        _chunk,
        "/choices/0/delta/tool_calls",
        [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}],
        {"TOOL-019"},
    ),
    ("chunk", _chunk, "/choices/0/delta/tool_calls", [{"index": "0", "function": {"arguments": "{"}}], {"TOOL-019"}),
    ("chunk", _chunk, "/choices/0/delta/tool_calls", [{"index": 0, "function": {"arguments": {}}}], {"TOOL-005"}),
    ("chunk", _chunk, "/usage", {"prompt_tokens": "12", "completion_tokens": 1, "total_tokens": 13}, {"STREAM-018"}),
    ("chunk", _chunk, "/usage", {"prompt_tokens": 12}, {"STREAM-018"}),
    ("chunk", _chunk, "/choices/0/logprobs", {"content": None}, {"PARAM-016"}),
    ("chunk", _chunk, "/system_fingerprint", 1, {"STREAM-022"}),
    ("error", _error, "/error", DELETE, {"ERR-001"}),
    ("error", _error, "/error", "bad request", {"ERR-001"}),
    ("error", _error, "/error/param", DELETE, {"ERR-002"}),
    ("error", _error, "/error/code", DELETE, {"ERR-002"}),
    ("error", _error, "/error/code", 404, {"ERR-002"}),
    ("error", _error, "/error/type", None, {"ERR-002"}),
    ("error", _error, "/error/message", {"text": "bad"}, {"ERR-002"}),
]


@pytest.mark.parametrize(
    "name,base,pointer,value,expected",
    NEGATIVE,
    ids=[f"{n}:{p}={'DELETE' if v is DELETE else json.dumps(v)[:30]}" for n, _, p, v, _ in NEGATIVE],
)
def test_broken_documents_are_attributed(name, base, pointer, value, expected):
    doc = base()
    assert VALIDATOR[name].is_valid(doc), list(VALIDATOR[name].iter_errors(doc))
    broken = _mutate(doc, pointer, delete=True) if value is DELETE else _mutate(doc, pointer, value)
    assert rules_for(name, broken) == expected


def test_error_body_not_an_object():
    assert rules_for("error", "Internal Server Error") == {"ERR-001"}
    assert rules_for("error", {"message": "bad"}) == {"ERR-001"}


def test_response_tolerances():
    """What the suite must accept: extensions, null system_fingerprint, null logprobs,
    content null with tool calls, a stream chunk's usage null or absent."""
    ok = _response(system_fingerprint=None, x_vendor={"a": 1})
    ok["choices"][0]["message"]["reasoning"] = "thinking..."
    ok["usage"]["tokens_per_second"] = 40.5
    assert VALIDATOR["response"].is_valid(ok)
    assert VALIDATOR["response"].is_valid(_tool_response())
    for usage in (None, ...):
        chunk = _chunk() if usage is ... else _chunk(usage=usage)
        assert VALIDATOR["chunk"].is_valid(chunk)
    final = _chunk(choices=[], usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    assert VALIDATOR["chunk"].is_valid(final)
    assert VALIDATOR["chunk"].is_valid(_chunk(system_fingerprint=None, obfuscation="x1"))


# ----------------------------------------------------------------------------------
# tests: requests


P_MIN = {"model": "m", "messages": [{"role": "user", "content": "Reply with the single word OK."}]}
P_TOOL = {
    "model": "m",
    "messages": [{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ],
    "tool_choice": "required",
}

VALID_REQUESTS = [
    P_MIN,
    dict(P_MIN, stream=True, stream_options={"include_usage": True}),
    P_TOOL,
    dict(P_TOOL, tool_choice={"type": "function", "function": {"name": "get_weather"}}, parallel_tool_calls=False),
    {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}], "name": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
                "name": "alice",
            },
            {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "function", "name": "f", "content": None},
            {"role": "assistant", "audio": {"id": "audio_abc123"}},
            {"role": "assistant", "content": None, "refusal": "I can't help with that."},
            {"role": "user", "content": "Thanks"},
        ],
    },
    dict(
        P_MIN,
        temperature=0,
        top_p=1,
        presence_penalty=-2,
        frequency_penalty=2,
        n=128,
        seed=-9223372036854775808,
        stop=["a", "b", "c", "d"],
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=20,
        max_tokens=16,
        max_completion_tokens=16,
        metadata={f"k{i}": "v" for i in range(16)},
        store=False,
        service_tier="flex",
        reasoning_effort="max",
        verbosity="low",
        modalities=["text", "audio"],
        audio={"voice": {"id": "voice_1234"}, "format": "pcm16"},
        prediction={"type": "content", "content": "x"},
        user="u",
        safety_identifier="s" * 64,
        prompt_cache_key="k",
        prompt_cache_retention="24h",
        prompt_cache_options={"ttl": "30m", "mode": "explicit"},
        moderation={"model": "omni-moderation-latest"},
        web_search_options={"user_location": {"type": "approximate", "approximate": {"city": "Paris"}}},
    ),
    dict(
        P_MIN,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer-1_x", "schema": {"type": "object"}, "strict": True},
        },
    ),
    dict(P_MIN, response_format={"type": "json_object"}, stop="\n"),
    dict(
        P_MIN,
        tools=[
            {
                "type": "custom",
                "custom": {
                    "name": "c",
                    "format": {"type": "grammar", "grammar": {"definition": "x", "syntax": "lark"}},
                },
            }
        ],
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {"mode": "auto", "tools": [{"type": "custom", "custom": {"name": "c"}}]},
        },
    ),
    dict(P_MIN, functions=[{"name": "f"}], function_call={"name": "f"}),
]


@pytest.mark.parametrize("index", range(len(VALID_REQUESTS)))
def test_valid_requests(index):
    req = VALID_REQUESTS[index]
    assert not list(VALIDATOR["request"].iter_errors(req))


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
    "verbosity",
    "modalities",
    "audio",
    "prediction",
    "moderation",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
]
NOT_NULLABLE = ["top_logprobs", "tools", "tool_choice", "response_format", "user", "parallel_tool_calls"]


def test_request_nullability_matches_http_007_and_the_spec():
    spec = spec_validator("CreateChatCompletionRequest")
    for field in NULLABLE + NOT_NULLABLE:
        req = dict(P_MIN, **{field: None})
        ours_ok = VALIDATOR["request"].is_valid(req)
        assert ours_ok == (field in NULLABLE), field
        assert spec.is_valid(req) == ours_ok, f"{field}: the composed spec schema disagrees"


INVALID_REQUESTS = [
    ({"messages": P_MIN["messages"]}, {"REQ-002"}),
    (dict(P_MIN, messages=[]), {"REQ-002"}),
    (dict(P_MIN, messages="hi"), {"REQ-004"}),
    ([P_MIN], {"REQ-003"}),
    (dict(P_MIN, temperature="hot"), {"REQ-004"}),
    (dict(P_MIN, temperature=2.1), {"PARAM-011"}),
    (dict(P_MIN, top_p=1.5), {"PARAM-011"}),
    (dict(P_MIN, presence_penalty=2.5), {"PARAM-011"}),
    (dict(P_MIN, n=0), {"PARAM-009"}),
    (dict(P_MIN, n=2.0), {"REQ-004"}),
    (dict(P_MIN, stream="yes"), {"REQ-004"}),
    (dict(P_MIN, max_tokens=1.5), {"PARAM-003"}),
    (dict(P_MIN, stop=["1", "2", "3", "4", "5"]), {"PARAM-006"}),
    (dict(P_MIN, stop=[]), {"PARAM-006"}),
    (dict(P_MIN, logit_bias={"1": 101}), {"PARAM-013"}),
    (dict(P_MIN, logit_bias={"hello": 1}), {"PARAM-013"}),
    (dict(P_MIN, top_logprobs=2), {"PARAM-015"}),
    (dict(P_MIN, logprobs=True, top_logprobs=21), {"PARAM-015"}),
    (dict(P_MIN, stream_options={"include_usage": True}), {"STREAM-019"}),
    (dict(P_MIN, response_format={"type": "xml"}), {"PARAM-027"}),
    (dict(P_MIN, response_format={"type": "json_schema", "json_schema": {"schema": {}}}), {"PARAM-027"}),
    (dict(P_MIN, response_format={"type": "json_schema", "json_schema": {"name": "bad name"}}), {"PARAM-025"}),
    (dict(P_MIN, metadata={f"k{i}": "v" for i in range(17)}), {"PARAM-028"}),
    (dict(P_MIN, messages=[{"role": "robot", "content": "hi"}]), {"REQ-010"}),
    (dict(P_MIN, messages=[{"content": "hi"}]), {"REQ-010"}),
    (dict(P_MIN, messages=[{"role": "user"}]), {"REQ-010"}),
    (dict(P_MIN, messages=[{"role": "user", "content": 5}]), {"REQ-007"}),
    (dict(P_MIN, messages=[{"role": "user", "content": []}]), {"REQ-011"}),
    (dict(P_MIN, messages=[{"role": "user", "content": [{"type": "text"}]}]), {"REQ-011"}),
    (dict(P_MIN, messages=[{"role": "user", "content": [{"type": "video", "video": {}}]}]), {"REQ-011"}),
    (
        dict(
            P_MIN,
            messages=[{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
        ),
        {"CONTENT-002"},
    ),
    (
        dict(
            P_MIN,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "ultra"}}],
                }
            ],
        ),
        {"VISION-004"},
    ),
    (
        dict(
            P_MIN,
            messages=[
                {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}]}
            ],
        ),
        {"AUDIO-002"},
    ),
    (dict(P_MIN, messages=[{"role": "assistant"}]), {"REQ-008"}),
    (dict(P_MIN, messages=[{"role": "assistant", "content": None}]), {"REQ-008"}),
    (
        dict(
            P_MIN,
            messages=[
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}, {"type": "text", "text": "x"}]}
            ],
        ),
        {"REQ-008"},
    ),
    (dict(P_MIN, messages=[{"role": "tool", "content": "sunny"}]), {"TOOL-016"}),
    (
        dict(
            P_MIN,
            messages=[
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}],
                }
            ],
        ),
        {"TOOL-005"},
    ),
    (dict(P_TOOL, tools=[{"type": "function", "function": {"name": "bad name!"}}]), {"TOOL-003"}),
    (dict(P_TOOL, tools=[{"type": "function", "function": {"name": "f" * 65}}]), {"TOOL-003"}),
    (dict(P_TOOL, tools=[{"type": "function", "function": {"description": "no name"}}]), {"TOOL-001"}),
    (dict(P_TOOL, tool_choice="sometimes"), {"TOOL-010"}),
    (dict(P_TOOL, tool_choice={"type": "function"}), {"TOOL-010"}),
    (dict(P_TOOL, parallel_tool_calls="yes"), {"TOOL-015"}),
]


@pytest.mark.parametrize("index", range(len(INVALID_REQUESTS)))
def test_invalid_requests_are_attributed(index):
    req, expected = INVALID_REQUESTS[index]
    assert rules_for("request", req) == expected
