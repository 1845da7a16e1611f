"""From violations to a test's outcome: one pure function, used by the plugin and by rejudge."""
from __future__ import annotations

import datetime as _dt

from . import redact, rules as rules_mod
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


def judge(violations, exchanges, cited, expectations, level: str, error: str | None = None,
          today: _dt.date | None = None) -> dict:
    """Sort violations into fail / warning / known deviation and decide the outcome.

    `error` is set when the test could not finish for a reason that says nothing about
    conformance (CannotJudge, a suite bug): the outcome is then `error`, unless a real
    violation was already seen (a fault found is a fault, whatever happened next).
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
        dispositions.append({
            "rule": v.rule, "level": rule_level, "expected": redact.text(v.expected), "actual": redact.text(v.actual),
            "where": v.where, "disposition": disp, "origin": v.origin,
            "exchange": next((i for i, ex in enumerate(exchanges) if ex is v.exchange), None)})
    out = {"violations": dispositions}
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
        reasons = "; ".join(sorted({f"{v.rule}: {expected[v.rule].reason} ({expected[v.rule].link}, until {expected[v.rule].expires})"
                                    for v in known}))
        out.update(outcome="known-deviation", reason=f"known deviation {reasons}")
        return out
    out["outcome"] = "warning" if warnings else "pass"
    return out
