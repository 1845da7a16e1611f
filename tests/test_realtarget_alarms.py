"""False alarms the real servers revealed (docs/REALTARGETS.md), replayed on the reference.

Each case starts the embedded reference with the conformant variant that does what the
real server did, runs the few suite tests that raised the false alarm (as a user runs
them: --base-url, standard budget), and asks that they pass.  The whole suite against
every variant is test_variants.py's business; these cases are small, so each fix has a
test that fails without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import subprocess
import sys

import pytest

from chatconform.client import Client
from chatconform.observer import Recorder
from chatconform.reference import Defect, start
from chatconform.reference.errors import ApiError
from chatconform.strategies.harness import Outcome, PropertyRun, typed
from chatconform.targets import adhoc
from chatconform.violations import Violation

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_selected(base_url: str, key: str, caps: str, select: list[str], out: pathlib.Path) -> tuple[int, dict, str]:
    env = {**os.environ, "CC_ALARM_KEY": key, "CHATCONFORM_HYPOTHESIS_DIR": "off"}
    cmd = [sys.executable, "-m", "pytest", *select, "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    cmd += ["--base-url", base_url, "--model", "chatconform-reference", "--api-key-env", "CC_ALARM_KEY"]
    cmd += ["--capabilities", caps, "--concurrency", "2", "--results", str(out)]
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    data = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, data, proc.stdout[-4000:] + proc.stderr[-2000:]


def failed_rules(data: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t in data.get("tests", []):
        for v in t.get("violations", []):
            if v.get("disposition") == "fail":
                out.setdefault(v["rule"], []).append(f"{t['nodeid']}: expected {v['expected']}; got {v['actual']}")
    return out


CASES = [
    # LiteLLM's proxy (and api.openai.com) refuse a missing or unknown model with error.param
    # null; ERR-003 had demanded "model".
    pytest.param(
        "model-param-null",
        "all",
        [
            "suites/test_errors.py::test_unknown_model",
            "suites/test_errors.py::test_missing_required",
            "suites/test_properties.py::test_invalid_requests_are_refused",
        ],
        id="model-param-null",
    ),
    # vLLM refuses logit_bias ids beyond its model's vocabulary (430 tokens); the property
    # tests drew ids up to 999 and failed PARAM-012 for the refusal PARAM-013 asks for.
    pytest.param(
        "small-vocabulary",
        "all",
        [
            "suites/test_properties.py::test_valid_requests_are_answered",
            "suites/test_properties.py::test_relations_hold",
        ],
        id="small-vocabulary",
    ),
    # vLLM with a 2048-token context refuses the property tests' longest prompts with 400
    # (ERR-008's answer); they failed the acceptance rule of a feature of the request.
    pytest.param(
        "small-context",
        "all",
        [
            "suites/test_properties.py::test_valid_requests_are_answered",
            "suites/test_properties.py::test_relations_hold",
        ],
        id="small-context",
    ),
]


@pytest.mark.parametrize("variant,caps,select", CASES)
def test_real_server_behaviour_passes(variant, caps, select, tmp_path):
    key = "sk-alarm-" + secrets.token_hex(8)
    with start(api_key=key, variants=[variant]) as srv:
        rc, data, tail = run_selected(srv.base_url, key, caps, select, tmp_path / "r.json")
    assert data, f"no results\n{tail}"
    fails = failed_rules(data)
    errors = data.get("counts", {}).get("error", 0)
    assert not fails and not errors and rc == 0, f"{variant}: {json.dumps(fails, indent=1)[:3000]}\n{tail}"


# -- attribution of a refusal reported after the last search -------------------------------------
def _refuse_n_greedy(call):
    body = call.body or {}
    if isinstance(body.get("n"), int) and body["n"] > 1 and body.get("temperature") == 0:
        return ApiError(400, f"n must be 1 when using greedy sampling, got {body['n']}.", param=None)
    return None


N_GREEDY = Defect(
    "refuses-n-at-temperature-0",
    "params",
    ("PARAM-007",),
    "n > 1 with temperature 0 is refused with 400 and a param of null (vLLM 0.32).",
    on_request=_refuse_n_greedy,
)


@contextlib.contextmanager
def property_run(defect):
    """A property run against the reference with `defect`, its client open, for the
    attribution experiments to be called directly."""
    with start(defects=[defect]) as srv:
        target = adhoc(srv.base_url, "chatconform-reference", None, "all")
        run = PropertyRun(target, examples=1)
        run._client = Client(target, observe=run._observe)
        try:
            yield run
        finally:
            run._client.close()


def guessed(run: PropertyRun, body: dict, rule: str) -> Violation:
    """Send the valid `body` that the server refuses, blamed on `rule` (the guess)."""
    rec = Recorder()
    run.send(rec, body, label="a valid request", accept=rule)
    assert [v.rule for v in rec.violations] == [rule], rec.violations  # the guess
    return typed(rec.violations[0])


def test_refusal_left_after_the_searches_is_attributed():
    """A rule broken by an example that no search reported (the searches were spent on
    other rules) is attributed by experiment like a search's failure: vLLM's refusal of
    n > 1 at temperature 0 names no field, and the guess (the request's first feature, here
    its text parts) was reported as CONTENT-001."""
    body = {
        "model": "chatconform-reference",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_completion_tokens": 4,
        "temperature": 0,
        "n": 2,
    }
    with property_run(N_GREEDY) as run:
        run.cache["example"] = Outcome([guessed(run, body, "CONTENT-001")])
        groups = run._unreported([], set())
    assert [[v.rule for v in g] for g in groups] == [["PARAM-007"]], groups


# -- a stream that an error ends ------------------------------------------------------------------
def _fail_after_first_content(call, chunks):
    # llama-server: 'The model produced output that does not match the expected peg-native
    # format' after a few deltas of a grammar-constrained answer; the stream ends there.
    if len(chunks) < 3:
        return chunks
    error = {"message": "The model produced output that does not match the expected format", "type": "server_error"}
    return chunks[:2] + [{"error": {**error, "param": None, "code": None}}]


MIDWAY = Defect(
    "stream-fails-midway",
    "stream",
    (),
    "Every stream of three chunks or more ends after its second chunk with a well-formed error event, no [DONE].",
    on_chunks=_fail_after_first_content,
    on_events=lambda call, events: [e for e in events if "[DONE]" not in e],
)


def test_stream_ended_by_an_error_owes_nothing_after_it(tmp_path):
    """STREAM-024: an error after the stream began is one event with the error object, and
    the stream then ends.  The finish_reason of each choice, the choices still due and
    [DONE] are not owed after it (STREAM-011, STREAM-016, STREAM-020, RESP-009 had failed
    llama-server and vLLM streams that an error ended)."""
    key = "sk-alarm-" + secrets.token_hex(8)
    select = [
        "suites/test_stream.py::test_sse_framing",
        "suites/test_stream.py::test_choice_lifecycle",
        "suites/test_stream.py::test_n_streams_by_index",
    ]
    with start(api_key=key, defects=[MIDWAY]) as srv:
        rc, data, tail = run_selected(srv.base_url, key, "streaming,n", select, tmp_path / "r.json")
    assert data, f"no results\n{tail}"
    fails = failed_rules(data)
    owed = {"STREAM-011", "STREAM-016", "STREAM-020", "RESP-009", "STREAM-024"} & set(fails)
    assert not owed, f"{json.dumps({r: fails[r] for r in owed}, indent=1)[:3000]}\n{tail}"


# -- stream_options: null ---------------------------------------------------------------------------
def _null_stream_options_500(call):
    if "stream_options" in (call.body or {}) and call.body["stream_options"] is None:
        return ApiError(500, "The server had an error while processing your request.", type="server_error")
    return None


NULL_OPTIONS_500 = Defect(
    "null-stream-options-500",
    "http",
    ("HTTP-007",),
    "stream_options: null crashes the handler (500), as llms.py 4.0.26 does.",
    on_parsed=_null_stream_options_500,
)


def test_null_stream_options_is_http_007s_alone(tmp_path):
    """stream_options: null means not set (HTTP-007): a server that fails on it breaks
    HTTP-007, not also STREAM-019 (stream_options without stream), which the null had
    made apply (a note on llms.py, which does not claim streaming; a failure otherwise)."""
    key = "sk-alarm-" + secrets.token_hex(8)
    select = ["suites/test_http.py::test_null_means_not_set"]
    with start(api_key=key, defects=[NULL_OPTIONS_500]) as srv:
        rc, data, tail = run_selected(srv.base_url, key, "streaming", select, tmp_path / "r.json")
    assert data, f"no results\n{tail}"
    assert set(failed_rules(data)) == {"HTTP-007"}, f"{json.dumps(failed_rules(data), indent=1)[:3000]}\n{tail}"


# -- a refusal of two features at once ------------------------------------------------------------
def _refuse_null_penalty_and_refusal_parts(call):
    # llama-cpp-python: its pydantic model refuses `presence_penalty: null` and an assistant
    # message's `refusal` content part, each with a 400 whose error names no field.
    body = call.body or {}
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else []
    parts = [p for m in msgs if isinstance(m, dict) and isinstance(m.get("content"), list) for p in m["content"]]
    if ("presence_penalty" in body and body["presence_penalty"] is None) or any(
        isinstance(p, dict) and p.get("type") == "refusal" for p in parts
    ):
        return ApiError(400, "1 validation error for CreateChatCompletionRequest", param=None)
    return None


TWO_REFUSED = Defect(
    "refuses-null-penalty-and-refusal-parts",
    "params",
    ("HTTP-007", "REQ-008"),
    "A null presence_penalty and an assistant refusal part are each refused, naming no field.",
    on_request=_refuse_null_penalty_and_refusal_parts,
)


def test_two_refused_features_are_found_alone():
    """llama-cpp-python's REQ-009 false alarm: a minimal request held two features the
    server refuses (a null presence_penalty, an assistant refusal part) besides a system
    message with a name, which it accepts.  No single removal is accepted, so the guess (the
    first feature, the named system message: REQ-009) stood.  Each feature is now tried
    alone, and the two refused alone are reported; REQ-009 is not."""
    body = {
        "model": "chatconform-reference",
        "messages": [
            {"role": "system", "content": "Be brief.", "name": "rules"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
            {"role": "user", "content": "Why?"},
        ],
        "max_completion_tokens": 4,
        "presence_penalty": None,
    }
    with property_run(TWO_REFUSED) as run:
        guess = guessed(run, body, "REQ-009")
        group = run._attributed(guess, None)
        # the same refusal met again with the refused features known is explained
        run._refused_rules.update(v.rule for v in group)
        explained = run._explained(guess)
    assert sorted(v.rule for v in group) == ["HTTP-007", "REQ-008"], group
    assert all(v.exchange.request_json != body for v in group)  # the evidence is the feature alone
    assert explained


def _refuse_n_and_two_text_parts(call):
    body = call.body or {}
    if "n" in body:
        return ApiError(400, "n is not supported", param=None)
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else []
    for i, m in enumerate(msgs):
        if isinstance(m, dict) and isinstance(m.get("content"), list) and len(m["content"]) > 1:
            return ApiError(400, "one content part at most", param=f"messages[{i}].content")
    return None


N_AND_PARTS = Defect(
    "refuses-n-and-two-text-parts",
    "params",
    ("PARAM-007", "CONTENT-001"),
    "n is refused naming no field; two text parts are refused naming the message's content.",
    on_request=_refuse_n_and_two_text_parts,
)


def test_a_guess_blamed_elsewhere_is_not_set_aside():
    """A refusal guessed on text parts (CONTENT-001) and found by experiment to be n's
    (PARAM-007) must not set CONTENT-001 aside: the same server's real refusal of two text
    parts is still reported."""
    from hypothesis import strategies as st

    from chatconform.strategies import acceptance_rule

    def body(parts: int, n: bool) -> dict:
        content = [{"type": "text", "text": f"part {i}"} for i in range(parts)]
        out = {"model": "chatconform-reference", "messages": [{"role": "user", "content": content}]}
        return {**out, "max_completion_tokens": 4, **({"n": 2} if n else {})}

    guessed, real = body(1, True), body(2, False)

    def provoke(value, b, probe):
        probe.send(b, label="a valid request", accept=acceptance_rule(b)[0])

    with start(defects=[N_AND_PARTS]) as srv:
        target = adhoc(srv.base_url, "chatconform-reference", None, "all")
        run = PropertyRun(target, examples=5, recorder=Recorder())
        with pytest.raises(Exception) as raised:
            run.run(st.sampled_from([guessed, real]), provoke, explicit=[guessed, real])
    rules = {raised.value.rule} | {v.rule for v in run.recorder.violations}
    assert rules == {"PARAM-007", "CONTENT-001"}, rules


def _refuse_developer(call):
    # llama-cpp-python: its request model knows no developer role (a 500 listing the
    # validation errors, naming no field).
    msgs = (call.body or {}).get("messages")
    if any(isinstance(m, dict) and m.get("role") == "developer" for m in msgs or []):
        return ApiError(500, "7 validation errors: literal_error ('body', 'messages', 0)", param=None)
    return None


DEVELOPER_REFUSED = Defect(
    "refuses-developer-role",
    "request",
    ("REQ-006",),
    "A developer message is refused with a 500 naming no field.",
    on_request=_refuse_developer,
)


@pytest.mark.parametrize("where", ["first", "last"])
def test_a_named_developer_message_is_the_developer_roles(where):
    """llama-cpp-python refuses the developer role; a developer message carrying a name
    was blamed on REQ-009 (names), which it accepts.  The name is tried apart: the request
    without it is still refused, the request without the message (or with the message
    alone, nameless) shows the role at fault."""
    dev = {"role": "developer", "content": "Be brief.", "name": "rules"}
    user = {"role": "user", "content": "Hi"}
    body = {
        "model": "chatconform-reference",
        "messages": [dev, user] if where == "first" else [user, {"role": "assistant", "content": "Yes?"}, dev],
        "max_completion_tokens": 4,
        "temperature": None,
    }
    with property_run(DEVELOPER_REFUSED) as run:
        group = run._attributed(guessed(run, body, "REQ-009"), None)
    assert [v.rule for v in group] == ["REQ-006"], group


def test_smallest_failure_skips_what_the_search_set_aside():
    """When hypothesis itself gives up, the failure reported is the smallest example's of a
    rule the search was looking for, not one of a rule already found (set aside)."""
    from tests.helpers import json_exchange

    small = json_exchange({}, request={"model": "m", "messages": []}, status=500)
    large = json_exchange({}, request={"model": "m", "messages": [{"role": "user", "content": "x" * 50}]}, status=500)
    run = PropertyRun(adhoc("http://127.0.0.1:9/v1", "m", None, "all"), examples=1)
    run.cache["a"] = Outcome([typed(Violation("RESP-001", "e", "a", "", small, "check"))])
    run.cache["b"] = Outcome([typed(Violation("ERR-009", "e", "a", "", large, "check"))])
    assert [v.rule for v in run._smallest_failure()] == ["RESP-001"]
    run._aside.add("RESP-001")
    assert [v.rule for v in run._smallest_failure()] == ["ERR-009"]
