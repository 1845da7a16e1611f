"""From violations to a test's outcome: one pure function, used by the plugin and by rejudge."""

from __future__ import annotations

import datetime as _dt

from . import redact, rules as rules_mod
from .outcomes import Outcome
from .report import render_failure
from .violations import Note


def set_aside_unclaimed(violations, claims) -> tuple[list, list]:
    """(violations kept, Notes) : a check's finding under a rule of a capability the target
    does not claim is information, not a failure.  A test may probe an unclaimed feature on
    purpose (n: 2 where n is not claimed, an image to a text-only model); its own rule
    judges the answer (PARAM-009, VISION-006), and the answer's shape under the feature's
    rules (PARAM-008's choice count) says nothing the target promised."""
    kept, notes = [], []
    for v in violations:
        rule = rules_mod.catalogue().get(v.rule)
        cap = rule.capability if rule else None
        if v.origin == "check" and cap and not claims(cap):
            notes.append(Note(v.rule, f"not claimed ({cap}): expected {v.expected}; got {v.actual}"))
        else:
            kept.append(v)
    return kept, notes


def rule_outcomes(cited, dispositions, judged, unjudged, refused, error: str | None) -> dict[str, dict]:
    """What one test found for each rule it cites, from what its exchanges showed:

    * a violation of the rule: its disposition (fail, warning, known deviation);
    * judged by a check on one of the test's exchanges and not broken: pass;
    * else, the test could not finish (error), or a request it needed as its premise was
      refused (not judged: the refusal is the premise rule's failure, not this rule's);
    * else nothing the test provoked exercised it (not exercised, with the check's reason).
    A rule is never passed without a check having judged it."""
    out: dict[str, dict] = {}
    worst = {Outcome.FAIL: 0, Outcome.KNOWN_DEVIATION: 1, Outcome.WARNING: 2}
    for rid in cited:
        mine = [Outcome(d["disposition"]) for d in dispositions if d["rule"] == rid]
        if mine:
            out[rid] = {"outcome": min(mine, key=worst.get).value}
        elif rid in judged:
            out[rid] = {"outcome": Outcome.PASS.value}
        elif error is not None:
            out[rid] = {"outcome": Outcome.ERROR.value, "reason": redact.text(error)}
        elif refused:
            v = refused[0]
            out[rid] = {
                "outcome": Outcome.NOT_JUDGED.value,
                "reason": redact.text(f"the request it needed was refused ({v.rule}: {v.actual})"),
            }
        else:
            why = unjudged.get(rid) or "nothing this test provoked exercised the rule"
            out[rid] = {"outcome": Outcome.NOT_EXERCISED.value, "reason": redact.text(why)}
    return out


def judge(
    violations,
    exchanges,
    cited,
    expectations,
    level: str,
    error: str | None = None,
    today: _dt.date | None = None,
    judged=None,
    unjudged=None,
    refused=(),
) -> dict:
    """Sort violations into fail / warning / known deviation and decide the outcome.

    `error` is set when the test could not finish for a reason that says nothing about
    conformance (CannotJudge, a suite bug): the outcome is then `error`, unless a real
    violation was already seen (a fault found is a fault, whatever happened next).
    With `judged` (the rules checks judged on the test's exchanges, observer.Recorder),
    the result also says per cited rule what the test found (rule_outcomes); a test
    whose cited rules nothing exercised and that broke nothing is itself not exercised.
    """
    today = today or _dt.date.today()
    expected = {e.rule: e for e in expectations}
    failing, warnings, known, dispositions = [], [], [], []
    for v in violations:
        rule = rules_mod.catalogue().get(v.rule)
        rule_level = rule.level if rule else "MUST"
        exp = expected.get(v.rule)
        if exp and not exp.expired(today):
            disp = "known-deviation"
            known.append(v)
        elif level == "must" and rule_level != "MUST":
            disp = "warning"
            warnings.append(v)
        else:
            disp = "fail"
            failing.append(v)
        dispositions.append(
            {
                "rule": v.rule,
                "level": rule_level,
                "expected": redact.text(v.expected),
                "actual": redact.text(v.actual),
                "where": v.where,
                "disposition": disp,
                "origin": v.origin,
                "exchange": next((i for i, ex in enumerate(exchanges) if ex is v.exchange), None),
            }
        )
    out = {"violations": dispositions}
    if judged is not None:
        out["rules"] = rule_outcomes(cited, dispositions, judged, unjudged or {}, list(refused), error)
    if failing:
        out.update(outcome="fail", text=render_failure(failing, expected, today))
        return out
    if error is not None:
        reason = redact.text(error)
        evidence = ""
        if exchanges:
            ex = exchanges[-1]
            evidence = f"\n  last request: {ex.method} {redact.text(ex.url)}\n  reproduce: {ex.curl()}"
        out.update(outcome="error", reason=reason, text=f"ERROR (the suite could not judge): {reason}{evidence}")
        return out
    # Whether each declared deviation still occurs is judged over the whole run
    # (results.expectation_status): a deviation may show in one test of many.
    if known and any(v.rule in cited for v in known):
        reasons = "; ".join(
            sorted(
                {
                    f"{v.rule}: {expected[v.rule].reason} ({expected[v.rule].link}, until {expected[v.rule].expires})"
                    for v in known
                }
            )
        )
        out.update(outcome="known-deviation", reason=f"known deviation {reasons}")
        return out
    if warnings:
        out["outcome"] = "warning"
    elif (
        judged is not None
        and cited
        and all(r["outcome"] in (Outcome.NOT_EXERCISED, Outcome.NOT_JUDGED) for r in out["rules"].values())
    ):
        out["outcome"] = Outcome.NOT_EXERCISED.value
        out["reason"] = "; ".join(f"{rid}: {r['reason']}" for rid, r in out["rules"].items())
    else:
        out["outcome"] = "pass"
    return out
