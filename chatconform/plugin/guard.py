"""What keeps a run bounded and honest about its target: the start of a session (the
command line's timeouts on the target, the preflight, the run's clock, the breaker every
process of the run shares) and the check before each test.  The options
(--timeout, --connect-timeout, --ca-bundle, --max-time, --no-preflight) live with the
others in options.py; what the run's record and summary say about it goes through
`run.book.run_info`.

Under pytest-xdist the controller starts the clock and runs the preflight before its
workers exist, and leaves what they need (the deadline, the token field) in a file of
the run (sharedfile.py), which it removes at the end, with the shared breaker's.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from .. import preflight as preflight_mod
from .. import runclock
from ..client import Breaker
from ..sharedfile import state_dir, update
from ..targets import override
from ..violations import CannotJudge, UsageError
from .options import opt


def _run_id(config) -> str | None:
    if hasattr(config, "workerinput"):
        return os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return getattr(config.option, "testrunuid", None) if getattr(config.option, "numprocesses", None) else None


def _run_file(run_id: str):
    return state_dir() / f"run-{re.sub(r'[^A-Za-z0-9]', '', run_id)[:64]}.json"


def start(session, s) -> None:
    """At session start: the command line's settings on the target, the run's clock, the
    shared breaker, and (a target the suite did not start, not a worker) the preflight;
    an unusable target ends the run here with one message and exit status 6."""
    config = session.config
    try:
        override(
            s.target,
            read=opt(config, "timeout"),
            connect=opt(config, "connect-timeout"),
            ca_bundle=opt(config, "ca-bundle"),
            max_time=opt(config, "max-time"),
        )
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    s.preflight = None
    s.book.run_info = lambda: record(s)
    worker = hasattr(config, "workerinput")
    run_id = _run_id(config)
    shared: dict = {}
    if run_id:
        s.breaker = Breaker.for_run(run_id)
        path = _run_file(run_id)
        if worker:
            shared = json.loads(update(path, lambda raw: raw).decode() or "{}")
        else:
            config.add_cleanup(lambda: (s.breaker.remove(), path.unlink(missing_ok=True)))
    source = (
        "--max-time"
        if opt(config, "max-time") is not None
        else ("max_time" if s.target.source != "command line" else "--max-time (default for --base-url)")
    )
    runclock.start(s.target.max_time, source, deadline=shared.get("deadline"))
    config.add_cleanup(runclock.stop)
    if worker:
        s.target.token_field = shared.get("token_field") or s.target.token_field
        return
    if not (s.target.embedded or opt(config, "no-preflight") or opt(config, "plan") or config.option.collectonly):
        s.preflight = preflight_mod.run(s.target)
        if not s.preflight.usable:
            _say(config, s.preflight.message(s.target))
            status = preflight_mod.EXIT_UNUSABLE
            pytest.exit(f"chatconform: target unusable (exit status {status})", returncode=status)
        # A field the target's entry or --token-limit-field names wins over what was found.
        s.target.token_field = s.target.token_field or s.preflight.token_field
    if run_id:
        data = json.dumps({"deadline": runclock.wall_deadline(), "token_field": s.target.token_field}).encode()
        update(_run_file(run_id), lambda raw: data)


def _say(config, text: str) -> None:
    tw = config.get_terminal_writer() if config.pluginmanager.has_plugin("terminalreporter") else None
    if tw is not None:
        tw.line(text, red=True)
    else:
        print(text)


class NotRun(CannotJudge, pytest.fail.Exception):
    """A test not run: the run's time is up, or the target was given up on.  A CannotJudge
    (the plugin reports an error, never a pass) that pytest renders as its message only,
    as pytest.fail(pytrace=False): rendering a traceback parses the source of every
    frame, ~90 ms a test, which made ending the ~290 remaining tests of a run take 20 s."""

    def __init__(self, reason: str):
        CannotJudge.__init__(self, reason)
        self.msg, self.pytrace = reason, False


def check(s) -> None:
    """Before each test that would run: not past the run's time limit, breaker not tripped."""
    try:
        runclock.check()
        s.breaker.before()
    except CannotJudge as exc:
        raise NotRun(exc.reason) from None


def record(s) -> dict:
    """What results.json (`run`) and the summary say about the run's bounds."""
    out: dict = {"budget": {"name": s.budget.name, "examples": s.budget.examples}}
    if getattr(s, "preflight", None) is not None:
        out["preflight"] = s.preflight.record()
    if s.target.max_time is not None:
        not_judged = sum(1 for t in s.book.tests if t["outcome"] == "error" and "time limit" in (t.get("reason") or ""))
        out["time_limit"] = {
            "max_time": s.target.max_time,
            "reached": bool(not_judged) or runclock.expired(),
            "why": runclock.reason(),
            "not_judged": not_judged,
        }
    state = s.breaker.state()
    if state.get("tripped"):
        out["breaker"] = {"tripped": state["tripped"], "trail": state.get("trail", [])}
    return out


class Guard:
    """The plugin object: the session's start, and the gate before each suite test (after
    the capability and budget gates of judging.py)."""

    def __init__(self, run):
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session):
        start(session, self.run)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_setup(self, item):
        from .items import is_suite_item

        if is_suite_item(item):
            check(self.run)
