"""The PARAM checks and relations (chatconform/checks/params.py) on recorded exchanges: what a
conformant server may answer passes, the fault beside it fails for its rule; and the params
suites against a reasoning-model server, which refuses `max_tokens` as api.openai.com does."""

from __future__ import annotations

import ast
import json
import pathlib
import secrets
import time

import pytest

from chatconform import checks, rules
from chatconform.reference import start
from chatconform.reference.defects import Defect
from chatconform.reference.errors import ApiError
from chatconform.violations import Intent, Note
from tests import helpers
from tests.helpers import chunk, good_response, json_exchange, sse_of, stream_exchange

ROOT = pathlib.Path(__file__).resolve().parents[1]
MSGS = [{"role": "user", "content": "Write a story."}]


def req(**extra) -> dict:
    return {"model": "m", "messages": MSGS, **extra}


def answer(content="Hello", finish="stop", completion_tokens=2, n=1, logprobs=None) -> dict:
    r = good_response()
    r["created"] = int(time.time())
    r["choices"] = [
        {
            "index": i,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": logprobs,
            "finish_reason": finish,
        }
        for i in range(n)
    ]
    r["usage"] = {"prompt_tokens": 3, "completion_tokens": completion_tokens, "total_tokens": 3 + completion_tokens}
    return r


def broken(ex) -> set[str]:
    return {v.rule for v in checks.run(ex).violations}


def related(name, *exchanges):
    return checks.relate(name, *exchanges)


def error(status, message="no", type_="invalid_request_error", param=None, code=None, request=None):
    return json_exchange(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        request or req(max_tokens=5),
        status=status,
    )


# -- item 1: max_tokens refused by a reasoning-model server ---------------------------------------
def test_max_tokens_refused_as_unsupported_parameter_is_conformant():
    ex = error(
        400,
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        param="max_tokens",
        code="unsupported_parameter",
    )
    found = related("max_tokens_taken", ex)
    assert not found.violations
    assert "PARAM-001" in found.judged and "PARAM-002" in found.unjudged
    assert any(isinstance(n, Note) and "unsupported_parameter" in n.message for n in found.notes)


@pytest.mark.parametrize(
    "status,param,code",
    [
        (500, None, None),
        (400, None, None),
        (400, "max_tokens", "invalid_value"),
        (400, "model", "unsupported_parameter"),
        (422, "max_tokens", "unsupported_parameter"),
    ],
    ids=["5xx", "vague 400", "other code", "names another field", "not 400"],
)
def test_max_tokens_refused_otherwise_fails(status, param, code):
    found = related("max_tokens_taken", error(status, param=param, code=code))
    assert [v.rule for v in found.violations] == ["PARAM-001"]
    assert "PARAM-002" in found.unjudged, "a refused request cannot show PARAM-002: not judged, never passed"


def test_max_tokens_answered_is_judged_accepted():
    ex = json_exchange(answer("Once", finish="length", completion_tokens=5), req(max_tokens=5))
    found = related("max_tokens_taken", ex)
    assert not found.violations and "PARAM-001" in found.judged


def test_max_completion_tokens_refused_fails_through_the_intent():
    ex = error(400, param="max_completion_tokens", code="unsupported_parameter", request=req(max_completion_tokens=5))
    ex.intent = Intent("accept", "PARAM-001")
    assert broken(ex) == {"PARAM-001"}


REASONING = Defect(
    "reasoning-model",
    "params",
    (),
    "A conformant server for reasoning models: max_tokens refused as "
    "unsupported_parameter, as api.openai.com does (not a defect: the suite must pass it).",
    on_request=lambda call: (
        ApiError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
            check="reasoning",
        )
        if (call.body or {}).get("max_tokens") is not None
        else None
    ),
)


def run_suites(defects, *extra, modules=("suites/test_params.py",)) -> dict:
    key = "sk-params-" + secrets.token_hex(8)
    out = ROOT / "artifacts" / f"params-{secrets.token_hex(4)}.json"
    out.parent.mkdir(exist_ok=True)
    with start(api_key=key, defects=defects) as srv:
        args = ["--base-url", srv.base_url, "--model", "chatconform-reference", "--api-key-env", "CC_PARAMS_KEY"]
        env = {"CC_PARAMS_KEY": key, "CHATCONFORM_HYPOTHESIS_DIR": "off"}
        helpers.run_suite([*args, "--capabilities", "all", *extra], out, paths=modules, env=env)
    try:
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def failed(data) -> set[str]:
    return {rid for rid, r in data.get("rules", {}).items() if r["outcome"] == "fail"}


def test_a_reasoning_model_server_passes_the_params_suite():
    """Probes send max_completion_tokens; the tests about max_tokens accept its explicit refusal."""
    data = run_suites([REASONING])
    assert not failed(data), failed(data)
    assert data["rules"]["PARAM-001"]["outcome"] == "pass"
    assert not data.get("counts", {}).get("error")


def test_a_target_declaring_max_tokens_is_failed_when_refused_it():
    data = run_suites([REASONING], "--token-limit-field", "max_tokens")
    assert "PARAM-001" in failed(data)


# -- item 2: non-strict json_schema promises no JSON ---------------------------------------------
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}


def json_schema(strict) -> dict:
    js = {"name": "thing", "schema": SCHEMA}
    if strict is not None:
        js["strict"] = strict
    return {"type": "json_schema", "json_schema": js}


@pytest.mark.parametrize("strict", [False, None], ids=["strict-false", "strict-absent"])
@pytest.mark.parametrize("content", ["Here you go: a = 1", '{"a": "one"}'], ids=["prose", "off-schema"])
def test_non_strict_json_schema_is_noted_not_failed(strict, content):
    ex = json_exchange(answer(content), req(response_format=json_schema(strict)))
    found = checks.run(ex)
    assert "PARAM-026" not in {v.rule for v in found.violations}
    assert "PARAM-026" not in found.judged and "PARAM-026" in found.unjudged
    assert any(n.rule == "PARAM-026" for n in found.notes)


@pytest.mark.parametrize("content", ["Here you go: a = 1", '{"a": "one"}'], ids=["prose", "off-schema"])
def test_strict_json_schema_still_fails(content):
    assert "PARAM-026" in broken(json_exchange(answer(content), req(response_format=json_schema(True))))
    assert "PARAM-026" not in broken(json_exchange(answer('{"a": 1}'), req(response_format=json_schema(True))))


def test_a_json_answer_cut_by_the_limit_is_not_judged_at_all():
    ex = json_exchange(
        answer('{"a', finish="length", completion_tokens=2), req(max_tokens=2, response_format=json_schema(True))
    )
    found = checks.run(ex)
    assert "PARAM-026" not in found.judged and not found.violations


# -- item 3: logprobs judged on streams too ------------------------------------------------------
def lp(token, value=-0.5, alts=()):
    return {
        "token": token,
        "logprob": value,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in alts],
    }


def lp_stream(entries, request):
    """A stream of one choice, one token per chunk, each content chunk carrying its entry
    (the role chunk an empty list, the finish chunk null, as api.openai.com streams them)."""
    chunks = [_chunk_lp(chunk(delta={"role": "assistant", "content": ""}), {"content": [], "refusal": None})]
    chunks += [_chunk_lp(chunk(delta={"content": e["token"]}), {"content": [e], "refusal": None}) for e in entries]
    chunks.append(_chunk_lp(chunk(delta={}, finish="stop"), None))
    return stream_exchange(sse_of(chunks), {**request, "stream": True})


def _chunk_lp(c, value):
    c["choices"][0]["logprobs"] = value
    return c


GOOD = [lp("Hel", -0.1, [("Hel", -0.1)]), lp("lo", -0.2, [("lo", -0.2)])]


def test_a_good_logprobs_stream_passes():
    ex = lp_stream(GOOD, req(logprobs=True, top_logprobs=1))
    found = checks.run(ex)
    assert not found.violations
    assert {"PARAM-017", "PARAM-019"} <= found.judged


@pytest.mark.parametrize(
    "entries,top",
    [
        ([lp("Hel", 0.7, [("Hel", 0.7)]), lp("lo", -0.2, [("lo", -0.2)])], 1),
        (
            [
                lp("Hel", -0.1, [("Hel", -0.1), ("A", -1), ("B", -2), ("C", -3), ("D", -4)]),
                lp("lo", -0.2, [("lo", -0.2)]),
            ],
            1,
        ),
        ([{**lp("Hel", -0.1, [("Hel", -0.1)]), "bytes": [1, 2]}, lp("lo", -0.2, [("lo", -0.2)])], 1),
        ([lp("Hel", -0.1, [("Hel", -0.1), ("X", 0.3)]), lp("lo", -0.2, [("lo", -0.2), ("Y", -1)])], 2),
    ],
    ids=["positive logprob", "five alternatives for one", "wrong bytes", "positive alternative"],
)
def test_a_stream_with_bad_logprob_values_fails_param_017(entries, top):
    assert broken(lp_stream(entries, req(logprobs=True, top_logprobs=top))) == {"PARAM-017"}


def test_a_stream_with_logprobs_nobody_asked_for_fails_param_018():
    chunks = [
        chunk(delta={"role": "assistant", "content": ""}),
        chunk(delta={"content": "Hi"}),
        chunk(delta={}, finish="stop"),
    ]
    chunks[1]["choices"][0]["logprobs"] = {"content": [lp("Hi")], "refusal": None}
    assert broken(stream_exchange(sse_of(chunks))) == {"PARAM-018"}
    clean = [
        chunk(delta={"role": "assistant", "content": ""}),
        chunk(delta={"content": "Hi"}),
        chunk(delta={}, finish="stop"),
    ]
    for c in clean:
        c["choices"][0]["logprobs"] = None
    found = checks.run(stream_exchange(sse_of(clean)))
    assert not found.violations and "PARAM-018" in found.judged


def test_fewer_alternatives_than_asked_for_every_token_ignored_the_number():
    few = [lp(t, -0.1, [(t, -0.1)] + [(f"a{k}", -1 - k) for k in range(4)]) for t in ("Once", " upon", " a", " time")]
    content = "Once upon a time"
    body = answer(content, logprobs={"content": few, "refusal": None})
    assert broken(json_exchange(body, req(logprobs=True, top_logprobs=20))) == {"PARAM-017"}
    assert broken(lp_stream(few, req(logprobs=True, top_logprobs=20))) == {"PARAM-017"}
    # "may be fewer" in some cases: one token with all 20 is enough, and a constrained answer is not judged so
    some = [lp("Once", -0.1, [("Once", -0.1)] + [(f"a{k}", -1 - k) for k in range(19)])] + few[1:]
    assert not broken(
        json_exchange(answer(content, logprobs={"content": some, "refusal": None}), req(logprobs=True, top_logprobs=20))
    )
    assert not broken(json_exchange(body, req(logprobs=True, top_logprobs=20, logit_bias={"1": -100})))
    assert not broken(json_exchange(body, req(logprobs=True, top_logprobs=5)))


def test_plain_logprobs_faults_still_fail():
    ok = {"content": GOOD, "refusal": None}
    assert not broken(json_exchange(answer("Hello", logprobs=ok), req(logprobs=True, top_logprobs=1)))
    assert broken(json_exchange(answer("Hello", logprobs=None), req(logprobs=True))) == {"PARAM-016"}
    assert broken(json_exchange(answer("Hello", logprobs=ok), req())) == {"PARAM-018"}


# -- item 4: a cut answer used the whole limit ------------------------------------------------------
@pytest.mark.parametrize("limit", [2, 5, 13])
def test_a_cut_answer_counts_the_whole_limit(limit):
    for field in ("max_tokens", "max_completion_tokens"):
        good = json_exchange(answer("Once upon", finish="length", completion_tokens=limit), req(**{field: limit}))
        found = checks.run(good)
        assert not found.violations and "PARAM-002" in found.judged
        short_ = json_exchange(answer("Once upon", finish="length", completion_tokens=limit - 1), req(**{field: limit}))
        assert broken(short_) == {"PARAM-002"}  # its one owner: RESP-014 leaves "length" to it


def test_a_cut_stream_counts_the_whole_limit():
    def stream(ct):
        chunks = [
            chunk(delta={"role": "assistant", "content": ""}),
            chunk(delta={"content": "Once"}),
            chunk(delta={}, finish="length"),
        ]
        for c in chunks:
            c["usage"] = None
        chunks.append(
            {**chunk(), "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": ct, "total_tokens": 3 + ct}}
        )
        return stream_exchange(
            sse_of(chunks), req(stream=True, max_completion_tokens=5, stream_options={"include_usage": True})
        )

    assert not broken(stream(5))
    assert broken(stream(4)) == {"PARAM-002"}


def test_the_whole_limit_is_per_choice_and_only_when_every_choice_was_cut():
    assert not broken(json_exchange(answer("Once", finish="length", completion_tokens=10, n=2), req(n=2, max_tokens=5)))
    assert broken(json_exchange(answer("Once", finish="length", completion_tokens=9, n=2), req(n=2, max_tokens=5))) == {
        "PARAM-002"
    }
    mixed = answer("Once", finish="length", completion_tokens=7, n=2)
    mixed["choices"][1]["finish_reason"] = "stop"
    found = checks.run(json_exchange(mixed, req(n=2, max_tokens=5)))
    assert not found.violations and "PARAM-002" not in found.judged


def test_an_answer_that_filled_the_context_window_is_not_held_to_the_limit():
    """vLLM at a 2048-token window answered a 2044-token prompt (limit 16) with 4 tokens and
    "length": the window ended it, not the limit.  The equality is judged only where prompt
    and limit together fit in 512 tokens (variant context-fills)."""
    filled = answer("Hell", finish="length", completion_tokens=4)
    filled["usage"] = {"prompt_tokens": 2044, "completion_tokens": 4, "total_tokens": 2048}
    found = checks.run(json_exchange(filled, req(max_completion_tokens=16)))
    assert not found.violations and "PARAM-002" in found.unjudged
    small = answer("Hell", finish="length", completion_tokens=4)
    small["usage"] = {"prompt_tokens": 400, "completion_tokens": 4, "total_tokens": 404}
    assert broken(json_exchange(small, req(max_completion_tokens=16))) == {"PARAM-002"}


def test_an_answer_that_ended_by_itself_is_not_held_to_the_limit():
    found = checks.run(json_exchange(answer("Hi", finish="stop", completion_tokens=2), req(max_tokens=5)))
    assert not found.violations and "PARAM-001" in found.judged and "PARAM-002" in found.unjudged


def test_a_request_without_a_limit_judges_no_limit_rule():
    found = checks.run(json_exchange(answer("Hi"), req()))
    assert not {"PARAM-001", "PARAM-002", "PARAM-005"} & found.judged


# -- stop sequences across tokens and chunks --------------------------------------------------------
def test_a_stop_sequence_spanning_two_chunks_is_caught():
    chunks = [
        chunk(delta={"role": "assistant", "content": ""}),
        chunk(delta={"content": "Lorem ipsum"}),
        chunk(delta={"content": " dolor"}),
        chunk(delta={}, finish="stop"),
    ]
    assert broken(stream_exchange(sse_of(chunks), req(stream=True, stop=["um do"]))) == {"PARAM-005"}
    cut = [
        chunk(delta={"role": "assistant", "content": ""}),
        chunk(delta={"content": "Lorem ips"}),
        chunk(delta={}, finish="stop"),
    ]
    found = checks.run(stream_exchange(sse_of(cut), req(stream=True, stop=["um do"])))
    assert not found.violations and "PARAM-005" in found.judged


# -- the other PARAM judges -------------------------------------------------------------------------
def test_an_out_of_range_refusal_names_the_field():
    def refusal(param):
        ex = error(
            400,
            "Invalid 'temperature': decimal above maximum value.",
            param=param,
            code="decimal_above_max_value",
            request=req(temperature=2.5),
        )
        ex.intent = Intent("refuse", "PARAM-011", "temperature")
        return ex

    assert not broken(refusal("temperature"))
    assert broken(refusal(None)) - {"ERR-003"} == {"PARAM-011"}  # ERR-003 sees the same null param


@pytest.mark.parametrize(
    "status,param,outcome",
    [(200, None, "judged"), (400, "user", "judged"), (400, None, "judged"), (500, None, "PARAM-028")],
)
def test_an_optional_field_is_taken_or_refused_never_a_5xx(status, param, outcome):
    body = (
        answer("OK")
        if status == 200
        else {"error": {"message": "no", "type": "invalid_request_error", "param": param, "code": None}}
    )
    found = related("optional_field_tolerated", json_exchange(body, req(user="u"), status=status))
    assert [v.rule for v in found.violations] == ([] if outcome == "judged" else [outcome])


def test_n_on_a_target_without_n_is_refused_or_honoured():
    two = json_exchange(answer("OK", n=2), req(n=2))
    assert not related("n_refused_or_honoured", two).violations
    one = json_exchange(answer("OK"), req(n=2))
    assert [v.rule for v in related("n_refused_or_honoured", one).violations] == ["PARAM-009"]
    assert not related("n_refused_or_honoured", error(400, param="n", request=req(n=2))).violations
    assert [v.rule for v in related("n_refused_or_honoured", error(500, request=req(n=2))).violations] == ["PARAM-009"]


def test_a_strict_schema_outside_the_subset_may_be_refused_a_compatible_one_not():
    open_schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "x",
            "strict": True,
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
    }
    refused = error(400, param="response_format", request=req(response_format=open_schema))
    assert not related("strict_schema_taken", refused).violations
    assert [
        v.rule for v in related("strict_schema_taken", error(500, request=req(response_format=open_schema))).violations
    ] == ["PARAM-025"]
    closed = error(400, param="response_format", request=req(response_format=json_schema(True)))
    assert [v.rule for v in related("strict_schema_taken", closed).violations] == ["PARAM-025"]


def test_seeded_answers_are_noted_never_failed():
    a = json_exchange(answer("Hello"), req(seed=1))
    b = json_exchange(answer("Bye"), req(seed=1))
    found = related("seeded_answers_compared", a, b)
    assert not found.violations and found.notes and "PARAM-021" in found.unjudged
    assert "PARAM-021" in related("seeded_answers_compared", a, json_exchange(answer("Hello"), req(seed=1))).judged


def test_response_format_text_gives_text():
    rf = {"response_format": {"type": "text"}}
    assert not broken(json_exchange(answer("Hello"), req(**rf)))
    assert broken(json_exchange(answer(None), req(**rf))) == {"PARAM-022"}


# -- item 7: invalid values are sent with the SHOULD rule about refusing them ------------------------
MODULES = [ROOT / "suites" / "test_params.py", ROOT / "suites" / "test_structured.py"]


def _chat_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "chat":
            yield {k.arg: k.value for k in node.keywords if k.arg}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_invalid_values_are_sent_with_a_refusal_rule(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    refusals = [kw["refuse"].value for kw in _chat_calls(tree) if isinstance(kw.get("refuse"), ast.Constant)]
    for rid in refusals:
        rule = rules.get(rid)
        assert rule.level != "MUST" and rule.statuses, (
            f"refuse={rid}: a refusal is judged by a SHOULD rule naming its statuses"
        )
    refusal_rules = {r.id for r in rules.catalogue().values() if r.area == "param" and r.statuses}
    cited = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.mark.rules":
            cited.update(a.value for a in node.args if isinstance(a, ast.Constant))
    missing = (cited & refusal_rules) - set(refusals)
    assert not missing, f"{path.name} cites {sorted(missing)} but sends no request with refuse= for them"


# -- leniency: an invalid value taken breaks the refusal rule, never the acceptance rule ------------
ACCEPTANCE = {
    "seed": "PARAM-020",
    "stop": "PARAM-004",
    "logit_bias": "PARAM-012",
    "logprobs": "PARAM-014",
    "messages": "REQ-007",
}
LENIENT = [{"seed": 2**63}, {"stop": 7}, {"logit_bias": {"1": 1.5}}, {"messages": [{"role": "user", "content": 5}]}]


def test_the_suite_sends_lenient_values_with_a_should_refusal_rule():
    """A server that clamps seed=2**63, coerces stop: 7, drops a bad logit_bias or takes
    content: 5 must meet a probe that expects the refusal (a SHOULD rule naming 400)."""
    tree = ast.parse((ROOT / "suites" / "test_params.py").read_text(encoding="utf-8"))
    table = next(
        n.value for n in tree.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "WRONG_VALUES"
    )
    sent = [extra for _what, extra, _param in eval(compile(ast.Expression(table), "WRONG_VALUES", "eval"), {})]
    for extra in LENIENT:
        assert extra in sent, f"no probe sends {extra}"
    wrong = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "test_wrong_value_types_rejected"
    )
    refusals = [kw["refuse"].value for kw in _chat_calls(wrong) if isinstance(kw.get("refuse"), ast.Constant)]
    assert refusals == ["REQ-004"] and rules.get("REQ-004").level == "SHOULD" and rules.get("REQ-004").statuses
    bias = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.name == "test_logit_bias_key_not_a_token_rejected"
    )
    assert '"hello"' in ast.unparse(bias) and [kw["refuse"].value for kw in _chat_calls(bias)] == ["PARAM-013"]


@pytest.mark.parametrize("extra", LENIENT + [{"seed": -(2**63) - 1}, {"logit_bias": {"hello": 1}}], ids=str)
def test_an_accepted_invalid_value_breaks_the_refusal_rule_only(extra):
    field = next(iter(extra))
    rule = "PARAM-013" if extra.get("logit_bias") == {"hello": 1} else "REQ-004"
    ex = json_exchange(answer("OK"), req(**extra))
    ex.intent = Intent("refuse", rule, field)
    found = checks.run(ex)
    assert {v.rule for v in found.violations} == {rule}
    assert ACCEPTANCE[field] not in found.judged, (
        "the MUST rule that the field is accepted is not judged on an invalid request"
    )
    refused = error(400, param=field, request=req(**extra))
    refused.intent = Intent("refuse", rule, field)
    assert not broken(refused)


# -- strict json_schema with typed enum/const values and arrays of arrays ------------------------------
def _suite_typed_schema() -> dict:
    tree = ast.parse((ROOT / "suites" / "test_structured.py").read_text(encoding="utf-8"))
    node = next(n.value for n in tree.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "TYPED")
    return eval(compile(ast.Expression(node), "TYPED", "eval"), {})


def _members(node):
    if isinstance(node, dict):
        yield from node.get("enum", [])
        if "const" in node:
            yield node["const"]
        for v in node.values():
            yield from _members(v)
    elif isinstance(node, list):
        for v in node:
            yield from _members(v)


def _nested_arrays(node) -> bool:
    if isinstance(node, dict):
        items = node.get("items")
        if node.get("type") == "array" and isinstance(items, dict) and items.get("type") == "array":
            return True
        return any(_nested_arrays(v) for v in node.values())
    return isinstance(node, list) and any(_nested_arrays(v) for v in node)


def test_the_structured_suite_sends_typed_values_and_nested_arrays_strictly():
    from chatconform import fixtures

    typed = _suite_typed_schema()
    kinds = {type(m) for m in _members(typed["schema"])}
    assert {int, bool, type(None)} <= kinds, f"enum/const members of every JSON type: {kinds}"
    assert _nested_arrays(typed["schema"]) and fixtures.strict_compatible(typed["schema"])
    src = (ROOT / "suites" / "test_structured.py").read_text(encoding="utf-8")
    assert '{**copy.deepcopy(TYPED), "strict": True}' in src


TYPED_OK = {
    "priority": 2,
    "urgent": True,
    "schema_version": 2,
    "parent": None,
    "grid": [[0, 1], [1, 0]],
    "tags": [{"label": "home", "weights": [0.5]}],
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"priority": "2"},
        {"urgent": "true"},
        {"schema_version": "2"},
        {"parent": "null"},
        {"grid": [0, 1, 1, 0]},
        {"tags": [{"label": "home", "weights": [[0.5]]}]},
        {"priority": True},
    ],
    ids=[
        "valid",
        "int as string",
        "bool as string",
        "const as string",
        "null as string",
        "flattened",
        "over-nested",
        "bool for int",
    ],
)
def test_typed_values_validate_under_strict(change):
    schema = _suite_typed_schema()
    rf = {"type": "json_schema", "json_schema": {**schema, "strict": True}}
    ex = json_exchange(answer(json.dumps({**TYPED_OK, **change})), req(response_format=rf))
    found = checks.run(ex)
    assert "PARAM-026" in found.judged
    assert {v.rule for v in found.violations} == (set() if not change else {"PARAM-026"})
