"""The log a person reads: one block per rule and actual value, the verdict printed last."""

import os
import subprocess
import sys

from chatconform import failures
from chatconform.reference import start

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def record(nodeid, rule, actual, outcome="fail"):
    v = {
        "rule": rule,
        "level": "MUST",
        "expected": "x",
        "actual": actual,
        "where": "",
        "disposition": "fail",
        "exchange": 0,
    }
    ex = {
        "request": {"method": "POST", "url": "http://h/v1/chat/completions", "body": "{}"},
        "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": "data: {}"},
        "curl": "curl -sS http://h/v1/chat/completions",
    }
    return {"nodeid": nodeid, "outcome": outcome, "violations": [v], "exchanges": [ex], "reason": ""}


def test_same_rule_and_actual_is_one_group_with_every_test():
    tests = [record(f"suites/test_stream.py::t{i}", "STREAM-016", "no [DONE]") for i in range(38)]
    tests.append(record("suites/test_stream.py::other", "STREAM-016", "data after [DONE]"))
    gs = failures.groups(tests)
    assert [(g.rule, g.actual, len(g.tests)) for g in gs] == [
        ("STREAM-016", "no [DONE]", 38),
        ("STREAM-016", "data after [DONE]", 1),
    ]
    text = failures.lines(gs, "auto")
    assert sum(line.startswith("STREAM-016") for line in text) == 2
    assert "  hit by 38 tests: t0, t1, t2, t3, t4 and 33 more" in text
    assert any(line.startswith("  reproduce: curl") for line in text)


def test_tb_styles():
    gs = failures.groups([record("a::t", "STREAM-016", "no [DONE]")])
    assert failures.lines(gs, "no") == []
    assert failures.lines(gs, "line") == ["STREAM-016: no [DONE] (1 test)"]
    short = failures.lines(gs, "short")
    assert any("hit by 1 test" in line for line in short) and not any("reproduce" in line for line in short)


def test_a_server_without_done_reads_in_one_screenful_and_the_verdict_is_last():
    with start(defects=["stream-missing-done"]) as srv:
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites/test_stream.py",
                "-p",
                "no:cacheprovider",
                "--base-url",
                srv.base_url,
                "--model",
                "chatconform-reference",
                "--capabilities",
                "streaming,stream_usage",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    out = p.stdout.strip().splitlines()
    assert p.returncode == 1
    blocks = [line for line in out if line.startswith("STREAM-016 ")]
    assert len(blocks) == 1, "\n".join(out[-80:])
    assert out[-1].startswith("chatconform: NOT CONFORMANT") and "STREAM-016" in out[-1]
    assert "_____ test_" not in p.stdout  # no per-test failure blocks
