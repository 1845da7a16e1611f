"""A progress line while a run is slow: tests and requests done, the rate, the time left.

Against a model that takes seconds an answer, a run can go quiet for minutes behind a
row of dots; a CI log should say how far it is.  Only in the process that sees every
test's report (serial, or the xdist controller), and only once a run has taken longer
than FIRST seconds, then at most every EVERY seconds.
"""

from __future__ import annotations

import time

from .run import Run

FIRST = 10.0
EVERY = 15.0


class Progress:
    def __init__(self, run: Run):
        self.run = run
        self.start = time.monotonic()
        self.last = self.start + FIRST - EVERY
        self.tests = 0
        self.requests = 0

    def pytest_runtest_logreport(self, report):
        rec = getattr(report, "chatconform", None)
        if rec is None or report.when not in ("setup", "call") or (report.when == "setup" and not report.skipped):
            return
        self.tests += 1
        self.requests += rec.get("requests", 0)
        now = time.monotonic()
        if now - self.last < EVERY:
            return
        self.last = now
        if self.terminal is not None:
            self.terminal.write_line(self.line(now))

    def pytest_sessionstart(self, session):
        self.session = session
        self.terminal = session.config.pluginmanager.get_plugin("terminalreporter")

    terminal = None
    session = None

    def line(self, now: float) -> str:
        elapsed = now - self.start
        total = getattr(self.session, "testscollected", 0) or 0
        rate = self.requests / elapsed if elapsed > 0 else 0.0
        left = ""
        if total > self.tests > 0:
            left = f", about {elapsed / self.tests * (total - self.tests):.0f} s left"
        of = f"/{total}" if total else ""
        return (
            f"chatconform progress: {self.tests}{of} tests, {self.requests} requests in {elapsed:.0f} s "
            f"({rate:.1f} requests/s){left}"
        )
