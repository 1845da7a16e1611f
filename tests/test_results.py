"""results.json is data with a schema: a run against the reference produces a valid file."""

import json
import pathlib
import subprocess
import sys

from jsonschema import Draft202012Validator

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_results_file_validates(tmp_path):
    out = tmp_path / "results.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_response.py",
            "suites/test_errors.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--results",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    data = json.loads(out.read_text())
    schema = json.loads((ROOT / "schemas" / "results.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    errs = list(Draft202012Validator(schema).iter_errors(data))
    assert not errs, errs[0]
    assert data["rules"]["RESP-003"]["outcome"] == "pass"
    assert data["rules"]["TOOL-012"]["outcome"] == "untested"  # its module was not run
    assert all(t["exchanges"] for t in data["tests"] if t["outcome"] == "pass")


def test_rejudge_reproduces_and_detects(tmp_path):
    from chatconform.rejudge import rejudge

    out = tmp_path / "results.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_response.py",
            "suites/test_stream.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--results",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    data = json.loads(out.read_text())
    same, changes = rejudge(data)
    assert changes == [] and {k: v["outcome"] for k, v in same["rules"].items()} == {
        k: v["outcome"] for k, v in data["rules"].items()
    }
    # Tamper with one recorded answer: the checks must now find the fault without a server.
    test = next(t for t in data["tests"] if t["nodeid"].endswith("test_created_is_unix_seconds"))
    resp = test["exchanges"][0]["response"]
    resp["body"] = resp["body"].replace('"object":"chat.completion"', '"object":"chat.completions"')
    assert '"chat.completions"' in resp["body"]
    new, changes = rejudge(data)
    assert ("suites/test_response.py::test_created_is_unix_seconds", "pass", "fail") in changes
    assert new["rules"]["RESP-003"]["outcome"] == "fail"
    cli = subprocess.run(
        [sys.executable, "-m", "chatconform", "rejudge", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0 and "no change" in cli.stdout
