"""Compiled JSON Schema validators for schemas/*.json, with rule attribution.

Validators are built once per process and reused.  Types are strict: a JSON `12.0`
is not an `integer` and `true` is not a number, as typed clients see it (RESP-018).
Every error is attributed to a rule through the schema's `x-rule` /
`x-rule-required` annotations (docs/DESIGN.md).
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import json
import marshal
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterator

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from .paths import SCHEMA_DIR, cache_dir
from .sharedfile import write_atomic


def _is_int(checker, value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(checker, value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_STRICT_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_int, "number": _is_number})
StrictValidator = validators.extend(Draft202012Validator, type_checker=_STRICT_TYPES)


@dataclass
class SchemaError:
    rule: str
    pointer: str  # JSON pointer into the instance
    message: str
    value: Any


@functools.lru_cache(maxsize=None)
def load(name: str) -> dict:
    path = SCHEMA_DIR / f"{name}.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    # No check_schema here: it costs ~0.4 s a run, and tests/test_schemas.py checks
    # every schema document against the 2020-12 metaschema.
    return StrictValidator(load(name))


def _pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def _resolve_local(root: dict, ref: str) -> Any:
    node: Any = root
    if not ref.startswith("#"):
        return None
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


_MAPPING_KEYWORDS = {"properties", "patternProperties", "dependentSchemas", "$defs"}


def _required_property(error: ValidationError) -> str | None:
    m = re.match(r"^(.*) is a required property$", error.message, re.S)
    if not m:
        return None
    try:
        return ast.literal_eval(m.group(1))
    except (ValueError, SyntaxError):
        return None


def attribute(root: dict, error: ValidationError) -> str:
    """The rule a validation error breaks.

    Walk `error.absolute_schema_path` from the root; the deepest node carrying `x-rule`
    wins (the root's is the fallback).  jsonschema does not record `$ref` in schema
    paths: when the next key is not in the current node and the node has a `$ref`, the
    walk continues in the referenced node.  A `required` error goes through
    `x-rule-required[<missing property>]` of the node that owns the `required` keyword.
    """
    rule = root.get("x-rule", "")
    node: Any = root
    path = list(error.absolute_schema_path)
    for i, key in enumerate(path):
        while isinstance(node, dict) and key not in node and "$ref" in node:
            node = _resolve_local(root, node["$ref"])
            if isinstance(node, dict) and "x-rule" in node:
                rule = node["x-rule"]
        if i == len(path) - 1 or not isinstance(node, (dict, list)):
            break  # `key` is the failing keyword; `node` owns it
        mapping = key in _MAPPING_KEYWORDS  # a name -> schema map is not itself a schema
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        if not mapping and isinstance(node, dict) and "x-rule" in node:
            rule = node["x-rule"]
    if error.validator == "required" and isinstance(node, dict):
        prop = _required_property(error)
        by_prop = node.get("x-rule-required", {})
        if prop in by_prop:
            return by_prop[prop]
    return rule


def _leaf(error: ValidationError) -> ValidationError:
    # anyOf/oneOf report one vague error; descend to the most relevant branch error
    # so the attribution (and message) names the real fault.
    while error.context:
        deeper = best_match(error.context)
        if deeper is None:
            break
        error = deeper
    return error


# 2019-09/2020-12 keywords fastjsonschema (drafts 4 to 7) does not know: it skips them
# silently, so a schema using one would be validated as if the keyword were absent.
_UNKNOWN_TO_FAST = (
    "dependentRequired",
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "minContains",
    "maxContains",
    "$dynamicRef",
    "$recursiveRef",
)


def _for_fast(node: Any) -> Any:
    """The schema rewritten in keywords fastjsonschema knows, with the same meaning.

    `dependentSchemas: {k: S}` means "if k is present, the instance must match S",
    which draft 7 spells `if: {required: [k]}, then: S`.  Any other keyword it does not
    know raises, and the fast path is off for that schema.
    """
    if isinstance(node, list):
        return [_for_fast(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _UNKNOWN_TO_FAST:
            raise ValueError(f"fastjsonschema does not know {key}")
        if key in ("properties", "$defs", "patternProperties"):
            out[key] = {k: _for_fast(v) for k, v in value.items()}
        elif key == "dependentSchemas":
            conditions = [{"if": {"required": [k]}, "then": _for_fast(v)} for k, v in value.items()]
            out["allOf"] = out.get("allOf", []) + conditions
        elif key == "allOf":
            out["allOf"] = [_for_fast(v) for v in value] + out.get("allOf", [])
        else:
            out[key] = _for_fast(value)
    return out


@functools.lru_cache(maxsize=None)
def _fast(name: str):
    """A compiled fast validator for the common case (a valid document), or None.

    fastjsonschema generates Python code from the schema: ~20 µs a chunk where
    jsonschema's interpreter takes ~600 µs.  It only ever answers "valid"; any doubt
    goes to the full jsonschema validation, which gives the errors and their rules.
    It is laxer than our strict types in one known way (12.0 passes as an integer),
    so integral floats are shown to it as _NotAnInteger.
    """
    try:
        import fastjsonschema

        return _compiled(_for_fast(load(name)), fastjsonschema)
    except Exception:  # not installed, a keyword it does not know, or a schema feature it rejects
        return None


def _compiled(schema: dict, fastjsonschema):
    """fastjsonschema's validator for `schema`, its generated code cached as bytecode.

    Generating and compiling the request schema's ~400 KB of code takes ~0.2 s, in every
    process that validates (the pytest process and the one drawing examples ahead), on
    the first test's critical path.  The cache is keyed by the schema, the
    fastjsonschema version and the Python bytecode tag, like __pycache__; an unreadable
    or stale entry is simply regenerated, and an unwritable cache directory only costs
    the time."""
    text = json.dumps([fastjsonschema.VERSION, sys.implementation.cache_tag, schema], sort_keys=True)
    path = cache_dir() / f"fastjsonschema-{hashlib.sha256(text.encode()).hexdigest()[:32]}.marshal"
    try:
        scope, code = marshal.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - absent, torn, or from another Python: regenerate
        scope = fastjsonschema.ref_resolver.RefResolver.from_schema(copy.deepcopy(schema), store={}).get_scope_name()
        code = compile(fastjsonschema.compile_to_code(copy.deepcopy(schema)), f"<fastjsonschema {scope}>", "exec")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, marshal.dumps((scope, code)))
        except OSError:
            pass
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - code fastjsonschema generated from our own schema
    return namespace[scope]


class _NotAnInteger(float):
    """An integral float (12.0) as fastjsonschema must see it: our types are strict
    (12.0 is a number, not an integer), while fastjsonschema's integer test accepts any
    float whose is_integer() is true.  Comparisons, ranges and enums are unchanged."""

    def is_integer(self) -> bool:
        return False


def _strict_floats(value: Any) -> Any:
    """`value` with every integral float wrapped in _NotAnInteger.  Copies only the
    containers on the way to such a float and skips scalars without a call: this runs
    on every chunk of every stream."""
    t = type(value)
    if t is float:
        return _NotAnInteger(value) if value.is_integer() else value
    if t is dict:
        items = value.items()
    elif t is list:
        items = enumerate(value)
    else:
        return value
    changed = None
    for k, v in items:
        tv = type(v)
        if tv is dict or tv is list or tv is float:
            nv = _strict_floats(v)
            if nv is not v:
                if changed is None:
                    changed = t(value)  # a shallow copy, made once
                changed[k] = nv
    return value if changed is None else changed


def fast_valid(name: str, instance: Any) -> bool:
    fast = _fast(name)
    if fast is None:
        return False
    try:
        fast(_strict_floats(instance))
        return True
    except Exception:
        return False


def errors(name: str, instance: Any) -> Iterator[SchemaError]:
    if fast_valid(name, instance):
        return
    v = validator(name)
    root = load(name)
    seen = set()
    for err in v.iter_errors(instance):
        leaf = _leaf(err)
        rule = attribute(root, leaf)
        ptr = _pointer(leaf.absolute_path)
        key = (rule, ptr, leaf.message)
        if key in seen:
            continue
        seen.add(key)
        yield SchemaError(rule=rule, pointer=ptr, message=leaf.message, value=leaf.instance)


def is_valid(name: str, instance: Any) -> bool:
    return fast_valid(name, instance) or validator(name).is_valid(instance)


# -- where each x-rule applies: which rules a document exercises ----------------------------
# A schema rule is judged on a document only where the document has the node the rule is
# attached to: TOOL-004 (the tool-call shape) on an answer that carries tool calls, not on
# every answer.  The sites are the instance paths of the annotated nodes ("*" any member,
# "#" any item); a rule counts as judged when the document has a non-null value at one
# of them (the root always counts).
@functools.lru_cache(maxsize=None)
def rule_sites(name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    root = load(name)
    sites: list[tuple[str, tuple[str, ...]]] = []
    seen: set = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        if "x-rule" in node:
            sites.append((node["x-rule"], path))
        for rule in (node.get("x-rule-required") or {}).values():
            sites.append((rule, path))
        ref = node.get("$ref")
        if isinstance(ref, str) and (ref, path) not in seen:
            seen.add((ref, path))
            walk(_resolve_local(root, ref), path)
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, path + (key,))
        for sub in (node.get("patternProperties") or {}).values():
            walk(sub, path + ("*",))
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], path + ("*",))
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + ("#",))
        for sub in node.get("prefixItems") or ():
            walk(sub, path + ("#",))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key) or ():
                walk(sub, path)
        for key in ("if", "then", "else", "not"):
            walk(node.get(key), path)
        for sub in (node.get("dependentSchemas") or {}).values():
            walk(sub, path)

    walk(root, ())
    return tuple(dict.fromkeys(sites))


def rules_of(name: str) -> tuple[str, ...]:
    """Every rule a schema attributes errors to."""
    return tuple(dict.fromkeys(rule for rule, _ in rule_sites(name)))


def _present(value: Any, path: tuple[str, ...]) -> bool:
    if not path:
        return value is not None  # a null exercises no shape (logprobs: null, usage: null)
    head, rest = path[0], path[1:]
    if head == "#":
        return isinstance(value, list) and any(_present(v, rest) for v in value)
    if head == "*":
        return isinstance(value, dict) and any(_present(v, rest) for v in value.values())
    return isinstance(value, dict) and head in value and _present(value[head], rest)


def exercised(name: str, instances) -> set[str]:
    """The rules of schema `name` that these documents exercise (see rule_sites)."""
    out: set[str] = set()
    for rule, path in rule_sites(name):
        if rule not in out and any(_present(doc, path) for doc in instances):
            out.add(rule)
    return out
