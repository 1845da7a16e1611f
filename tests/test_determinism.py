"""Same server, same seed: the same verdicts, run after run and with -n 2."""

import json
import pathlib

from chatconform.reference import start
from tests import helpers

MODULES = ["suites/test_response.py", "suites/test_stream.py", "suites/test_params.py", "suites/test_properties.py"]


def verdicts(base_url: str, out: pathlib.Path, *extra) -> dict:
    args = ["--base-url", base_url, "--model", "chatconform-reference", "--capabilities", "all"]
    # 10 examples a property: enough draws for the seed to matter, at half the standard cost.
    args += ["--hypothesis-seed", "1234", "--examples", "10", *extra]
    helpers.run_suite(args, out, paths=MODULES, env={"CHATCONFORM_HYPOTHESIS_DIR": "off"})
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
