"""The end of a run: results as data, the verdict in the terminal, the exit status.

Only in the process that sees every test's report (the serial run, or the xdist
controller): workers send their reports to it.
"""
from __future__ import annotations

import json
import pathlib

import pytest

from .. import allure_bridge, redact
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

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        data = self.data()
        if data is None:
            return
        # Strict expectations: a declared deviation that no longer occurs anywhere in the
        # run, or whose expiry date has passed, fails the run so the list stays true.
        if any(e["status"] in ("stale", "expired") for e in data["expectations"]) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        data = self.data()
        if data is None:
            return
        if allure_bridge.enabled(config):
            allure_bridge.environment(config.option.allure_report_dir, self.run.target)
        for line in summary_lines(data):
            terminalreporter.write_line(line)
        path = opt(config, "results")
        if path:
            pathlib.Path(path).write_text(json.dumps(redact.deep(data), indent=1, ensure_ascii=False), encoding="utf-8")
            terminalreporter.write_line(f"results written to {path}")
