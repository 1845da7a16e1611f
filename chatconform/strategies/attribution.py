"""Which rule a request exercises: for a VALID request a server refused, and for an
INVALID request a server accepted.

* invalid: `invalid_reasons(body)` = the schema's errors, each attributed to the rule that
  says a server must REFUSE it (`refusal_rule`: the request schema's `x-refuse` /
  `x-refuse-required` annotation where its `x-rule` names a rule about accepting valid
  input, else the `x-rule`), plus the constraints the spec states only in prose, which
  the schema does not encode (`prose_errors`): token limits <= 0 (PARAM-003), a
  tool_choice without tools or naming an unknown function (TOOL-014), tool messages that
  answer nothing and tool calls left unanswered (TOOL-018).  A server that accepts an
  invalid value (clamps `seed: 2**63`, coerces `stop: 7`) breaks the SHOULD rule about
  refusing it (REQ-004, PARAM-0xx), never the MUST rule that valid values are accepted.
* valid but refused: `acceptance_rule(body, param)`: the MUST rule that says the field
  the error names (or, without a name, the first feature of the request) is accepted.
  A property test shrinks a refused request first, so the features left are the ones
  the refusal needs.
* `attribute_answer(ex)`: the intent a property sent a request with, restated once the
  answer shows what was refused (the error's param) or how (an invalid streamed request
  refused inside a 200 event stream is STREAM-023's fault).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import schemas
from ..violations import Intent

# -- invalid requests --------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    rule: str
    pointer: str
    message: str
    value: Any = None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def prose_errors(body: Any) -> list[Reason]:
    """Constraints of the spec's prose that schemas/request.schema.json does not encode."""
    out: list[Reason] = []
    if not isinstance(body, dict):
        return out
    for key in ("max_tokens", "max_completion_tokens"):
        if _is_int(body.get(key)) and body[key] <= 0:
            out.append(Reason("PARAM-003", f"/{key}", f"{key} must be >= 1", body[key]))
    tools = body.get("tools")
    names = (
        [
            t["function"]["name"]
            for t in tools
            if isinstance(t, dict)
            and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str)
        ]
        if isinstance(tools, list)
        else []
    )
    choice = body.get("tool_choice")
    if (
        choice is not None
        and choice != "none"
        and not names
        and (isinstance(choice, dict) or choice in ("auto", "required"))
    ):
        out.append(Reason("TOOL-014", "/tool_choice", "a tool_choice other than none needs tools", choice))
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if isinstance(name, str) and names and name not in names:
            out.append(
                Reason("TOOL-014", "/tool_choice/function/name", f"{name!r} is not one of the offered tools", name)
            )
    out.extend(_tool_sequence(body.get("messages")))
    return out


def _tool_sequence(messages: Any) -> list[Reason]:
    """TOOL-018: a tool message answers a call of the assistant message before it, and every
    call is answered before the next non-tool message (the reference's and OpenAI's reading)."""
    if not isinstance(messages, list):
        return []
    out: list[Reason] = []
    answerable: set = set()
    pending: list = []
    opened = -1
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        if role != "tool" and pending:
            out.append(
                Reason("TOOL-018", f"/messages/{opened}/tool_calls", f"tool calls {pending} not answered", pending)
            )
            pending = []
        if role != "tool":
            answerable = set()
        if role == "assistant" and isinstance(m.get("tool_calls"), list):
            ids = [c.get("id") for c in m["tool_calls"] if isinstance(c, dict) and isinstance(c.get("id"), str)]
            answerable, pending, opened = set(ids), list(ids), i
        elif role == "tool":
            tcid = m.get("tool_call_id")
            if isinstance(tcid, str):
                if tcid not in answerable:
                    out.append(
                        Reason(
                            "TOOL-018",
                            f"/messages/{i}/tool_call_id",
                            "a tool message that answers no preceding tool call",
                            tcid,
                        )
                    )
                elif tcid in pending:
                    pending.remove(tcid)
    if pending:
        out.append(Reason("TOOL-018", f"/messages/{opened}/tool_calls", f"tool calls {pending} not answered", pending))
    return out


def schema_errors(body: Any) -> list[Reason]:
    """The request schema's errors for `body`, each attributed to its refusal rule.

    schemas.errors("request", body) minus its fastjsonschema fast path, which does not
    know the 2020-12 keyword `dependentSchemas` and so calls "top_logprobs without
    logprobs" and "stream_options without stream" valid (reported as an engine issue)."""
    v = schemas.validator("request")
    root = schemas.load("request")
    out: list[Reason] = []
    seen = set()
    for err in v.iter_errors(body):
        leaf = schemas._leaf(err)
        r = Reason(refusal_rule(root, leaf), schemas._pointer(leaf.absolute_path), leaf.message, leaf.instance)
        if (r.rule, r.pointer, r.message) not in seen:
            seen.add((r.rule, r.pointer, r.message))
            out.append(r)
    return out


def _refusal_of(node: Any, current: str) -> str:
    if isinstance(node, dict):
        if "x-refuse" in node:
            return node["x-refuse"]
        if "x-rule" in node:
            return node["x-rule"]
    return current


def refusal_rule(root: dict, error) -> str:
    """The rule under which a server must refuse what `error` found: the walk of
    schemas.attribute (the deepest annotated node on the error's schema path wins, `$ref`
    followed), reading a node's `x-refuse` before its `x-rule`, and a missing required
    property's `x-refuse-required` before its `x-rule-required`."""
    rule = _refusal_of(root, "")
    node: Any = root
    path = list(error.absolute_schema_path)
    for i, key in enumerate(path):
        while isinstance(node, dict) and key not in node and "$ref" in node:
            node = schemas._resolve_local(root, node["$ref"])
            rule = _refusal_of(node, rule)
        if i == len(path) - 1 or not isinstance(node, (dict, list)):
            break
        mapping = key in schemas._MAPPING_KEYWORDS
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        if not mapping:
            rule = _refusal_of(node, rule)
    if error.validator == "required" and isinstance(node, dict):
        prop = schemas._required_property(error)
        for annotation in ("x-refuse-required", "x-rule-required"):
            if prop in (node.get(annotation) or {}):
                return node[annotation][prop]
    return rule


def invalid_reasons(body: Any) -> list[Reason]:
    """Every reason a server should refuse `body`: schema errors (x-rule) then prose rules."""
    return schema_errors(body) + prose_errors(body)


def is_valid(body: Any) -> bool:
    return schemas.is_valid("request", body) and not prose_errors(body)


# -- valid requests that were refused ------------------------------------------------------
FIELD_RULES = {
    "model": "REQ-001",
    "messages": "REQ-005",
    "temperature": "PARAM-010",
    "top_p": "PARAM-010",
    "presence_penalty": "PARAM-010",
    "frequency_penalty": "PARAM-010",
    "max_tokens": "PARAM-001",
    "max_completion_tokens": "PARAM-001",
    "stop": "PARAM-004",
    "n": "PARAM-007",
    "logit_bias": "PARAM-012",
    "logprobs": "PARAM-014",
    "top_logprobs": "PARAM-014",
    "seed": "PARAM-020",
    "tools": "TOOL-001",
    "tool_choice": "TOOL-010",
    "parallel_tool_calls": "TOOL-015",
    "stream": "STREAM-001",
    "stream_options": "STREAM-018",
    "user": "PARAM-028",
    "metadata": "PARAM-028",
    "store": "PARAM-028",
    "safety_identifier": "PARAM-028",
    "prompt_cache_key": "PARAM-028",
    "service_tier": "PARAM-028",
    "verbosity": "PARAM-028",
    "reasoning_effort": "PARAM-028",
}
RF_RULES = {"text": "PARAM-022", "json_object": "PARAM-023", "json_schema": "PARAM-025"}
NULLABLE = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logit_bias",
    "stop",
    "n",
    "logprobs",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
)
# Top-level features in the order a refusal is blamed on them when the error names no field.
ORDER = (
    "logprobs",
    "top_logprobs",
    "n",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "stream_options",
    "stream",
    "stop",
    "logit_bias",
    "seed",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "max_completion_tokens",
    "user",
    "metadata",
    "store",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "verbosity",
    "reasoning_effort",
)


def _field_feature(body: dict, key: str) -> tuple[str, str] | None:
    if key not in body:
        return None
    value = body[key]
    if value is None and key in NULLABLE:
        return "HTTP-007", f"{key}: null"
    if key == "response_format" and isinstance(value, dict):
        return RF_RULES.get(value.get("type"), "PARAM-022"), f"response_format {value.get('type')}"
    if key == "tools" and isinstance(value, list):
        for t in value:
            fn = t.get("function") if isinstance(t, dict) else None
            if isinstance(fn, dict) and ("parameters" not in fn or "strict" in fn):
                return (
                    "TOOL-002",
                    "a tool without parameters or with strict"
                    if "parameters" not in fn
                    else f"tools with strict: {fn['strict']}",
                )
        return "TOOL-001", f"{len(value)} function tool(s)"
    if key == "stream":
        return ("STREAM-001", "stream: true") if value is True else ("REQ-001", f"stream: {value}")
    if key == "stream_options" and isinstance(value, dict) and value.get("include_usage") is not True:
        return "STREAM-001", f"stream_options {value}"
    return FIELD_RULES.get(key, "REQ-001"), f"{key}: {_short(value)}"


def _short(value, limit: int = 60) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_feature(m: Any, i: int, sub: str = "") -> tuple[str, str]:
    """The rule that says message `i` (as sent) is acceptable; `sub` is the rest of the error's param."""
    if not isinstance(m, dict):
        return "REQ-005", f"messages[{i}]"
    role = m.get("role")
    content = m.get("content")
    parts = [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []
    kinds = {p.get("type") for p in parts}
    where = f"messages[{i}] ({role})"
    if "name" in sub:
        return "REQ-009", f"{where} with name"
    if sub == "" and "name" in m:
        # The name is the message's feature only when nothing else about it is (a developer
        # message with a name is first a developer message; the name is a feature of its
        # own, _removals tries it apart).
        rest = message_feature(_nameless(m), i)
        return ("REQ-009", f"{where} with name") if rest[0] == "REQ-005" else rest
    if role == "user":
        if "image_url" in sub or ("image_url" in kinds and "input_audio" not in sub):
            detail = "detail" in sub or any(
                isinstance(p.get("image_url"), dict) and "detail" in p["image_url"] for p in parts
            )
            if "detail" in sub:
                return "VISION-003", f"{where} image detail"
            if sum(k == "image_url" for k in (p.get("type") for p in parts)) > 1:
                return "VISION-005", f"{where} image parts{' with detail' if detail else ''}"
            return (
                ("VISION-003", f"{where} image part with detail") if detail else ("VISION-002", f"{where} image part")
            )
        if "input_audio" in sub or "input_audio" in kinds:
            return "AUDIO-001", f"{where} input_audio part"
        if parts:
            return "CONTENT-001", f"{where} text parts"
        return "REQ-005", where
    if role in ("system", "developer"):
        if parts:
            return "REQ-007", f"{where} text parts"
        if role == "developer":
            return "REQ-006", where
        return "REQ-005", where
    if role == "tool":
        return ("TOOL-017", f"{where} text parts") if parts else ("TOOL-016", where)
    if role == "assistant":
        if m.get("tool_calls"):
            return (
                ("REQ-008", f"{where} tool_calls with content null/absent")
                if content is None
                else ("TOOL-016", f"{where} tool_calls")
            )
        if "refusal" in sub or "refusal" in kinds or "refusal" in m:
            return ("REQ-008", f"{where} refusal part") if "refusal" in kinds else ("REQ-009", f"{where} refusal field")
        if parts:
            return "REQ-008", f"{where} text parts"
        if "name" in m:
            return "REQ-009", f"{where} with name"
        return "REQ-005", f"{where} in the history"
    return "REQ-005", where


def _nameless(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "name"}


def _secondary_name(m: Any, i: int) -> tuple[str, str] | None:
    """REQ-009 for a message's name when the message has another feature besides it."""
    if isinstance(m, dict) and "name" in m and message_feature(m, i)[0] != "REQ-009":
        return "REQ-009", f"messages[{i}] ({m.get('role')}) with name"
    return None


_MSG_PARAM = re.compile(r"^messages\.?\[?(\d+)\]?(.*)$")


# The order a refusal is blamed in when the error names no field: the most specific feature
# first (what the messages carry, then a tool_choice before the tools it chooses among).
GUESS_ORDER = tuple(k for k in ORDER if k != "tools") + ("tools",)
MESSAGE_RANK = ("VISION", "AUDIO", "TOOL", "CONTENT", "REQ")  # by the rule's area; a plain conversation last


def features(body: dict) -> list[tuple[str, str]]:
    """(rule, what) for every feature of a valid request beyond model + one user message +
    a token limit, most specific first: the messages' (parts, roles, names, tool round
    trips), then the fields (GUESS_ORDER).  An integer token limit is no feature (every
    request has one); a null one is (HTTP-007)."""
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else []
    found = [message_feature(m, i) for i, m in enumerate(msgs)]
    found += [f for f in (_secondary_name(m, i) for i, m in enumerate(msgs)) if f is not None]
    out = sorted((f for f in found if f[0] != "REQ-005"), key=lambda f: MESSAGE_RANK.index(f[0].split("-")[0]))
    plain = [f for f in found if f[0] == "REQ-005"] if len(msgs) > 1 else []
    for key in GUESS_ORDER:
        if key in ("max_tokens", "max_completion_tokens") and body.get(key) is not None:
            continue
        f = _field_feature(body, key)
        if f is not None:
            out.append(f)
    return out + plain[:1]


def _named_feature(body: dict, param: Any) -> tuple[str, str] | None:
    """The feature the error's `param` names, if it names one of the request."""
    if not (isinstance(param, str) and param):
        return None
    head = re.split(r"[.\[]", param, maxsplit=1)[0]
    m = _MSG_PARAM.match(param)
    if head == "messages" and m and isinstance(body.get("messages"), list) and int(m.group(1)) < len(body["messages"]):
        i = int(m.group(1))
        return message_feature(body["messages"][i], i, m.group(2))
    if head in body:
        return _field_feature(body, head)
    return None


def acceptance_rule(body: dict, param: Any = None) -> tuple[str, str]:
    """The rule a refusal of the valid `body` breaks, and what it refused.

    The error's `param` decides when it names a field of the request; otherwise the
    first feature (features(): the most specific first); a bare request (model, one
    user message, a token limit) is REQ-001.  Where that guess matters, ablations() lets the caller
    find the feature by experiment.
    """
    named = _named_feature(body, param)
    if named is not None:
        return named
    feats = features(body)
    if feats:
        return feats[0]
    return "REQ-001", "a request with only model, one user message and a token limit"


# Fields that mean nothing (or are invalid) without another: removed along with it.
_DEPENDENTS = {
    "logprobs": ("top_logprobs",),
    "stream": ("stream_options",),
    "tools": ("tool_choice", "parallel_tool_calls"),
}


def _removals(body: dict) -> list[tuple[str, str, tuple]]:
    """(rule, what, removal) for each feature a refused request can be tried without:
    top-level fields in ORDER (a removal is ("field", key)), then a message's name where
    the message has another feature or is the last (("name", i)), then every message but
    the last (("message", i)).  The name comes before its message: the smaller removal
    is tried first."""
    out = []
    for key in ORDER:
        f = _field_feature(body, key)
        if f is not None:
            out.append((*f, ("field", key)))
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else []
    for i, m in enumerate(msgs):
        f = _secondary_name(m, i)
        if f is None and i == len(msgs) - 1 and isinstance(m, dict) and "name" in m:
            f = message_feature(m, i)
        if f is not None:
            out.append((*f, ("name", i)))
    out.extend((*message_feature(m, i), ("message", i)) for i, m in enumerate(msgs[:-1]))
    return out


def without(body: dict, removals) -> dict:
    """`body` without the features `removals` name (a field with the fields that mean
    nothing without it, _DEPENDENTS; a message's name; a message)."""
    keys = {r[1] for r in removals if r[0] == "field"}
    keys |= {d for k in keys for d in _DEPENDENTS.get(k, ())}
    drop = {r[1] for r in removals if r[0] == "message"}
    names = {r[1] for r in removals if r[0] == "name"}
    out = {k: v for k, v in body.items() if k not in keys}
    if drop or names:
        out["messages"] = [
            _nameless(m) if i in names and isinstance(m, dict) else m
            for i, m in enumerate(body["messages"])
            if i not in drop
        ]
    return out


def _needs_attribution(body: dict, param: Any) -> bool:
    return _named_feature(body, param) is None and len(features(body)) >= 2


def ablations(body: dict, param: Any = None) -> list[tuple[str, str, dict]]:
    """For a refused valid request whose error names no field (so acceptance_rule() could
    only guess): (rule, what, the request without that feature), for each feature whose
    removal leaves a valid request (_removals: top-level fields in ORDER, then messages'
    names, then earlier messages).  The first variant that is accepted names the feature
    that was refused.  Empty when
    the error names the field or the request has fewer than two features."""
    if not _needs_attribution(body, param):
        return []
    out = []
    for rule, what, removal in _removals(body):
        smaller = without(body, [removal])
        if is_valid(smaller):
            out.append((rule, what, smaller))
    return out


PLAIN_MESSAGE = {"role": "user", "content": "Hello."}


def _plain_last(body: dict, keep: bool) -> dict:
    """`body` with its last message plain (a user's text) unless `keep`: the last message is
    never removed, and its image or audio part must not come along with every feature."""
    msgs = body.get("messages")
    if keep or not msgs or message_feature(msgs[-1], len(msgs) - 1)[0] == "REQ-005":
        return body
    return {**body, "messages": [*msgs[:-1], PLAIN_MESSAGE]}


def isolations(body: dict, param: Any = None) -> tuple[dict | None, list[tuple[str, str, dict, tuple, tuple]]]:
    """Where no single removal is accepted (the request holds two features the server
    refuses): the control (the request without any feature, its last message plain) and
    (rule, what, the request with that feature alone, its removal, the removals it needs)
    for each feature that can stand alone in a valid request.  A feature refused alone,
    where the control is accepted, is at fault, unless what it needs is refused alone too
    (a tool_choice needs its tools, a name its message).  The last message's own feature
    (its role or parts) is one too, as ("message", last)."""
    if not _needs_attribution(body, param):
        return None, []
    removals = _removals(body)
    ids = [r for _, _, r in removals]
    control = _plain_last(without(body, ids), keep=False)
    if not is_valid(control):
        return None, []
    msgs = body["messages"]
    last = len(msgs) - 1
    out = []
    for rule, what, removal in removals:
        kind, key = removal
        if kind == "field":
            needed = tuple(("field", k) for k, deps in _DEPENDENTS.items() if key in deps)
        else:
            needed = (("message", key),) if kind == "name" else ()
        others = [r for r in ids if r != removal and r not in needed]
        alone = _plain_last(without(body, others), keep=removal == ("name", last))
        if is_valid(alone):
            out.append((rule, what, alone, removal, needed))
    own = message_feature(_nameless(msgs[-1]) if isinstance(msgs[-1], dict) else msgs[-1], last)
    if own[0] != "REQ-005":
        alone = without(body, ids)
        if is_valid(alone):
            out.append((*own, alone, ("message", last), ()))
    return control, out


def without_rules(body: dict, rules) -> dict | None:
    """`body` without every feature whose acceptance rule is in `rules`; None when that
    removes nothing or leaves an invalid request."""
    removals = [r for rule, _, r in _removals(body) if rule in rules]
    smaller = without(body, removals) if removals else None
    return smaller if smaller is not None and is_valid(smaller) else None


# -- answers -------------------------------------------------------------------------------
def error_param(ex) -> Any:
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return err.get("param") if isinstance(err, dict) else None


def _sse_error(ex) -> bool:
    """An event carrying an error object (STREAM-024's shape), where a 4xx was due."""
    return any(isinstance(e, dict) and isinstance(e.get("error"), dict) for e in ex.chunks)


def attribute_answer(ex) -> tuple[Intent | None, str]:
    """(the intent, a label) of a property's request, given its answer, before the checks
    judge it.  A valid request refused: the rule of the feature the error's param names
    (acceptance_rule); else the one it was sent with (the harness finds the feature by
    experiment on the minimal request).  An invalid streamed request answered with a 200
    stream carrying an error event: refused, but not as STREAM-023 says (a JSON error).
    An error that names nothing leaves the rule the request was sent with."""
    it = ex.intent
    body = ex.request_json
    if it is None or ex.status is None or not isinstance(body, dict):
        return it, ""
    if it.kind == "accept" and ex.status != 200:
        named = _named_feature(body, error_param(ex))
        if named is not None and named[0] != it.rule:
            return Intent("accept", named[0]), f"a valid request ({named[1]}, the field the error names)"
    if it.kind == "refuse" and ex.status == 200 and body.get("stream") is True and ex.is_stream and _sse_error(ex):
        return Intent("refuse", "STREAM-023", it.param), f"{ex.label or 'an invalid request'}, streamed"
    return it, ""


# -- the rules a property's intents may name --------------------------------------------------
MESSAGE_RULES = frozenset(
    {
        "REQ-005",
        "REQ-006",
        "REQ-007",
        "REQ-008",
        "REQ-009",
        "CONTENT-001",
        "VISION-002",
        "VISION-003",
        "VISION-005",
        "AUDIO-001",
        "TOOL-016",
        "TOOL-017",
    }
)
PROSE_RULES = frozenset({"PARAM-003", "TOOL-014", "TOOL-018"})


def intent_rules() -> frozenset[str]:
    """Every rule the property tests' computed intents may name, and so the intent checks
    judge: acceptance rules (acceptance_rule) and refusal rules (the request schema's
    refusal attribution, the prose rules, STREAM-023).  A suite's constant `accept=` /
    `refuse=` shows the lint which rules the intent checks judge; these are computed."""
    refuse: set[str] = set(PROSE_RULES) | {"STREAM-023"}

    def walk(node):
        if isinstance(node, dict):
            if "x-rule" in node or "x-refuse" in node:
                refuse.add(node.get("x-refuse", node.get("x-rule")))
            required = {**(node.get("x-rule-required") or {}), **(node.get("x-refuse-required") or {})}
            refuse.update(required.values())
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schemas.load("request"))
    accept = (
        set(FIELD_RULES.values())
        | set(RF_RULES.values())
        | MESSAGE_RULES
        | {"HTTP-007", "REQ-001", "STREAM-001", "TOOL-002"}
    )
    return frozenset(accept | refuse)
