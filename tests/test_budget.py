"""Cost control: --plan sends nothing; a targets.yaml budget stops the run cleanly when spent."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

from chatconform.reference import start

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def capped_target(tmp_path, base_url: str, requests: int) -> str:
    """A targets file whose one target, `capped`, may send `requests` requests."""
    f = tmp_path / "t.yaml"
    f.write_text(
        textwrap.dedent(f"""
        targets:
          capped:
            base_url: {base_url}
            model: chatconform-reference
            capabilities: all
            budget: {{requests: {requests}}}
    """)
    )
    return str(f)


def test_plan_sends_nothing():
    # Port 9 (discard) has no listener: any request would fail the run with errors.
    r = pytest_run("suites", "--plan", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--capabilities", "all")
    assert r.returncode == 0, r.stdout[-1500:]
    assert "nothing was sent" in r.stdout and "requests" in r.stdout
    assert "suites/test_response.py::test_usage" in r.stdout


def test_examples_sets_the_property_tests_size(tmp_path):
    """--examples N: each property test draws N examples whatever the budget (the plan's
    estimate follows), results.json records it, and N < 1 is a usage error."""
    import re

    def planned(*extra):
        r = pytest_run("suites/test_properties.py", "--plan", *extra)
        assert r.returncode == 0, r.stdout[-1500:]
        return int(re.search(r"~(\d+) requests", r.stdout).group(1)), r.stdout

    default, _ = planned()
    few, out = planned("--examples", "2")
    assert few < default and "2 examples a property" in out, (few, default)
    bad = pytest_run("suites", "--examples", "0")
    assert bad.returncode == 4 and "--examples 0" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    out = tmp_path / "r.json"
    with start() as srv:
        r = pytest_run(
            "suites/test_properties.py",
            "-k",
            "core",
            "--base-url",
            srv.base_url,
            "--model",
            "chatconform-reference",
            "--examples",
            "3",
            "--results",
            str(out),
            env={**os.environ, "CHATCONFORM_CONCURRENCY": "1"},
        )
    assert r.returncode == 0, r.stdout[-2000:]
    assert json.loads(out.read_text())["run"]["budget"] == {"name": "standard", "examples": 3}


def test_budget_stops_the_run(tmp_path):
    with start() as srv:
        out = tmp_path / "r.json"
        r = pytest_run(
            "suites/test_response.py",
            "suites/test_errors.py",
            "--targets",
            capped_target(tmp_path, srv.base_url, 12),
            "--target",
            "capped",
            "--results",
            str(out),
        )
    assert "budget spent" in r.stdout, r.stdout[-1500:]
    data = json.loads(out.read_text())
    assert data["spend"]["requests"] <= 12 + 3  # the test in flight may finish its probes
    assert "Traceback" not in r.stdout + r.stderr


def test_budget_is_shared_by_xdist_workers(tmp_path):
    """Under -n 2 both workers count against one ledger: the run stops near the cap (one
    test in flight a worker may finish), not when each has spent half, and the ledger
    file is gone afterwards."""
    state = tmp_path / "state"
    with start() as srv:
        out = tmp_path / "r.json"
        r = pytest_run(
            "-n",
            "2",
            "suites/test_response.py",
            "suites/test_errors.py",
            "suites/test_params.py",
            "--targets",
            capped_target(tmp_path, srv.base_url, 30),
            "--target",
            "capped",
            "--results",
            str(out),
            env={**os.environ, "CHATCONFORM_RATELIMIT_DIR": str(state)},
        )
    assert "budget spent" in r.stdout, r.stdout[-1500:]
    spent = json.loads(out.read_text())["spend"]["requests"]
    assert 30 <= spent <= 30 + 2 * 4, spent  # the whole cap is used, the overrun bounded
    assert not list(state.glob("spend-*.json"))
    assert "Traceback" not in r.stdout + r.stderr


def test_xdist_balances_by_work_stealing():
    """-n N without --dist: the plugin picks work stealing (the property tests, most of a
    run's time, would otherwise tend to land on one worker); an explicit --dist stands."""
    with start() as srv:
        # -v -v outweighs pytest_run's -q: xdist names the scheduler at verbosity 1.
        args = [
            "suites/test_auth.py",
            "-v",
            "-v",
            "-n",
            "2",
            "--base-url",
            srv.base_url,
            "--model",
            "chatconform-reference",
        ]
        assert "WorkStealingScheduling" in pytest_run(*args).stdout
        assert "LoadScheduling" in pytest_run(*args, "--dist", "load").stdout


def test_long_tests_spread_over_the_slices_work_stealing_hands_out():
    """xdist gives worker k the next len(rest) // (workers - k) tests: the long ones go one
    to a slice, first in it, and the one-request tests fill the slices' backs."""
    from chatconform.plugin.xdist import balanced

    costs = [1] * 10 + [50, 40, 30] + [1] * 7  # long tests in the middle of the collection
    order = balanced(list(range(20)), costs, 3)
    assert sorted(order) == list(range(20))
    slices = [order[0:6], order[6:13], order[13:20]]  # 20 // 3, then 14 // 2, then 7
    assert [s[0] for s in slices] == [10, 11, 12]
    assert all(costs[i] == 1 for s in slices for i in s[1:])
    assert all(s[1:] == sorted(s[1:]) for s in slices)  # equal costs keep their collection order


def test_workers_take_the_long_tests_first():
    """On a real run with workers, every worker's first test is a property test."""
    with start() as srv:
        args = ["suites/test_auth.py", "suites/test_properties.py", "-v", "-v", "-n", "2", "--budget", "standard"]
        out = pytest_run(*args, "--base-url", srv.base_url, "--model", "chatconform-reference").stdout
    first = {}
    for line in out.splitlines():
        if line.startswith("[gw") and "::" in line:
            first.setdefault(line[:5], line)
    assert len(first) == 2 and all("test_properties.py" in line for line in first.values()), first
