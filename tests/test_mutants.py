"""The mutant harness: the suite must catch every defect of the reference, for the right rule,
and pass the clean reference.

Each defect is the embedded reference with exactly one injected deviation
(chatconform/reference/defects/, one module per area).  The whole suite runs against it in a subprocess,
as a user would run it (`--base-url ... --capabilities all`), and its results.json
says which rules failed.  The kill matrix (defect x rules that caught it) is printed
at the end of the self-test run and written to artifacts/kill-matrix.md.
"""

import json
import os
import pathlib
import secrets

import pytest

from chatconform.reference import DEFECTS, start
from tests import helpers
from tests.helpers import suite_tests

ROOT = pathlib.Path(__file__).resolve().parents[1]
MATRIX_DIR = ROOT / "artifacts" / "kill-matrix"
MIN_DEFECTS = 70  # 30 for the core areas (engine issue) + 40 for the feature areas

# Each defect is judged by the suite modules whose tests cite a rule it breaks (the
# observer still runs every check on every exchange they make), which keeps the
# matrix affordable on 2 cores.  CHATCONFORM_FULL_MATRIX=1 runs the whole suite
# against every defect instead (slow: about 15 s a defect).
AREA_MODULE = {"vision": "test_vision_audio.py", "audio": "test_vision_audio.py"}


def suites_for(defect) -> list[str]:
    if defect is None or os.environ.get("CHATCONFORM_FULL_MATRIX") == "1":
        return ["suites"]
    # The property tests have their own self-test against defects (test_properties_selftest.py);
    # here they would multiply the matrix's cost for rules the hand-written probes already judge.
    modules = {m for m, _t, ids in suite_tests() if set(ids) & set(defect.breaks) and m != "test_properties.py"}
    # The area's own module too: its probes are where the defect shows (an auth
    # defect that breaks ERR-001 shows on the auth probes).
    area_module = AREA_MODULE.get(defect.area, f"test_{defect.area}.py")
    if (ROOT / "suites" / area_module).exists():
        modules.add(area_module)
    return [f"suites/{m}" for m in sorted(modules)] or ["suites"]


def run_suite(base_url: str, key: str, out: pathlib.Path, defect=None) -> tuple[int, dict, str]:
    args = ["--base-url", base_url, "--model", "chatconform-reference", "--api-key-env", "CC_MUTANT_KEY"]
    args += ["--capabilities", "all", "--allow-remote-images"]
    # The kill matrix judges rules: a defect that makes the target unusable to the
    # preflight (a 404 chat route) must still show which rule it breaks.
    args += ["--no-preflight"]
    env = {"CC_MUTANT_KEY": key, "CHATCONFORM_HYPOTHESIS_DIR": "off"}  # no example database per port
    return helpers.run_suite(args, out, paths=suites_for(defect), env=env)


def failed_rules(data: dict) -> set[str]:
    return {rid for rid, r in data.get("rules", {}).items() if r["outcome"] == "fail"}


def record(name: str, row: dict) -> None:
    MATRIX_DIR.mkdir(parents=True, exist_ok=True)
    (MATRIX_DIR / f"{name}.json").write_text(json.dumps(row))


def test_enough_distinct_defects():
    assert len(DEFECTS) >= MIN_DEFECTS, f"{len(DEFECTS)} defects, want >= {MIN_DEFECTS}"
    areas = {d.area for d in DEFECTS.values()}
    for area in (
        "http",
        "auth",
        "request",
        "response",
        "stream",
        "errors",
        "tools",
        "params",
        "vision",
        "audio",
        "structured",
    ):
        assert area in areas, f"no defect in area {area}"
    for d in DEFECTS.values():
        assert d.breaks, f"{d.name} names no rule it breaks"


def test_clean_reference_passes(tmp_path):
    key = "sk-clean-" + secrets.token_hex(8)
    with start(api_key=key) as srv:
        rc, data, tail = run_suite(srv.base_url, key, tmp_path / "clean.json")
    record("(clean)", {"defect": "(clean)", "area": "-", "breaks": [], "caught": sorted(failed_rules(data)), "rc": rc})
    assert rc == 0, tail
    assert not failed_rules(data), failed_rules(data)
    assert "error" not in data["counts"], tail


# Defects that show only for some inputs (a 17th tool, a 25th message, usage of the
# second choice...): the property tests reach them, and tests/test_properties_selftest.py
# proves each is caught there for its rule; the fixed probes here do not send those inputs.
PROPERTY_ONLY = {
    "accepts-tool-parts-without-id",
    "prompt-tokens-last-message-only",
    "rejects-long-conversation",
    "rejects-many-content-parts",
    "rejects-many-tools",
    "stream-usage-first-choice-only",
}


def test_property_only_defects_are_proven_by_the_property_selftest():
    from tests.test_properties_selftest import CASES

    assert PROPERTY_ONLY <= set(CASES) and PROPERTY_ONLY <= set(DEFECTS)


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_is_caught_for_the_right_rule(name, tmp_path):
    defect = DEFECTS[name]
    if name in PROPERTY_ONLY and os.environ.get("CHATCONFORM_FULL_MATRIX") != "1":
        pytest.skip("caught by the property tests (tests/test_properties_selftest.py)")
    key = "sk-mutant-" + secrets.token_hex(8)
    with start(api_key=key, defects=[name]) as srv:
        rc, data, tail = run_suite(srv.base_url, key, tmp_path / "mutant.json", defect)
    caught = failed_rules(data)
    record(
        name, {"defect": name, "area": defect.area, "breaks": list(defect.breaks), "caught": sorted(caught), "rc": rc}
    )
    assert rc == 1, f"{name}: the suite did not fail (exit {rc})\n{tail}"
    missing = set(defect.breaks) - caught
    assert not missing, (
        f"{name} ({defect.description}) breaks {sorted(missing)} but the suite reported {sorted(caught)}"
    )
    errors = data.get("counts", {}).get("error", 0)
    assert errors == 0, f"{name}: {errors} tests could not be judged\n{tail}"
