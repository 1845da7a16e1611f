"""Known deviations (targets.yaml expectations) run as strict xfail over the whole run."""

import json
import pathlib
import subprocess
import sys
import textwrap


from chatconform.reference import start

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(tmp_path, base_url, expires="2099-01-01"):
    f = tmp_path / "t.yaml"
    f.write_text(
        textwrap.dedent(f"""
        targets:
          x:
            base_url: {base_url}
            model: chatconform-reference
            capabilities: [streaming]
            expectations:
              - {{rule: RESP-012, reason: refusal omitted, link: https://example.invalid/1, expires: {expires}}}
    """)
    )
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_response.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--targets",
            str(f),
            "--target",
            "x",
            "--results",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, json.loads(out.read_text())


def test_declared_deviation_is_a_known_deviation(tmp_path):
    with start(defects=["response-refusal-missing"]) as srv:
        proc, data = run(tmp_path, srv.base_url)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert data["rules"]["RESP-012"]["outcome"] == "known-deviation"
    assert data["expectations"][0]["status"] == "seen"
    assert "still occurs" in proc.stdout


def test_deviation_that_stopped_fails_the_run(tmp_path):
    with start() as srv:
        proc, data = run(tmp_path, srv.base_url)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert data["expectations"][0]["status"] == "stale"
    assert "NO LONGER OCCURS" in proc.stdout


def test_expired_expectation_fails(tmp_path):
    with start(defects=["response-refusal-missing"]) as srv:
        proc, data = run(tmp_path, srv.base_url, expires="2020-01-01")
    assert proc.returncode == 1
    assert data["rules"]["RESP-012"]["outcome"] == "fail"
    assert data["expectations"][0]["status"] == "expired"


# -- a check's finding under a capability the target does not claim -----------------------------
def test_unclaimed_capability_findings_are_notes(tmp_path):
    """n is not claimed: the probe n=2 answered with one choice fails PARAM-009 (the rule of
    the probe), and the observer's PARAM-008 (choice count, an [n] rule) is only a note
    (found by llama-cpp-python, which reported both)."""
    out = tmp_path / "r.json"
    with start(defects=["n-ignored"]) as srv:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites/test_params.py::test_n_unsupported_is_refused",
                "-q",
                "-p",
                "no:cacheprovider",
                "--base-url",
                srv.base_url,
                "--model",
                "chatconform-reference",
                "--capabilities",
                "streaming",
                "--results",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    data = json.loads(out.read_text())
    (test,) = data["tests"]
    assert proc.returncode == 1 and test["outcome"] == "fail", proc.stdout[-2000:]
    assert {v["rule"] for v in test["violations"]} == {"PARAM-009"}, test["violations"]
    assert any(n["rule"] == "PARAM-008" and n["message"].startswith("not claimed (n)") for n in test["notes"]), test[
        "notes"
    ]


def test_set_aside_unclaimed_keeps_the_tests_own_findings():
    from chatconform.verdict import set_aside_unclaimed
    from chatconform.violations import Violation

    by_check = Violation("PARAM-008", "2 choices", "1", "/choices", origin="check")
    by_test = Violation("PARAM-008", "2 choices", "1", "/choices", origin="test")
    kept, notes = set_aside_unclaimed([by_check, by_test], lambda cap: False)
    assert kept == [by_test] and [n.rule for n in notes] == ["PARAM-008"]
    kept, notes = set_aside_unclaimed([by_check], lambda cap: cap == "n")
    assert kept == [by_check] and notes == []
