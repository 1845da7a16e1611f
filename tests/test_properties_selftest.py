"""Self-tests of the property suite (suites/test_properties.py), run as a user runs it: in a
subprocess, against the embedded reference started here, with or without one defect.

* the clean reference passes every property;
* a defect whose fault shows only on some inputs is caught, for the right rule, and the
  failure shows a minimal request as JSON, a curl command and the seed;
* the same --hypothesis-seed gives the same verdicts (and the same minimal request);
* the per-target example database retries a found failure first;
* differential mode tells a defective reference from a clean one.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from chatconform import differential
from chatconform.reference import DEFECTS, Defect, start
from chatconform.reference.errors import ApiError

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUITE = "suites/test_properties.py"
MODEL = "chatconform-reference"

# defect -> (the property test that meets it, the rule it must be reported under, a field the
# minimal request must carry (or None)).  Each shows only on some inputs: an edge value, a
# stop sequence that the text contains, a limit shorter than the answer, a rare combination.
CASES = {
    "ignores-max-tokens": ("test_valid_requests_are_answered[core]", "PARAM-001", "max_tokens"),
    "ignores-max-completion-tokens": ("test_valid_requests_are_answered[core]", "PARAM-001", "max_completion_tokens"),
    "stop-sequence-included": ("test_valid_requests_are_answered[core]", "PARAM-005", "stop"),
    "stop-array-first-only": ("test_valid_requests_are_answered[core]", "PARAM-005", "stop"),
    "rejects-temperature-2": ("test_valid_requests_are_answered[core]", "PARAM-010", "temperature"),
    "rejects-top-p-0": ("test_valid_requests_are_answered[core]", "PARAM-010", "top_p"),
    "rejects-negative-penalty": ("test_valid_requests_are_answered[core]", "PARAM-010", None),
    "rejects-null-sampling": ("test_valid_requests_are_answered[core]", "HTTP-007", None),
    "rejects-developer-role": ("test_valid_requests_are_answered[core]", "REQ-006", "messages"),
    "accepts-temperature-above-2": ("test_invalid_requests_are_refused[values]", "PARAM-011", "temperature"),
    "accepts-five-stops": ("test_invalid_requests_are_refused[dependencies]", "PARAM-006", "stop"),
    "accepts-top-logprobs-without-logprobs": (
        "test_invalid_requests_are_refused[dependencies]",
        "PARAM-015",
        "top_logprobs",
    ),
    "error-not-enveloped": ("test_invalid_requests_are_refused[values]", "ERR-001", None),
    "accepts-part-without-payload": ("test_invalid_requests_are_refused[structure]", "REQ-011", "messages"),
    "accepts-unknown-role": ("test_invalid_requests_are_refused[structure]", "REQ-010", "messages"),
    "accepts-unknown-part-type": ("test_invalid_requests_are_refused[structure]", "REQ-011", "messages"),
    "accepts-json-schema-without-name": (
        "test_invalid_requests_are_refused[structure]",
        "PARAM-027",
        "response_format",
    ),
    "accepts-orphan-tool-message": ("test_invalid_requests_are_refused[tools]", "TOOL-018", "messages"),
    "accepts-unanswered-tool-calls": ("test_invalid_requests_are_refused[tools]", "TOOL-018", "messages"),
    # TOOL-006 judges arguments only for strict: true tools (without strict they are the
    # model's); a forced call to a function that was not offered shows on more inputs.
    "tool-name-not-offered": ("test_valid_requests_are_answered[tools]", "TOOL-006", "tools"),
    "accepts-image-in-system-message": ("test_invalid_requests_are_refused[vision]", "CONTENT-002", "messages"),
    "tool-choice-none-ignored": ("test_valid_requests_are_answered[tools]", "TOOL-011", "tool_choice"),
    "rejects-tool-array-content": ("test_valid_requests_are_answered[tools]", "TOOL-017", "messages"),
    "stream-usage-ignored": ("test_valid_requests_are_answered[streaming]", "STREAM-018", "stream_options"),
    "n-duplicate-index": ("test_valid_requests_are_answered[n]", "PARAM-008", "n"),
    "stream-validation-error-as-sse": ("test_invalid_requests_are_refused[values]", "STREAM-023", "stream"),
    "coerces-string-n": ("test_invalid_requests_are_refused[values]", "REQ-004", "n"),
    # chatconform/reference/defects/inputs.py: the far end of a range, sizes, stops across
    # tokens, typed structured output, usage only a second request shows, rare shapes
    "rejects-large-token-limit": ("test_valid_requests_are_answered[core]", "PARAM-001", "max_completion_tokens"),
    "stream-rejects-top-logprobs-above-10": ("test_valid_requests_are_answered[logprobs]", "PARAM-014", "top_logprobs"),
    "n-capped-at-16": ("test_valid_requests_are_answered[n]", "PARAM-008", "n"),
    "rejects-many-tools": ("test_valid_requests_are_answered[tools]", "TOOL-001", "tools"),
    "rejects-long-conversation": ("test_valid_requests_are_answered[core]", "REQ-005", "messages"),
    "rejects-many-content-parts": ("test_valid_requests_are_answered[core]", "CONTENT-001", "messages"),
    "stop-spanning-tokens-missed": ("test_valid_requests_are_answered[core]", "PARAM-005", "stop"),
    "stream-stop-spanning-chunks-missed": ("test_valid_requests_are_answered[streaming]", "PARAM-005", "stop"),
    "json-schema-typed-enums-as-strings": (
        "test_valid_requests_are_answered[json_schema]",
        "PARAM-026",
        "response_format",
    ),
    "json-schema-nested-arrays-flattened": (
        "test_valid_requests_are_answered[json_schema]",
        "PARAM-026",
        "response_format",
    ),
    "prompt-tokens-last-message-only": ("test_relations_hold[prompt-tokens]", "RESP-018", "messages"),
    "stream-usage-first-choice-only": ("test_relations_hold[stream-usage-n]", "STREAM-018", "stream_options"),
    "accepts-tool-parts-without-id": ("test_invalid_requests_are_refused[tools]", "TOOL-018", "messages"),
}


# Options a defect's run needs: max_tokens is sent only to a target that takes it.
EXTRA_ARGS = {"ignores-max-tokens": ("--token-limit-field", "max_tokens")}


def _astral_500(call):
    text = json.dumps(call.body.get("messages"), ensure_ascii=False) if isinstance(call.body, dict) else ""
    if any(ord(c) > 0xFFFF for c in text):
        return ApiError(
            500, "The server had an error while processing your request.", type="server_error", check="defect"
        )
    return None


# Our own defect, met only by generated requests (no boundary example has an astral
# character): a server that crashes on text outside the Basic Multilingual Plane.
ASTRAL_500 = Defect(
    "astral-500", "request", ("REQ-001",), "Text with a character outside the BMP gets 500.", on_request=_astral_500
)


def run_properties(
    base_url: str, out: pathlib.Path, *extra: str, node: str | None = None, db: str = "off"
) -> tuple[int, dict, str]:
    env = {**os.environ, "CHATCONFORM_HYPOTHESIS_DIR": db}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        f"{SUITE}::{node}" if node else SUITE,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--base-url",
        base_url,
        "--model",
        MODEL,
        "--capabilities",
        "all",
        "--results",
        str(out),
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    data = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def failed_rules(data: dict) -> set[str]:
    return {rid for rid, r in data.get("rules", {}).items() if r["outcome"] == "fail"}


def minimal_requests(output: str) -> list[dict]:
    """The JSON bodies printed under "minimal request (...)" in a run's output."""
    found = []
    for block in re.findall(r"minimal request \([^)]*; seed [^)]*\):\n((?:  .*\n)+)", output):
        found.append(json.loads("\n".join(line[2:] for line in block.split("\n") if line)))
    return found


def verdicts(data: dict) -> dict:
    return {t["nodeid"]: (t["outcome"], sorted({v["rule"] for v in t["violations"]})) for t in data.get("tests", [])}


# -- the clean reference ----------------------------------------------------------------------------
def test_clean_reference_passes_every_property(tmp_path):
    with start() as srv:
        rc, data, out = run_properties(srv.base_url, tmp_path / "clean.json")
    assert rc == 0, out[-4000:]
    assert not failed_rules(data), failed_rules(data)
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in data["tests"]}
    assert set(outcomes.values()) == {"pass"}, outcomes
    assert len(outcomes) == 18, outcomes  # every focus of the valid and invalid properties
    assert data["spend"]["requests"] >= 18 * 10


# -- defects that show only on some inputs ----------------------------------------------------------
@pytest.mark.parametrize("defect", sorted(CASES))
def test_defect_is_caught_with_a_minimal_request(defect, tmp_path):
    if defect not in DEFECTS:
        pytest.skip(f"the reference has no defect {defect!r} (yet)")
    node, rule, key = CASES[defect]
    assert rule in DEFECTS[defect].breaks or rule.startswith("ERR-"), (defect, DEFECTS[defect].breaks)
    with start(defects=[defect]) as srv:
        rc, data, out = run_properties(srv.base_url, tmp_path / "r.json", *EXTRA_ARGS.get(defect, ()), node=node)
    assert rc == 1, f"{defect}: the property did not fail\n{out[-3000:]}"
    assert rule in failed_rules(data), f"{defect}: failed {sorted(failed_rules(data))}, want {rule}\n{out[-3000:]}"
    # the report: the minimal request as JSON, a curl command, the seed that replays it
    bodies = minimal_requests(out)
    assert bodies, out[-3000:]
    assert "reproduce: curl " in out and "--hypothesis-seed=0" in out
    assert "chatconform property failure: " + rule in out
    if key is not None:
        assert any(key in b for b in bodies), (key, bodies)
    # results.json carries the same evidence: the failing exchange first, and the note
    test = next(t for t in data["tests"] if t["nodeid"].endswith(node))
    assert test["exchanges"] and test["exchanges"][0]["curl"].startswith("curl ")
    assert any("minimal request" in n["message"] for n in test["notes"])


def test_shrinking_keeps_only_what_the_failure_needs(tmp_path):
    """A fault met only by generated requests (500 on astral-plane text): hypothesis shrinks
    the failing request to one user message holding one astral character, nothing else."""
    with start(defects=[ASTRAL_500]) as srv:
        rc, data, out = run_properties(srv.base_url, tmp_path / "r.json", node="test_valid_requests_are_answered[core]")
    assert rc == 1 and "REQ-001" in failed_rules(data), out[-3000:]
    assert "minimal request (shrunk by hypothesis; seed 0)" in out
    # One minimal request per rule the fault breaks (a property goes on looking after the
    # first); REQ-001's is the one that shows what the failure needs.
    bodies = [
        b for b in minimal_requests(out) if set(b) <= {"model", "messages", "max_tokens", "max_completion_tokens"}
    ]
    shrunk = [b for b in bodies if len(b["messages"]) == 1]
    assert shrunk, minimal_requests(out)
    msg = shrunk[0]["messages"][0]
    text = msg["content"] if isinstance(msg["content"], str) else "".join(p["text"] for p in msg["content"])
    assert len(text) == 1 and ord(text) > 0xFFFF, shrunk


def _tool_without_parameters_400(call):
    tools = call.body.get("tools") if isinstance(call.body, dict) else None
    for t in tools if isinstance(tools, list) else []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and "parameters" not in fn:
            return ApiError(400, "Invalid request.", param=None, check="defect")  # names no field
    return None


# A refusal that names no field, of a feature that is never the first in attribution
# order when other features come along (logprobs, n, ... come before tools).
TOOL_400_NO_PARAM = Defect(
    "tool-without-parameters-400-no-param",
    "tools",
    ("TOOL-002",),
    "A tool without parameters gets 400 with param null.",
    on_request=_tool_without_parameters_400,
)


def test_refusal_naming_no_field_is_attributed_by_experiment(tmp_path):
    """The error does not say what was refused: the suite finds the feature by sending the
    minimal failing request without each feature in turn, and reports TOOL-002, not the
    rule of whichever feature came first (found by llama-cpp-python: PARAM-014 was blamed)."""
    with start(defects=[TOOL_400_NO_PARAM]) as srv:
        rc, data, out = run_properties(
            srv.base_url, tmp_path / "r.json", node="test_valid_requests_are_answered[logprobs]"
        )
    assert rc == 1, out[-3000:]
    assert failed_rules(data) == {"TOOL-002"}, (failed_rules(data), out[-3000:])
    (body,) = minimal_requests(out)
    assert any("parameters" not in t["function"] for t in body["tools"]), body


@pytest.mark.xfail(
    strict=True,
    reason="known gap: the property harness keeps the notes of failing examples only, "
    "so the STREAM-019 check's note on a passing run is not in results.json",
)
def test_tolerated_acceptance_is_a_note(tmp_path):
    """STREAM-019 calls ignoring stream_options without stream a tolerable dialect: a
    server that does so passes the invalid-request property, with a note saying so
    (llama-server and llama-cpp-python both ignore it)."""
    ignores = Defect(
        "ignores-stream-options-without-stream",
        "stream",
        ("STREAM-019",),
        "stream_options without stream is ignored.",
        skip_checks=frozenset({"stream_options.requires-stream"}),
    )
    with start(defects=[ignores]) as srv:
        rc, data, out = run_properties(
            srv.base_url, tmp_path / "r.json", node="test_invalid_requests_are_refused[streaming]"
        )
    assert rc == 0, out[-3000:]
    (test,) = data["tests"]
    assert test["outcome"] == "pass", test
    assert any(n["rule"] == "STREAM-019" and "tolerat" in n["message"] for n in test["notes"]), test["notes"]


def test_boundary_failures_are_reported_as_such(tmp_path):
    """rejects-temperature-2 is met by a boundary example: reported unshrunk, one edge from plain."""
    if "rejects-temperature-2" not in DEFECTS:
        pytest.skip("no defect rejects-temperature-2")
    with start(defects=["rejects-temperature-2"]) as srv:
        rc, data, out = run_properties(srv.base_url, tmp_path / "r.json", node="test_valid_requests_are_answered[core]")
    assert "minimal request (a boundary example" in out
    (body,) = minimal_requests(out)
    assert body["temperature"] == 2, body
    assert set(body) - {"model", "messages", "max_tokens", "max_completion_tokens"} == {"temperature"}, body


# -- determinism and replay ---------------------------------------------------------------------------
def test_same_seed_same_verdicts(tmp_path):
    """Two runs with the same --hypothesis-seed: the same outcomes, rules and minimal requests."""
    defect = "stop-sequence-included"
    if defect not in DEFECTS:
        pytest.skip(f"no defect {defect}")
    nodes = ["test_valid_requests_are_answered[core]", "test_invalid_requests_are_refused[values]"]
    runs = []
    with start(defects=[defect]) as srv:
        for i in range(2):
            rc, data, out = run_properties(
                srv.base_url, tmp_path / f"{i}.json", "--hypothesis-seed=12345", "-k", "core or values"
            )
            runs.append((rc, verdicts(data), minimal_requests(out), out))
    assert runs[0][0] == runs[1][0] == 1, runs[0][3][-3000:]
    assert runs[0][1] == runs[1][1]
    assert runs[0][2] == runs[1][2] and runs[0][2]
    assert "--hypothesis-seed=12345" in runs[0][3]
    assert {n.split("::")[1] for n in runs[0][1]} == set(nodes)


def test_default_run_is_deterministic_and_replayed_by_seed_zero(tmp_path):
    """Without a seed the run uses seed 0: it equals an explicit --hypothesis-seed=0 run."""
    defect = "ignores-max-completion-tokens"
    if defect not in DEFECTS:
        pytest.skip(f"no defect {defect}")
    node = "test_valid_requests_are_answered[core]"
    with start(defects=[defect]) as srv:
        _, d1, o1 = run_properties(srv.base_url, tmp_path / "a.json", node=node)
        _, d2, o2 = run_properties(srv.base_url, tmp_path / "b.json", "--hypothesis-seed=0", node=node)
    assert verdicts(d1) == verdicts(d2)
    assert minimal_requests(o1) == minimal_requests(o2) != []


def test_example_database_retries_a_failure_first(tmp_path):
    """The per-target database (default mode) keeps the failure: the next run finds it at once.
    (A fault only generated requests meet: boundary examples are not saved.)"""
    node = "test_valid_requests_are_answered[core]"
    db = tmp_path / "hypothesis"
    with start(defects=[ASTRAL_500]) as srv:
        rc1, d1, o1 = run_properties(srv.base_url, tmp_path / "1.json", node=node, db=str(db))
        rc2, d2, o2 = run_properties(srv.base_url, tmp_path / "2.json", node=node, db=str(db))
    assert rc1 == rc2 == 1
    dirs = [p.name for p in db.iterdir()]
    assert len(dirs) == 1 and dirs[0].startswith("adhoc-127.0.0.1-"), dirs
    assert any(p.is_file() for p in db.rglob("*")), "nothing saved"
    # The saved failure comes back first; the second run may find one more (it starts
    # from the saved example and goes on looking for other rules).
    assert failed_rules(d1) & failed_rules(d2)  # the saved failure is found again (others may vary)
    assert d2["spend"]["requests"] < d1["spend"]["requests"], (d1["spend"], d2["spend"])


# -- differential mode ----------------------------------------------------------------------------------
def _diff(a: str, b: str, capsys, *extra) -> tuple[int, str]:
    rc = differential.main(
        [
            "--base-url",
            a,
            "--model",
            MODEL,
            "--against-base-url",
            b,
            "--against-model",
            MODEL,
            "--examples",
            "30",
            *extra,
        ]
    )
    return rc, capsys.readouterr().out


def test_differential_clean_against_clean(capsys):
    with start() as a, start() as b:
        rc, out = _diff(a.base_url, b.base_url, capsys)
    assert rc == 0, out
    assert "no differences in 30 requests" in out


@pytest.mark.parametrize(
    "defect,field",
    [("usage-missing", "/usage"), ("error-param-null", "error.param"), ("stream-role-missing", "stream.role first")],
)
def test_differential_finds_a_defective_candidate(defect, field, capsys):
    if defect not in DEFECTS:
        pytest.skip(f"no defect {defect}")
    with start(defects=[defect]) as cand, start() as ref:
        rc, out = _diff(cand.base_url, ref.base_url, capsys)
    assert rc == 1, out
    assert re.search(rf"^  {re.escape(field)}\s", out, re.M), out[-3000:]
    assert "candidate: curl " in out and "reference: curl " in out
    # side by side: the field, the candidate's shape, the reference's
    header = next(line for line in out.splitlines() if line.strip().startswith("field"))
    assert "candidate" in header and "reference" in header


def test_differential_same_seed_same_report(capsys):
    with start(defects=["usage-missing"]) as cand, start() as ref:
        r1 = _diff(cand.base_url, ref.base_url, capsys, "--seed", "3")
        r2 = _diff(cand.base_url, ref.base_url, capsys, "--seed", "3")
    strip = lambda s: re.sub(r"127\.0\.0\.1:\d+", "HOST", s)  # noqa: E731
    assert r1[0] == r2[0] and strip(r1[1]) == strip(r2[1])


def test_differential_without_the_reference_key_stops_with_one_message(capsys, monkeypatch):
    # 401s are not differences of shape: a side whose key is refused is one message, exit 6.
    monkeypatch.setenv("DIFF_REF_KEY", "sk-diffref-" + "8" * 16)
    with start() as cand, start(api_key="sk-diffref-" + "8" * 16) as ref:
        rc = differential.main(
            [
                "--base-url",
                cand.base_url,
                "--model",
                MODEL,
                "--against-base-url",
                ref.base_url,
                "--against-model",
                MODEL,
                "--examples",
                "5",
            ]
        )
        err = capsys.readouterr().err
        assert rc == 6 and "--against-api-key-env" in err and "401" in err, err
        rc = differential.main(
            [
                "--base-url",
                cand.base_url,
                "--model",
                MODEL,
                "--against-base-url",
                ref.base_url,
                "--against-model",
                MODEL,
                "--against-api-key-env",
                "DIFF_REF_KEY",
                "--examples",
                "5",
            ]
        )
    assert rc == 0, capsys.readouterr()
    assert "8" * 16 not in capsys.readouterr().out


def test_differential_rows_belong_to_the_request_shown(monkeypatch):
    # Two requests differing in the same field with other values, the second one shorter:
    # the group shows the shorter request with ITS rows, not the first request's.
    from chatconform.targets import Target

    monkeypatch.setattr(differential, "shape", lambda ex: len(ex.request_body))
    monkeypatch.setattr(differential, "compare", lambda a, b: [("field", str(a), "ref")])
    long_body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 50}], "max_completion_tokens": 3}
    short_body = {"model": MODEL, "messages": [{"role": "user", "content": "y"}], "max_completion_tokens": 2}
    with start() as cand, start() as ref:
        t = lambda url: Target(name="x", base_url=url, model=MODEL, capabilities=frozenset())  # noqa: E731
        diffs = differential.run(t(cand.base_url), t(ref.base_url), [long_body, short_body])
    assert len(diffs) == 1 and diffs[0].request == short_body and diffs[0].count == 2
    assert diffs[0].rows == [("field", str(len(diffs[0].candidate.request_body)), "ref")]


def test_differential_usage_errors(capsys):
    assert differential.main(["--base-url", "http://127.0.0.1:1/v1"]) == 4
    assert (
        differential.main(
            [
                "--base-url",
                "ftp://x",
                "--model",
                "m",
                "--against-base-url",
                "http://127.0.0.1:1/v1",
                "--against-model",
                "m",
            ]
        )
        == 4
    )
    assert differential.main(["--help"]) == 0


# -- every rule found, leniency as refusal rules, the token field (issue items) ------------------------
def test_one_rule_broken_everywhere_hides_no_other(tmp_path):
    """A server that breaks RESP-017 on every answer AND keeps stop text: both rules are
    reported, each with its own minimal request (one search per rule, the first set aside)."""
    with start(defects=["usage-total-wrong", "stop-sequence-included"]) as srv:
        rc, data, out = run_properties(srv.base_url, tmp_path / "r.json", node="test_valid_requests_are_answered[core]")
    assert rc == 1, out[-3000:]
    assert {"RESP-017", "PARAM-005"} <= failed_rules(data), (failed_rules(data), out[-3000:])
    assert "chatconform property failure: RESP-017" in out and "chatconform property failure: PARAM-005" in out
    bodies = minimal_requests(out)
    assert len(bodies) >= 2 and any("stop" in b for b in bodies) and any("stop" not in b for b in bodies), bodies


def _refuses_max_tokens(call):
    if isinstance(call.body, dict) and "max_tokens" in call.body:
        return ApiError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
            check="defect",
        )
    return None


# Not a defect for a target whose token field is max_completion_tokens: api.openai.com answers
# reasoning models so.
REFUSES_MAX_TOKENS = Defect(
    "refuses-max-tokens",
    "params",
    ("PARAM-001",),
    "max_tokens is refused (unsupported_parameter).",
    on_request=_refuses_max_tokens,
)


def test_generated_requests_use_the_targets_token_field(tmp_path):
    """A server that refuses the deprecated max_tokens passes the valid-request properties
    when its token field is max_completion_tokens (the default); told the target takes
    max_tokens, the properties send it, and the refusal is PARAM-001's."""
    with start(defects=[REFUSES_MAX_TOKENS]) as srv:
        rc, data, out = run_properties(srv.base_url, tmp_path / "a.json", "-k", "core or prompt or streaming or n]")
        rc2, data2, out2 = run_properties(
            srv.base_url,
            tmp_path / "b.json",
            "--token-limit-field",
            "max_tokens",
            node="test_valid_requests_are_answered[core]",
        )
    assert rc == 0 and not failed_rules(data), (failed_rules(data), out[-3000:])
    assert len(data["tests"]) >= 4
    assert rc2 == 1 and "PARAM-001" in failed_rules(data2), out2[-3000:]


@pytest.mark.parametrize("defect,rule", [("coerces-string-n", "REQ-004"), ("accepts-temperature-above-2", "PARAM-011")])
def test_leniency_fails_a_refusal_rule_never_an_acceptance_rule(defect, rule, tmp_path):
    """A server that accepts what it should refuse breaks the SHOULD rule about refusing it,
    never a MUST rule about accepting valid input."""
    from chatconform import rules

    with start(defects=[defect]) as srv:
        rc, data, out = run_properties(
            srv.base_url, tmp_path / "r.json", node="test_invalid_requests_are_refused[values]"
        )
    assert rc == 1 and rule in failed_rules(data), out[-3000:]
    assert all(rules.get(r).statuses for r in failed_rules(data)), failed_rules(data)
