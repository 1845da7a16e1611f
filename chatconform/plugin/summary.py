"""The end of a run: results as data, the verdict in the terminal, the exit status.

Only in the process that sees every test's report (the serial run, or the xdist
controller): workers send their reports to it.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from .. import allure_bridge, failures, redact
from ..report import summary_lines
from .options import opt
from .run import Run


class Summary:
    def __init__(self, run: Run):
        self.run = run

    def data(self) -> dict | None:
        if self.run.data is None and self.run.book.tests:
            self.run.data = self.run.book.finish()
        return self.run.data

    def pytest_collectreport(self, report):
        """A suite module that cannot be collected (an import error, a broken parameter)
        leaves its rules unjudged: it enters the results as a test in error, so that the
        verdict cannot read "conformant".  Under xdist each worker reports it; once is kept."""
        if not report.failed:
            return
        lines = str(report.longrepr).strip().splitlines()
        self.run.book.add(
            {
                "nodeid": report.nodeid or str(getattr(report, "fspath", "") or "(collection)"),
                "rules": [],
                "outcome": "error",
                "reason": "the suite could not collect this: " + (lines[-1] if lines else "an error"),
                "violations": [],
                "notes": [],
                "exchanges": [],
                "duration": 0.0,
                "completion_tokens": 0,
                "requests": 0,
            }
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        data = self.data()
        if data is None:
            return
        # Strict expectations: a declared deviation that no longer occurs anywhere in the
        # run, or whose expiry date has passed, fails the run so the list stays true.
        if any(e["status"] in ("stale", "expired") for e in data["expectations"]) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        # Around pytest's own summary (this wrapper runs first): the suite's failures are
        # printed grouped by rule and actual value instead of once per test, at the
        # detail --tb asks for.  Their reports leave pytest's per-test sections meanwhile;
        # a property test's report stays there (its minimal example is its own).
        data = self.data()
        if data is None:
            return (yield)
        stats = terminalreporter.stats
        failed = list(stats.get("failed", []))
        grouped = [r for r in failed if getattr(r, "chatconform", None) and "property" not in r.keywords]
        if grouped:
            nodeids = {r.nodeid for r in grouped}
            text = failures.lines(
                failures.groups([t for t in data["tests"] if t["nodeid"] in nodeids]), config.option.tbstyle
            )
            if text:
                terminalreporter.write_sep("=", "chatconform failures, one block per rule and actual value")
                for line in text[1:] if text[0] == "" else text:
                    terminalreporter.write_line(line)
            stats["failed"] = [r for r in failed if r not in grouped]
        try:
            if allure_bridge.enabled(config):
                allure_bridge.environment(config.option.allure_report_dir, self.run.target)
            for line in summary_lines(data):
                terminalreporter.write_line(line)
            path = opt(config, "results")
            if path:
                pathlib.Path(path).write_text(
                    json.dumps(redact.deep(data), indent=1, ensure_ascii=False), encoding="utf-8"
                )
                terminalreporter.write_line(f"results written to {path}")
            return (yield)
        finally:
            if grouped:
                stats["failed"] = failed  # the final counts line counts them all

    def pytest_unconfigure(self, config):
        # After pytest's own last line: the verdict is the last thing a run prints.
        data = self.run.data
        if data is None or not config.pluginmanager.has_plugin("terminalreporter"):
            return
        verdict = failures.verdict_line(data)
        config.get_terminal_writer().line(verdict, red="NOT" in verdict, green="NOT" not in verdict, bold=True)
