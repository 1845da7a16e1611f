"""Cost control: --plan sends nothing; a targets.yaml budget stops the run cleanly when spent."""
import json
import pathlib
import subprocess
import sys
import textwrap

from chatconform.reference import start

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_run(*args):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_plan_sends_nothing():
    # Port 9 (discard) has no listener: any request would fail the run with errors.
    r = pytest_run("suites", "--plan", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--capabilities", "all")
    assert r.returncode == 0, r.stdout[-1500:]
    assert "nothing was sent" in r.stdout and "requests" in r.stdout
    assert "suites/test_response.py::test_usage" in r.stdout


def test_budget_stops_the_run(tmp_path):
    with start() as srv:
        f = tmp_path / "t.yaml"
        f.write_text(textwrap.dedent(f"""
            targets:
              capped:
                base_url: {srv.base_url}
                model: chatconform-reference
                capabilities: all
                budget: {{requests: 12}}
        """))
        out = tmp_path / "r.json"
        r = pytest_run("suites/test_response.py", "suites/test_errors.py", "--targets", str(f), "--target", "capped",
                       "--results", str(out))
    assert "budget spent" in r.stdout, r.stdout[-1500:]
    data = json.loads(out.read_text())
    assert data["spend"]["requests"] <= 12 + 3          # the test in flight may finish its probes
    assert "Traceback" not in r.stdout + r.stderr
