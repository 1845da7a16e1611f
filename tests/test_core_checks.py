"""The core checks (http, request, response, errors) on recorded exchanges: each rule is
judged where it is about, at its own level, and a rule no exchange can show stays
"not exercised" instead of passing.  Each test names the issue item it pins down."""

from __future__ import annotations

import copy
import json
import pathlib
import re
import subprocess
import sys
import time

import pytest

from chatconform import checks, rules
from chatconform.observer import Recorder
from chatconform.outcomes import Outcome
from chatconform.verdict import judge
from chatconform.violations import Intent
from tests import helpers
from tests.helpers import good_response, json_exchange

ROOT = pathlib.Path(__file__).resolve().parents[1]


def err(message="Invalid value.", type_="invalid_request_error", param=None, code=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def exchange(
    payload,
    status=400,
    *,
    path="/v1/chat/completions",
    intent=None,
    request=None,
    headers=None,
    content_type="application/json",
):
    ex = json_exchange(payload, request=request, status=status, content_type=content_type)
    ex.url = "http://127.0.0.1:1" + path
    ex.intent = intent
    ex.headers.update(headers or {})
    return ex


def broken(ex) -> list[str]:
    return [v.rule for v in checks.run(ex).violations]


def found(ex):
    return checks.run(ex)


# -- item 1: ERR-001/002 judge the chat operation; an unknown path is ERR-010's -------------------
def test_unknown_path_with_a_framework_body_fails_err010_not_err001():
    ex = exchange({"detail": "Not Found"}, 404, path="/v1/chat/completion", intent=Intent("refuse", "ERR-010"))
    got = found(ex)
    assert "ERR-001" not in got.judged and "ERR-001" not in [v.rule for v in got.violations]
    assert [v.rule for v in got.violations] == ["ERR-010"]
    assert rules.get("ERR-010").level == "SHOULD"


def test_unknown_path_answered_200_fails_err010():
    ex = exchange(
        b"<html></html>", 200, path="/v1/chat/completion", intent=Intent("refuse", "ERR-010"), content_type="text/html"
    )
    assert broken(ex) == ["ERR-010"]


def test_the_chat_operations_errors_are_still_err001s():
    assert "ERR-001" in broken(exchange({"detail": "Not Found"}, 404))
    assert "ERR-001" in broken(exchange(b"Internal Server Error", 500, content_type="text/plain"))


# -- item 2: a refusal is judged against the statuses the catalogue names, at the rule's level -----
def test_refusal_statuses_are_the_rules():
    ex = exchange(err(param="temperature"), 422, intent=Intent("refuse", "REQ-004", "temperature"))
    assert set(broken(ex)) == {"REQ-004", "ERR-004"}  # 400 named; 422 is of the same class (no ERR-011)
    ok = exchange(err(param="temperature"), 400, intent=Intent("refuse", "REQ-004", "temperature"))
    assert broken(ok) == [] and {"REQ-004", "ERR-003", "ERR-004", "ERR-011"} <= found(ok).judged


def test_unknown_model_answered_400_is_the_dialect_err005_allows():
    assert rules.get("ERR-005").statuses == (404, 400)
    ex = exchange(
        err("The model `x` does not exist.", param="model", code="model_not_found"),
        400,
        intent=Intent("refuse", "ERR-005", "model"),
    )
    assert broken(ex) == []


def test_statuses_named_in_the_catalogue_appear_in_the_rule_text():
    for r in rules.catalogue().values():
        if r.area in ("http", "req", "resp", "err", "content"):
            for s in r.statuses:
                assert str(s) in r.text, f"{r.id} names {s} but its text does not"


def test_every_refusal_test_of_the_core_modules_names_its_rule_and_param():
    """Each refusal a core module sends says which rule refuses it (refuse=), and the field its error
    should name where there is one; the rules it names list their statuses."""
    for name in ("test_errors.py", "test_http.py", "test_request.py", "test_response.py"):
        text = (ROOT / "suites" / name).read_text(encoding="utf-8")
        for rid in re.findall(r'refuse="([A-Z]+-\d{3})"', text):
            assert rules.get(rid).statuses, f"{name}: {rid} names no status"
        assert "expect." not in text and "Violation" not in text


def test_a_401_refusing_an_invalid_request_is_the_wrong_class():
    ex = exchange(err(type_="authentication_error"), 401, intent=Intent("refuse", "PARAM-011", "top_p"))
    assert "ERR-011" in broken(ex) and "PARAM-011" in broken(ex)
    ex = exchange(err(param="top_p"), 403, intent=Intent("refuse", "PARAM-011", "top_p"))
    assert "ERR-011" in broken(ex)
    assert rules.get("ERR-011").level == "SHOULD"


# -- item 3: error.param, leaked internals, the error type ----------------------------------------
@pytest.mark.parametrize("param", ["None", "null", "body.messages.0.content", "body", "query.model"])
def test_error_param_that_names_no_request_field_fails_err003(param):
    assert broken(exchange(err(param=param), 400)) == ["ERR-003"]


def test_error_param_must_name_the_field_the_refusal_is_about():
    assert broken(exchange(err(param="messages"), 400, intent=Intent("refuse", "REQ-004", "temperature"))) == [
        "ERR-003"
    ]
    assert broken(exchange(err(param=None), 400, intent=Intent("refuse", "REQ-004", "temperature"))) == ["ERR-003"]
    assert broken(exchange(err(param="messages.[0].role"), 400, intent=Intent("refuse", "REQ-010", "messages"))) == []
    # PARAM-011's own text asks for the field: there a refusal naming another breaks
    # PARAM-011, and only it (one owner for one fact).
    assert broken(exchange(err(param=None), 400, intent=Intent("refuse", "PARAM-011", "top_p"))) == ["PARAM-011"]
    # A param that is no field at all is ERR-003's fact, whoever owns the refusal.
    assert "ERR-003" in broken(exchange(err(param="None"), 400, intent=Intent("refuse", "PARAM-011", "top_p")))


def test_a_request_field_or_null_is_a_good_param():
    assert broken(exchange(err(param="messages.[3].role"), 400)) == []
    assert (
        broken(exchange(err(param="x_vendor_knob"), 400, request={"model": "m", "messages": [], "x_vendor_knob": 1}))
        == []
    )


LEAKS = [
    "'str' object has no attribute 'get'",
    "Traceback (most recent call last):\n  File \"/app/server.py\", line 88, in create\nKeyError: 'messages'",
    "TypeError: Cannot read properties of undefined (reading 'map')",
    "java.lang.NullPointerException",
    "panic: runtime error: invalid memory address or nil pointer dereference",
]


@pytest.mark.parametrize("message", LEAKS, ids=range(len(LEAKS)))
def test_a_message_that_is_an_internal_exception_fails_err003_and_err012(message):
    assert set(broken(exchange(err(message), 400))) == {"ERR-003", "ERR-012"}


def test_a_readable_message_that_also_shows_a_source_location_fails_err012_only():
    ex = exchange(
        {
            "error": {
                "message": "Invalid 'temperature': expected a number.",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": None,
                "stack": "at parse (/srv/app/dist/params.js:41:13)",
            }
        },
        400,
    )
    assert broken(ex) == ["ERR-012"]
    assert rules.get("ERR-012").level == "SHOULD" and rules.get("ERR-012").citation["source"]


@pytest.mark.parametrize(
    "message",
    [
        "Invalid type for 'temperature': expected a decimal, but got a string instead.",
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        "Unexpected token at position (1:5)",
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 300012 tokens.",
        "1 validation error for ChatCompletionRequest\nmessages\n  Field required [type=missing, input_value={}, input_type=dict]",
    ],
)
def test_ordinary_messages_are_not_leaks(message):
    assert broken(exchange(err(message), 400)) == []


def test_an_invalid_requests_error_type_is_judged_by_err004():
    ex = exchange(
        err(type_="BadRequestError", param="temperature"), 400, intent=Intent("refuse", "REQ-004", "temperature")
    )
    assert broken(ex) == ["ERR-004"]
    # Not an invalid request: a 401's type is free (api.openai.com and Anthropic differ).
    auth = exchange(err(type_="authentication_error"), 401, intent=Intent("refuse", "AUTH-004"))
    assert broken(auth) == [] and "ERR-004" not in found(auth).judged


# -- item 4: rules that only note are never passed; situational rules judged where they arise -----
def _verdict(rec: Recorder, cited):
    return judge(
        rec.violations,
        rec.exchanges,
        cited,
        (),
        "should",
        judged=rec.judged,
        unjudged=rec.unjudged,
        refused=rec.refused_premises,
    )


def test_req012_is_noted_never_judged():
    rec = Recorder()
    a, b = json_exchange(good_response()), json_exchange(good_response())
    rec.observe(a)
    rec.observe(b)
    rec.relate("history_kept", a, b)
    assert any(n.rule == "REQ-012" for n in rec.notes)
    assert _verdict(rec, ["REQ-012"])["rules"]["REQ-012"]["outcome"] == Outcome.NOT_EXERCISED


def test_resp021_lists_extensions_and_is_never_passed():
    body = good_response()
    body["choices"][0]["message"]["reasoning"] = "because"
    rec = Recorder()
    rec.observe(json_exchange(body))
    assert any(n.rule == "RESP-021" and "reasoning" in n.message for n in rec.notes)
    assert _verdict(rec, ["RESP-021"])["rules"]["RESP-021"]["outcome"] == Outcome.NOT_EXERCISED


def test_err007_is_judged_on_a_quota_429_only():
    quota = exchange(
        err(
            "You exceeded your current quota, please check your plan and billing details.",
            "requests",
            code="rate_limit_exceeded",
        ),
        429,
    )
    assert broken(quota) == ["ERR-007"]
    said = exchange(err("You exceeded your current quota.", "insufficient_quota", code="insufficient_quota"), 429)
    assert broken(said) == [] and "ERR-007" in found(said).judged
    no_retry = exchange(err("Slow down.", "requests"), 429, headers={"x-should-retry": "false"})
    assert broken(no_retry) == ["ERR-007"]
    rate = exchange(
        err("Rate limit reached: 60 requests per minute quota.", "requests"), 429, headers={"retry-after": "2"}
    )
    assert broken(rate) == [] and "ERR-007" in found(rate).unjudged and "ERR-006" in found(rate).judged


def test_err006_fractional_retry_after():
    assert broken(exchange(err("Rate limited.", "requests"), 429, headers={"retry-after": "0.5"})) == ["ERR-006"]


def test_err009_is_judged_on_any_5xx_and_not_exercised_without_one():
    assert "ERR-009" in broken(exchange(b"Internal Server Error", 502, path="/v1/models", content_type="text/plain"))
    assert "ERR-009" in found(exchange(err("boom", "server_error"), 500)).judged
    ok = found(json_exchange(good_response()))
    assert "ERR-009" not in ok.judged and "no 5xx" in ok.unjudged["ERR-009"]


def test_an_intent_is_not_judged_on_the_429_the_client_retries():
    ex = exchange(err("Rate limited.", "requests"), 429, intent=Intent("accept", "REQ-001"))
    assert "REQ-001" not in broken(ex) and "REQ-001" not in found(ex).judged


# -- the other core checks --------------------------------------------------------------------------
def test_http008_unknown_field():
    req = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "x_conformance_probe": 1}
    assert broken(exchange(good_response(), 200, request=req)) == []
    assert broken(exchange(err(param="x_conformance_probe"), 400, request=req)) == []
    assert "HTTP-008" in broken(exchange(err("boom", "server_error"), 500, request=req))
    assert "HTTP-008" in broken(exchange(err(param="x_conformance_probe"), 422, request=req))


def test_resp014_and_resp015():
    req = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 16}
    body = good_response()
    body["choices"][0]["finish_reason"] = "tool_calls"
    assert broken(exchange(body, 200, request=req)) == ["RESP-014"]
    body["choices"][0]["finish_reason"] = "length"
    # 2 of 16 tokens: not the limit.  What "length" means has one owner, PARAM-002.
    assert broken(exchange(body, 200, request=req)) == ["PARAM-002"]
    body["usage"] = {"prompt_tokens": 3, "completion_tokens": 16, "total_tokens": 19}
    assert broken(exchange(body, 200, request=req)) == []
    del body["usage"]
    assert "RESP-015" in broken(exchange(body, 200, request=req))


def test_resp005_ids_differ_across_completions():
    a, b = json_exchange(good_response()), json_exchange(good_response())
    assert [v.rule for v in checks.relate("distinct_ids", a, b).violations] == ["RESP-005"]
    b.json["id"] = "chatcmpl-2"
    assert "RESP-005" in checks.relate("distinct_ids", a, b).judged


def test_err008_oversized_prompt():
    req = {"model": "m", "messages": [{"role": "user", "content": "lorem ipsum " * 150_000}], "max_tokens": 4}
    assert broken(exchange(err("too long", param="messages", code="context_length_exceeded"), 400, request=req)) == []
    assert broken(exchange(err("too large"), 413, request=req)) == []
    assert "ERR-008" in broken(exchange(err("boom", "server_error"), 500, request=req))
    truncated = good_response()
    truncated["usage"] = {"prompt_tokens": 4096, "completion_tokens": 2, "total_tokens": 4098}
    assert "ERR-008" in broken(exchange(truncated, 200, request=req))
    whole = copy.deepcopy(truncated)
    whole["usage"] = {"prompt_tokens": 300_012, "completion_tokens": 2, "total_tokens": 300_014}
    assert "ERR-008" in found(exchange(whole, 200, request=req)).unjudged


# -- item 5: rejudge reproduces a clean run later, and sets unclaimed findings aside ------------
@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rejudge") / "results.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_response.py",
            "suites/test_errors.py",
            "suites/test_request.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--results",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    return json.loads(out.read_text())


def test_a_clean_run_rejudged_hours_later_is_unchanged(clean_run, monkeypatch):
    from chatconform.rejudge import rejudge

    later = time.time() + 3 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    new, changes = rejudge(copy.deepcopy(clean_run))
    assert changes == []
    assert {k: v["outcome"] for k, v in new["rules"].items()} == {
        k: v["outcome"] for k, v in clean_run["rules"].items()
    }
    assert new["rules"]["RESP-022"]["outcome"] == "pass"
    assert all(
        x.get("intent") is not None
        for t in clean_run["tests"]
        if "test_errors" in t["nodeid"]
        for x in t["exchanges"][:1]
        if "context" not in t["nodeid"]
    )


def test_rejudge_judges_the_recorded_intent_again(clean_run):
    """The intent is recorded with its exchange: a refusal now answered 200 fails its rule."""
    from chatconform.rejudge import rejudge

    data = copy.deepcopy(clean_run)
    test = next(t for t in data["tests"] if t["nodeid"].endswith("test_missing_required[no model]"))
    resp = test["exchanges"][0]["response"]
    resp["status"], resp["body"] = 200, json.dumps(good_response())
    new, changes = rejudge(data)
    assert (test["nodeid"], "pass", "fail") in changes and new["rules"]["REQ-002"]["outcome"] == "fail"


def test_rejudge_keeps_a_relations_verdict(clean_run):
    """A relation between exchanges (recorder.relate) is not replayed: its recorded violation stands."""
    from chatconform.rejudge import rejudge

    data = copy.deepcopy(clean_run)
    test = next(t for t in data["tests"] if t["nodeid"].endswith("test_ids_are_unique"))
    test["violations"].append(
        {
            "rule": "RESP-005",
            "level": "SHOULD",
            "expected": "2 completions with different ids",
            "actual": 'ids ["a", "a"]',
            "where": "/id",
            "disposition": "fail",
            "origin": "check",
            "exchange": 1,
        }
    )
    test["outcome"], test["rule_outcomes"]["RESP-005"] = "fail", {"outcome": "fail"}
    new, changes = rejudge(data)
    assert changes == [] and new["rules"]["RESP-005"]["outcome"] == "fail"


def test_rejudge_sets_unclaimed_findings_aside(clean_run):
    """n: 2 answered with one choice breaks PARAM-008 only where `n` is claimed."""
    from chatconform.rejudge import rejudge

    data = copy.deepcopy(clean_run)
    test = next(t for t in data["tests"] if t["nodeid"].endswith("test_top_level_fields"))
    req = test["exchanges"][0]["request"]
    req["body"] = json.dumps({**json.loads(req["body"]), "n": 2})
    data["target"]["capabilities"] = [c for c in data["target"]["capabilities"] if c != "n"]
    new, changes = rejudge(data)
    assert changes == [] and new["rules"]["PARAM-008"]["outcome"] != "fail"
    data["target"]["capabilities"].append("n")
    new, changes = rejudge(data)
    assert new["rules"]["PARAM-008"]["outcome"] == "fail"


# -- a refused premise: the other rules are not judged -------------------------------------------
def test_a_refused_premise_leaves_the_response_rules_not_judged(tmp_path):
    from chatconform.reference import start

    out = tmp_path / "results.json"
    with start(api_key="sk-core-premise-0000", defects=["chat-route-404"]) as srv:
        args = ["--base-url", srv.base_url, "--model", "chatconform-reference", "--api-key-env", "CC_CORE_KEY"]
        helpers.run_suite(
            [*args, "--no-preflight"],
            out,
            paths=("suites/test_response.py",),
            env={"CC_CORE_KEY": "sk-core-premise-0000"},
        )
    data = json.loads(out.read_text())
    assert data["rules"]["REQ-001"]["outcome"] == "fail"
    for rid in ("RESP-002", "RESP-003", "RESP-010", "RESP-015"):
        assert data["rules"][rid]["outcome"] == "not-judged", rid


def test_failure_text_shows_the_body_that_came_back():
    # An error-format failure is about the body: the log must show it, not only the status.
    from chatconform.report import render_failure
    from chatconform.violations import Violation

    ex = json_exchange({"detail": "Not Found"}, status=404)
    text = render_failure([Violation("ERR-001", "an error object", "no 'error' key", exchange=ex)], {}, None)
    assert '"detail": "Not Found"' in text or '{"detail":' in text
