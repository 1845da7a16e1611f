"""Judging each test: from what the observer recorded to the test's outcome and record.

A suite test sends requests through the `client` fixture; the observer runs every
registered check on every exchange and keeps the violations in the test's Recorder.
After the call, the violations (plus the one the test raised, if any) are sorted by
verdict.judge into failures, warnings and known deviations, and the pytest report is
set to match.  Before the call, a test whose capability the target does not claim,
or that the run's budget no longer covers, is skipped saying why.
"""

from __future__ import annotations

import pytest

from .. import allure_bridge, redact
from ..observer import Recorder
from ..outcomes import Outcome, skip_outcome
from ..results import exchange_record
from ..verdict import judge, set_aside_unclaimed
from ..violations import CannotJudge, Violation
from .items import cited_rules, is_suite_item, needed_capabilities
from .run import NOT_CLAIMED, RECORDER, Run

MAX_EXCHANGES = 20  # per test in results.json; the property tests make more


class Judging:
    def __init__(self, run: Run):
        self.run = run

    def pytest_runtest_setup(self, item):
        if not is_suite_item(item):
            return
        spent = self.run.spent_out()
        if spent:
            # The target's budget is spent: stop cleanly instead of sending more.
            item.session.shouldstop = f"budget spent: {spent}"
            pytest.skip(f"disabled: budget spent ({spent})")
        missing = [c for c in needed_capabilities(item) if not self.run.target.claims(c)]
        if missing:
            item.stash[NOT_CLAIMED] = missing
            pytest.skip(f"not claimed: {', '.join(missing)}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        use_allure = is_suite_item(item) and allure_bridge.enabled(item.config)
        if use_allure:
            allure_bridge.label(item, cited_rules(item))
        try:
            return (yield)
        finally:
            rec = item.stash.get(RECORDER, None)
            if use_allure and rec is not None:
                allure_bridge.attach(rec.exchanges)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item, nextitem):
        # The test's record (bodies capped at results.BODY_CAP) is built; the recorder's
        # exchanges hold whole bodies (up to limits.max_body_bytes each) and must not live
        # on the item for the rest of the session.
        if RECORDER in item.stash:
            del item.stash[RECORDER]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if not is_suite_item(item):
            return report
        if call.when == "setup" and report.skipped:
            reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
            outcome = Outcome.NOT_CLAIMED if NOT_CLAIMED in item.stash else skip_outcome(reason)
            report.chatconform = self.record(item, outcome, [], [], [], reason, 0.0, None)
        elif call.when == "call" or (call.when == "setup" and report.failed):
            self.judge(item, call, report)
        return report

    def judge(self, item, call, report) -> None:
        rec: Recorder = item.stash.get(RECORDER, None) or Recorder()
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, Violation):
            rec.add(exc)
        elif call.excinfo and call.excinfo.errisinstance(pytest.skip.Exception):
            if not rec.violations:
                reason = str(getattr(exc, "msg", exc))
                report.chatconform = self.record(
                    item, skip_outcome(reason), [], rec.notes, rec.exchanges, reason, call.duration, rec
                )
                return
            exc = None  # a test that skips after seeing a violation still reports the violation
        if (
            isinstance(exc, CannotJudge)
            and exc.exchange is not None
            and all(e is not exc.exchange for e in rec.exchanges)
        ):
            rec.exchanges.append(exc.exchange)  # an error's evidence: the request that could not be judged
        error = None
        if exc is not None and not isinstance(exc, Violation):
            error = exc.reason if isinstance(exc, CannotJudge) else f"{type(exc).__name__}: {exc}"
        rec.violations[:], unclaimed = set_aside_unclaimed(rec.violations, self.run.target.claims)
        rec.notes.extend(unclaimed)
        verdict = judge(
            rec.violations,
            rec.exchanges,
            cited_rules(item),
            self.run.target.expectations,
            self.run.level,
            error=error,
            judged=rec.judged,
            unjudged=rec.unjudged,
            refused=rec.refused_premises,
        )
        o = Outcome(verdict["outcome"])
        report.chatconform = self.record(
            item,
            o,
            verdict["violations"],
            rec.notes,
            rec.exchanges,
            verdict.get("reason", ""),
            call.duration,
            rec,
            verdict.get("rules"),
        )
        if o in (Outcome.PASS, Outcome.WARNING):
            report.outcome, report.longrepr = "passed", None
        elif o is Outcome.NOT_EXERCISED:
            report.outcome, report.longrepr = (
                "skipped",
                (str(item.path), item.location[1], f"not exercised: {verdict['reason']}"),
            )
        elif o is Outcome.KNOWN_DEVIATION:
            report.outcome, report.wasxfail, report.longrepr = "skipped", verdict["reason"], None
        elif o in (Outcome.FAIL, Outcome.ERROR):
            report.outcome, report.longrepr = "failed", verdict["text"]
        # junitxml writes the teardown report's properties, which come from item.user_properties.
        props = [("rule", rid) for rid in cited_rules(item)] + [("outcome", o.value)]
        props += [
            ("violated", f"{v['rule']} {v['disposition']}: expected {v['expected']}; got {v['actual']}")
            for v in verdict["violations"]
        ]
        item.user_properties.extend(props)
        report.user_properties.extend(props)

    @staticmethod
    def record(item, outcome: Outcome, violations, notes, exchanges, reason, duration, rec, rules=None) -> dict:
        out = {
            "nodeid": item.nodeid,
            "rules": list(cited_rules(item)),
            "outcome": outcome.value,
            "reason": redact.text(reason or ""),
            "violations": violations,
            "notes": [{"rule": n.rule, "message": redact.text(n.message)} for n in notes],
            "exchanges": [exchange_record(ex) for ex in exchanges[:MAX_EXCHANGES]],
            "duration": round(duration, 4),
            "completion_tokens": rec.completion_tokens if rec else 0,
            "requests": len(exchanges),
        }
        if rules is not None:
            out["rule_outcomes"] = rules
        return out

    def pytest_report_teststatus(self, report, config):
        rec = getattr(report, "chatconform", None)
        if not rec or report.when not in ("call", "setup"):
            return None
        o = Outcome(rec["outcome"])
        if report.when == "setup" and o is Outcome.FAIL:
            # A fixture's probe (e.g. the request every test of a group shares) broke a rule.
            return "failed", "F", ("FAILED", {"red": True})
        if o is Outcome.ERROR:
            return "error", "E", ("ERROR", {"yellow": True})
        if report.when == "call" and o is Outcome.WARNING:
            return "warned", "w", ("WARNING", {"yellow": True})
        if o in (Outcome.NOT_CLAIMED, Outcome.NOT_APPLICABLE, Outcome.DISABLED, Outcome.NOT_EXERCISED):
            return "skipped", "s", (o.value.upper().replace("-", " "), {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report):
        rec = getattr(report, "chatconform", None)
        if rec is not None:
            self.run.record(rec)
