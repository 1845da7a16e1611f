"""Suites provoke, checks judge: the mechanism, and the lints that keep it so.

* A check judges the rules it declares and no other; every rule it declares and did not
  report as NotJudged counts as judged on the exchange.
* A test's rule passes only where a check judged it; nothing exercised it -> "not
  exercised"; a refused premise -> "not judged" for the test's other rules.
* Suite modules send requests and declare intents; they never judge (no Violation,
  no expect helpers), and every rule they cite is judged by some check.
"""

import ast
import pathlib

import pytest

from chatconform import checks, rules
from chatconform.checks import INTENT, NotJudged, UndeclaredRule
from chatconform.observer import Recorder
from chatconform.outcomes import Outcome
from chatconform.verdict import judge
from chatconform.violations import Intent, Violation
from tests.helpers import good_response, json_exchange, suite_tests

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"
# Suite modules still judging in the test body; each leaves this list when its area is
# converted, and the list must end empty.
PENDING: set[str] = set()


# -- the mechanism -------------------------------------------------------------------------------
@pytest.fixture
def scratch_check():
    """Register checks for one test only, with no other check registered meanwhile."""
    before = list(checks.REGISTRY)
    checks.REGISTRY[:] = []
    yield checks.check
    checks.REGISTRY[:] = before


def test_a_check_may_not_report_a_rule_it_does_not_declare(scratch_check):
    @scratch_check("RESP-005", applies=lambda ex: True)
    def liar(ex):
        raise Violation("RESP-006", "x", "y")

    with pytest.raises(UndeclaredRule, match="liar reported RESP-006"):
        checks.run(json_exchange(good_response()))


def test_declared_rules_not_reported_unjudged_are_judged(scratch_check):
    @scratch_check("RESP-005", "RESP-006", applies=lambda ex: True)
    def half(ex):
        yield NotJudged("nothing to see", ("RESP-006",))

    found = checks.run(json_exchange(good_response()))
    assert "RESP-005" in found.judged and "RESP-006" not in found.judged
    assert found.unjudged["RESP-006"] == "nothing to see"


def test_schema_rules_are_judged_only_where_the_answer_has_their_node():
    found = checks.run(json_exchange(good_response()))
    assert {"RESP-001", "RESP-010", "RESP-012"} <= found.judged
    assert "TOOL-004" not in found.judged and "TOOL-004" in found.unjudged  # no tool call in the answer
    with_call = good_response()
    with_call["choices"][0]["message"].update(
        content=None, tool_calls=[{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    )
    with_call["choices"][0]["finish_reason"] = "tool_calls"
    assert "TOOL-004" in checks.run(json_exchange(with_call)).judged


def test_intent_checks_judge_the_rule_the_test_names():
    ok = json_exchange(good_response())
    ok.intent = Intent("accept", "TOOL-001")
    assert "TOOL-001" in checks.run(ok).judged
    refused = json_exchange(
        {"error": {"message": "no", "type": "invalid_request_error", "param": None, "code": None}}, status=422
    )
    refused.intent = Intent("accept", "TOOL-001")
    assert [v.rule for v in checks.run(refused).violations] == ["TOOL-001"]
    wrong_status = json_exchange({"error": {"message": "no", "type": "x", "param": None, "code": None}}, status=401)
    wrong_status.intent = Intent("refuse", "PARAM-003")
    assert rules.get("PARAM-003").statuses, "PARAM-003 names the status it expects"
    broken = [v.rule for v in checks.run(wrong_status).violations]
    assert broken[0] == "PARAM-003"
    # The error checks read the intent too: a 401 is not the class of an invalid request (ERR-011).
    assert "ERR-011" in broken


def _verdict(rec: Recorder, cited):
    return judge(
        rec.violations,
        rec.exchanges,
        cited,
        (),
        "should",
        judged=rec.judged,
        unjudged=rec.unjudged,
        refused=rec.refused_premises,
    )


def test_a_rule_no_check_judged_is_not_exercised_never_passed():
    rec = Recorder()
    rec.observe(json_exchange(good_response()))
    v = _verdict(rec, ["TOOL-004"])
    assert v["outcome"] == Outcome.NOT_EXERCISED
    assert v["rules"]["TOOL-004"]["outcome"] == Outcome.NOT_EXERCISED


def test_a_refused_premise_fails_its_rule_and_leaves_the_others_not_judged():
    rec = Recorder()
    ex = json_exchange(
        {
            "error": {
                "message": "tool_choice required is not supported",
                "type": "invalid_request_error",
                "param": "tool_choice",
                "code": None,
            }
        },
        status=422,
    )
    ex.intent = Intent("accept", "TOOL-010")
    rec.observe(ex)
    v = _verdict(rec, ["TOOL-012", "TOOL-007", "TOOL-010"])
    assert v["outcome"] == "fail"
    assert v["rules"]["TOOL-010"]["outcome"] == "fail"
    for rid in ("TOOL-012", "TOOL-007"):
        assert v["rules"][rid]["outcome"] == Outcome.NOT_JUDGED
        assert "TOOL-010" in v["rules"][rid]["reason"]


def test_rule_outcome_over_a_run_never_passes_an_unjudged_rule():
    from chatconform.results import rule_outcomes

    tests = [
        {
            "nodeid": "a",
            "rules": ["ERR-006"],
            "outcome": "not-exercised",
            "violations": [],
            "rule_outcomes": {"ERR-006": {"outcome": "not-exercised", "reason": "not a 429"}},
        },
        {
            "nodeid": "b",
            "rules": ["TOOL-007"],
            "outcome": "fail",
            "violations": [{"rule": "TOOL-010", "disposition": "fail"}],
            "rule_outcomes": {"TOOL-007": {"outcome": "not-judged", "reason": "refused"}},
        },
    ]
    out = rule_outcomes(tests)
    assert out["ERR-006"]["outcome"] == "not-exercised" and out["ERR-006"]["reason"] == "not a 429"
    assert out["TOOL-007"]["outcome"] == "not-judged"
    assert out["TOOL-010"]["outcome"] == "fail"


# -- lints -----------------------------------------------------------------------------------------
def _judging_calls(tree) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chatconform"):
            bad += [f"imports {a.name}" for a in node.names if a.name in ("Violation", "expect")]
        if isinstance(node, ast.Raise) and node.exc is not None and "Violation" in ast.unparse(node.exc):
            bad.append(f"raises {ast.unparse(node.exc)[:60]}")
    return bad


@pytest.mark.parametrize("path", sorted(SUITES.glob("test_*.py")), ids=lambda p: p.name)
def test_suites_provoke_and_never_judge(path):
    bad = _judging_calls(ast.parse(path.read_text(encoding="utf-8")))
    if path.name in PENDING:
        pytest.skip(f"not yet converted ({len(bad)} judging lines)")
    assert not bad, f"{path.name} judges in the test body: {bad}"


def intent_rules() -> set[str]:
    out = set()
    for path in SUITES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.keyword)
                and node.arg in ("accept", "refuse")
                and isinstance(node.value, ast.Constant)
            ):
                out.add(node.value.value)
    return out


def judged_somewhere() -> set[str]:
    from chatconform.strategies.attribution import intent_rules as property_intent_rules

    # the property tests compute their intents (strategies/attribution.py): no constant shows them
    out = set(intent_rules()) | set(property_intent_rules())
    for c in checks.REGISTRY:
        out.update(r for r in c.rules if r != INTENT)
    for rel in checks.RELATIONS.values():
        out.update(rel.rules)
    return out


def test_every_check_and_relation_names_existing_rules():
    cat = rules.catalogue()
    for c in checks.REGISTRY:
        assert all(r == INTENT or r in cat for r in c.rules), c.name
    for rel in checks.RELATIONS.values():
        assert all(r in cat for r in rel.rules), rel.name
    for rid in intent_rules():
        assert rid in cat, f"an intent names unknown rule {rid}"


def test_every_cited_rule_is_judged_by_a_check():
    """A rule no check judges can only ever be 'not exercised': citing it tests nothing."""
    judged = judged_somewhere()
    converted = [(m, t, ids) for m, t, ids in suite_tests() if m not in PENDING]
    missing = sorted({f"{r} ({m}::{t})" for m, t, ids in converted for r in ids if r not in judged})
    assert not missing, f"cited but judged by no check: {missing}"


def test_pending_list_only_shrinks():
    assert PENDING <= {p.name for p in SUITES.glob("test_*.py")}


# Areas whose rules do not all have a defect yet; each leaves this set when done.
DEFECT_PENDING: set[str] = set()


@pytest.mark.parametrize("area", sorted({r.area for r in rules.catalogue().values()}))
def test_every_rule_has_a_defect_that_breaks_it_or_a_reason(area):
    """The kill matrix proves a rule only if some defect of the reference breaks it; a rule
    no server fault can break says why in the catalogue (`no_defect:`)."""
    from chatconform.reference import DEFECTS

    broken = {r for d in DEFECTS.values() for r in d.breaks}
    missing = [
        r.id
        for r in rules.catalogue().values()
        if r.area == area and not r.retired and r.id not in broken and not r.no_defect
    ]
    if area in DEFECT_PENDING:
        pytest.skip(f"{len(missing)} rule(s) without a defect yet: {missing}")
    assert not missing, f"rules with no defect and no written reason: {missing}"
