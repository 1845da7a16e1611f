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


def test_progress_is_printed_once_a_run_is_slow_then_every_so_often(monkeypatch):
    from chatconform.plugin import progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])

    class Terminal:
        lines = []

        def write_line(self, line):
            self.lines.append(line)

    class Report:
        when, skipped = "call", False
        chatconform = {"requests": 2}

    pr = progress.Progress(run=None)
    pr.terminal = Terminal()
    for t in (1, 5, 9, 11, 20, 27, 40):  # seconds since the start
        clock[0] = 100.0 + t
        pr.pytest_runtest_logreport(Report())
    # quiet for the first 10 s, then a line at most every 15 s
    assert [line.split(" in ")[1].split(" ")[0] for line in Terminal.lines] == ["11", "27"]


def test_progress_line_says_tests_requests_rate_and_time_left():
    from chatconform.plugin.progress import Progress

    class S:
        testscollected = 40

    pr = Progress(run=None)
    pr.session, pr.tests, pr.requests = S(), 10, 30
    line = pr.line(pr.start + 20.0)
    assert line == "chatconform progress: 10/40 tests, 30 requests in 20 s (1.5 requests/s), about 60 s left"


def test_a_suite_module_that_cannot_be_collected_is_no_conformant_verdict(tmp_path):
    """A module of the suite that fails to import leaves its rules unjudged: the run is
    not "conformant" (under xdist pytest still runs the rest and exits 1, and the verdict
    read CONFORMANT)."""
    from tests.helpers import run_suite

    broken = tmp_path / "test_broken_module.py"
    broken.write_text('raise RuntimeError("cannot import")\n')
    for workers in ("0", "2"):
        out = tmp_path / f"r{workers}.json"
        rc, data, tail = run_suite(["-n", workers], out, paths=("suites/test_auth.py", str(broken)))
        assert rc != 0, tail
        (err,) = [t for t in data["tests"] if t["outcome"] == "error"]
        # (pytest gives a module outside its rootdir an empty node id: "(collection)")
        assert "cannot import" in err["reason"], err
        verdict = tail.strip().splitlines()[-1]
        assert verdict.startswith("chatconform: NOT JUDGED COMPLETELY: the suite could not collect"), verdict


def test_verdict_names_what_could_not_be_collected_beside_failed_rules():
    from chatconform.failures import verdict_line

    data = {
        "counts": {"fail": 1, "error": 1},
        "rules": {"RESP-001": {"outcome": "fail"}},
        "tests": [
            {"nodeid": "a.py::t", "rules": ["RESP-001"], "outcome": "fail"},
            {"nodeid": "b.py", "rules": [], "outcome": "error"},
        ],
    }
    line = verdict_line(data)
    assert line.startswith("chatconform: NOT CONFORMANT: 1 rule(s) failed (RESP-001)") and "collect b.py" in line
