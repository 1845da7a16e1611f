"""Known deviations (targets.yaml expectations) run as strict xfail over the whole run."""
import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

from chatconform.reference import start

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(tmp_path, base_url, expires="2099-01-01"):
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(f"""
        targets:
          x:
            base_url: {base_url}
            model: chatconform-reference
            capabilities: [streaming]
            expectations:
              - {{rule: RESP-012, reason: refusal omitted, link: https://example.invalid/1, expires: {expires}}}
    """))
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "suites/test_response.py", "-q", "-p", "no:cacheprovider",
                           "--targets", str(f), "--target", "x", "--results", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
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
