"""Same server, same seed: the same verdicts, run after run and with -n 2."""

import json
import pathlib
import subprocess
import sys

from chatconform.reference import start

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = ["suites/test_response.py", "suites/test_stream.py", "suites/test_params.py", "suites/test_properties.py"]


def verdicts(base_url: str, out: pathlib.Path, *extra) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *MODULES,
        "-q",
        "-p",
        "no:cacheprovider",
        "--base-url",
        base_url,
        "--model",
        "chatconform-reference",
        "--capabilities",
        "all",
        "--hypothesis-seed",
        "1234",
        "--results",
        str(out),
        *extra,
    ]
    subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "CHATCONFORM_HYPOTHESIS_DIR": "off"},
    )
    data = json.loads(out.read_text())
    return {t["nodeid"]: t["outcome"] for t in data["tests"]} | {r: v["outcome"] for r, v in data["rules"].items()}


def test_repeated_and_parallel_runs_agree(tmp_path):
    # A defect that shows on some requests only, so the verdict is not trivially "all pass".
    with start(defects=["ignores-stop"]) as srv:
        a = verdicts(srv.base_url, tmp_path / "a.json")
        b = verdicts(srv.base_url, tmp_path / "b.json")
        c = verdicts(srv.base_url, tmp_path / "c.json", "-n", "2")
    assert a == b, {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
    assert a == c, {k: (a[k], c.get(k)) for k in a if a[k] != c.get(k)}
    assert a["PARAM-005"] == "fail"
