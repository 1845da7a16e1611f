"""Collection: every cited rule exists, --rule and the smoke budget's selections, and --plan."""

from __future__ import annotations

import pytest

from .. import rules as rules_mod
from .items import cited_rules, expected_requests, is_suite_item, needed_capabilities
from .options import opt
from .run import Run


class Collection:
    def __init__(self, run: Run):
        self.run = run
        self.planned = False

    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            for rid in cited_rules(item):
                if rid not in rules_mod.catalogue():
                    raise pytest.UsageError(f"{item.nodeid} cites unknown rule {rid!r}")
        wanted = opt(config, "rule")
        if wanted:
            unknown = sorted(set(wanted) - set(rules_mod.catalogue()))
            if unknown:
                raise pytest.UsageError(f"--rule {', '.join(unknown)}: no such rule (chatconform rules lists them)")
            keep = [i for i in items if not is_suite_item(i) or set(wanted) & set(cited_rules(i))]
            dropped = [i for i in items if i not in keep]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
                items[:] = keep
        if self.run.budget.smoke_only:
            keep = [i for i in items if not is_suite_item(i) or i.get_closest_marker("smoke")]
            dropped = [i for i in items if i not in keep]
            if dropped:
                config.hook.pytest_deselected(items=dropped)
                items[:] = keep
        if opt(config, "plan"):
            self.plan(config, [i for i in items if is_suite_item(i)])
            config.hook.pytest_deselected(items=list(items))
            items[:] = []
            self.planned = True

    def plan(self, config, items) -> None:
        """--plan: what a run would send, estimated without sending anything.

        A test sends about one request (tests with several probes are counted by their
        parametrized cases); a property test sends one per example (two for a pair).  Each request may
        produce at most its token limit (16 by default) completion tokens, so the token
        figure is an upper bound."""
        target, budget = self.run.target, self.run.budget
        tw = config.get_terminal_writer()
        rows, runnable, requests = [], 0, 0
        for item in items:
            missing = [c for c in needed_capabilities(item) if not target.claims(c)]
            n = expected_requests(item, budget.examples)
            if not missing:
                runnable += 1
                requests += n
            what = "not claimed: " + ", ".join(missing) if missing else f"~{n} request(s)"
            rows.append((item.nodeid, ", ".join(cited_rules(item)), what))
        for nodeid, rids, what in rows:
            tw.line(f"{nodeid:<90} {what:<28} {rids}")
        tokens = requests * max(budget.max_tokens, 16)
        tw.line("")
        tw.line(
            f"plan for target {target.name} (budget {budget.name}, {budget.examples} examples a property): "
            f"{runnable} of {len(rows)} tests would run, "
            f"~{requests} requests, at most ~{tokens} completion tokens; nothing was sent"
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.planned and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK  # a plan runs no test on purpose
