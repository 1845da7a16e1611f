"""The pytest plugin: options, the target, per-test judging, the summary and the exit status.

A suite test is an ordinary pytest function marked `@pytest.mark.rules(...)`; it uses
the `client` fixture to talk to the target.  Judging happens here, after the test:
the violations the observer recorded plus the one the test raised are sorted into
failures, warnings (SHOULD under --level must) and known deviations (targets.yaml
expectations), and the pytest report is set to match.
"""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from . import allure_bridge, redact, rules as rules_mod
from . import runguard          # runguard: preflight, --max-time, the shared breaker (3 calls below)
from .budget import BUDGETS, Budget, Ledger
from .client import Breaker, Client
from .observer import Recorder
from .report import summary_lines
from .verdict import judge, set_aside_unclaimed
from .results import ResultsBook
from .targets import CAPABILITIES, Target, adhoc, resolve
from .violations import CannotJudge, UsageError, Violation

STASH = pytest.StashKey["ChatconformSession"]()
MAX_EXCHANGES = 20          # per test in results.json; the property tests make more


def pytest_addoption(parser):
    g = parser.getgroup("chatconform", "chatconform: which target, how strict")
    g.addoption("--target", default=None, help="run against this named target from the targets file (default: the embedded reference)")
    g.addoption("--targets", default=None, help="the targets file (default: targets.yaml in the repository root)")
    g.addoption("--base-url", default=None, help="ad hoc target: its base URL, e.g. http://127.0.0.1:8000/v1")
    g.addoption("--model", default=None, help="ad hoc target: the model id to request")
    g.addoption("--api-key-env", default=None, help="ad hoc target: the environment variable holding the API key (never the key itself)")
    g.addoption("--capabilities", default=None, help=f"ad hoc target: 'all' or a comma list of {','.join(CAPABILITIES)}")
    g.addoption("--allow-remote-images", action="store_true", default=False,
                help="ad hoc target: let VISION-001/004 send http(s) image URLs (the server may fetch them)")
    g.addoption("--level", default="should", choices=("must", "should"),
                help="should (default): MUST and SHOULD rules fail the run; must: SHOULD violations are warnings")
    g.addoption("--results", default=None, help="write results.json (data of every rule and test) to this path")
    g.addoption("--plan", action="store_true", default=False,
                help="dry run: list the tests and estimate requests and completion tokens; send nothing")
    g.addoption("--budget", default="standard", choices=tuple(BUDGETS),
                help="smoke: a few core requests; standard (default): every test; thorough: more property examples")
    runguard.add_options(g)     # runguard: --timeout, --connect-timeout, --ca-bundle, --max-time, --no-preflight


class ChatconformSession:
    def __init__(self, config, target: Target, level: str):
        self.config = config
        self.target = target
        self.level = level
        self.book = ResultsBook(target, level)
        self.breaker = Breaker()
        self.reference = None
        self.started = time.time()
        # Under pytest-xdist the workers share one ledger of the run's spend (budget.py);
        # the controller made the run id (pytest_configure) and removes the ledger at the end.
        run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") if hasattr(config, "workerinput") else None
        self.ledger = Ledger.for_run(run_id) if run_id else None
        self.pregen = None              # strategies/pregen.py: the property tests' examples, drawn ahead
        self.fetcher = None             # strategies/fetch.py: their answers, fetched ahead

    def ensure_running(self) -> Target:
        if self.target.embedded == "reference" and self.reference is None:
            from . import reference
            key = "sk-chatconform-ref-" + secrets.token_hex(12)
            if self.target.gated:
                # The target declares capabilities its key lacks: the reference gets such a key (dialects.py tiers).
                key = reference.dialects.FREE_KEY_PREFIX + key[3:]
            redact.register(key)
            # A dialect sets the reference's base path too: base_url below comes back with it (002: /api/v1).
            self.reference = reference.start(api_key=key if self.target.claims("auth") else None,
                                             models=(self.target.model,), dialect=self.target.dialect)
            self.target.base_url = self.reference.base_url
            self.target.api_key = key if self.target.claims("auth") else None
        return self.target

    def spent_out(self) -> str | None:
        """Which budget (targets.yaml `budget`) the run has spent, if any: this process's
        spend, or under -n N the whole run's (every worker's, from the shared ledger)."""
        budget = self.target.budget or {}
        if not budget:
            return None
        if self.ledger is not None:
            requests, tokens = self.ledger.totals()
        else:
            requests = sum(t.get("requests", 0) for t in self.book.tests)
            tokens = sum(t.get("completion_tokens", 0) for t in self.book.tests)
        if "requests" in budget and requests >= budget["requests"]:
            return f"{requests} requests of {budget['requests']}"
        if "output_tokens" in budget and tokens >= budget["output_tokens"]:
            return f"{tokens} completion tokens of {budget['output_tokens']}"
        return None

    def stop(self):
        if self.fetcher is not None:
            self.fetcher.stop()
            self.fetcher = None
        if self.pregen is not None:
            self.pregen.stop()
            self.pregen = None
        if self.reference is not None:
            self.reference.stop()
            self.reference = None


def _resolve_target(config) -> Target:
    opt = config.getoption
    root = pathlib.Path(str(config.rootpath))
    if opt("base_url"):
        if opt("target"):
            raise UsageError("give either --target NAME or --base-url URL, not both")
        t = adhoc(opt("base_url"), opt("model"), opt("api_key_env"), opt("capabilities"))
        t.allow_remote_images = bool(opt("allow_remote_images"))
        return t
    for flag in ("model", "api_key_env", "capabilities", "allow_remote_images"):
        if opt(flag):
            raise UsageError(f"--{flag.replace('_', '-')} goes with --base-url (for a named target, edit its entry in the targets file)")
    path = opt("targets") or root / "targets.yaml"
    return resolve(opt("target") or "reference", path)


def pytest_configure(config):
    try:
        target = _resolve_target(config)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[STASH] = ChatconformSession(config, target, config.getoption("level"))
    if drawing_allowed(config):
        shared = getattr(config, "workerinput", {}).get("chatconform_pregen")
        if shared:
            from .strategies.pregen import Pregenerator
            config.stash[STASH].pregen = Pregenerator.attach(shared)
        elif not hasattr(config, "workerinput") and (_xdist_controller(config) or _may_select_properties(config)):
            start_drawing(config)     # as early as possible: collection says later which cases run
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        # This process is the controller of pytest-xdist workers.
        if getattr(config.option, "dist", None) == "load" and not _dist_given(config):
            # xdist's default hands out contiguous chunks, so the 16 property tests (most of
            # a run's time) tend to land on one worker and -n 2 is no faster than serial.
            # Work stealing balances them (8 s instead of 10.5 s for the standard run here).
            config.option.dist = "worksteal"
        if getattr(config.option, "testrunuid", "unset") is None:
            # Name the run for xdist (it would draw the same kind of id itself) so that this
            # controller knows which spend ledger its workers share, and can remove it.
            config.option.testrunuid = uuid.uuid4().hex


def _dist_given(config) -> bool:
    """Whether --dist was chosen anywhere: the command line, addopts or PYTEST_ADDOPTS."""
    args = [*map(str, config.invocation_params.args), *config.getini("addopts"),
            *os.environ.get("PYTEST_ADDOPTS", "").split()]
    return any(a.startswith("--dist") for a in args)


def pytest_unconfigure(config):
    s = config.stash.get(STASH, None)
    if s is not None:
        s.stop()
    run_id = getattr(config.option, "testrunuid", None)
    if run_id and not hasattr(config, "workerinput"):
        Ledger.for_run(run_id).remove()


def _session(config) -> ChatconformSession:
    return config.stash[STASH]


# -- collection: rules and capabilities ------------------------------------------------
def cited_rules(item) -> tuple[str, ...]:
    ids: list[str] = []
    for m in item.iter_markers("rules"):
        ids.extend(m.args)
    return tuple(dict.fromkeys(ids))


def needed_capabilities(item) -> list[str]:
    caps: list[str] = []
    for rid in cited_rules(item):
        try:
            cap = rules_mod.get(rid).capability
        except KeyError:
            continue
        if cap and cap not in caps:
            caps.append(cap)
    for m in item.iter_markers("needs"):
        caps.extend(c for c in m.args if c not in caps)
    return caps


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        for rid in cited_rules(item):
            if rid not in rules_mod.catalogue():
                raise pytest.UsageError(f"{item.nodeid} cites unknown rule {rid!r}")
    budget = BUDGETS[config.getoption("budget")]
    if budget.smoke_only:
        keep = [i for i in items if not is_suite_item(i) or i.get_closest_marker("smoke")]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep


    if config.getoption("plan"):
        plan(config, [i for i in items if is_suite_item(i)], budget)
        config.hook.pytest_deselected(items=list(items))
        items[:] = []
    # The property tests run last: their examples are drawn in another process while the
    # other tests run (pytest_collection_finish).
    items.sort(key=lambda i: i.get_closest_marker("property_case") is not None)


def drawing_allowed(config) -> bool:
    """Whether to draw the property tests' examples ahead (strategies/pregen.py): not when
    the budget runs no property examples, nothing runs (--collect-only, --plan), or
    CHATCONFORM_PREGEN=off.  (Under pytest-xdist the controller draws, the workers read.)"""
    budget = BUDGETS[config.getoption("budget")]
    return not (budget.examples <= 0 or config.option.collectonly or config.getoption("plan")
                or os.environ.get("CHATCONFORM_PREGEN", "").lower() == "off")


def _xdist_controller(config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist, in the controller, before a worker starts: where the drawing is."""
    s = node.config.stash.get(STASH, None)
    if s is not None and s.pregen is not None:
        node.workerinput["chatconform_pregen"] = s.pregen.shared()


def _may_select_properties(config) -> bool:
    """Whether the command line may select property tests: a directory (the suites) or
    the property module itself.  Then drawing starts before collection; otherwise only
    after it, if property tests were collected after all."""
    args = [str(a) for a in (config.args or [])]
    for a in args:
        path = pathlib.Path(a.split("::", 1)[0])
        if path.name == "test_properties.py" or path.is_dir():
            return True
    return False


def start_drawing(config, cases=None) -> None:
    """Start the drawing processes for `cases` (default: every case the target's claims
    allow), in the order the tests run them."""
    s = _session(config)
    budget = BUDGETS[config.getoption("budget")]
    from .strategies import Profile
    from .strategies.cases import all_cases, needs
    from .strategies.harness import DEFAULT_SEED
    from .strategies.pregen import Job, Pregenerator
    seed = config.getoption("hypothesis_seed", None)
    if seed is not None:
        try:
            seed = int(seed)          # as hypothesis' own pytest plugin reads it
        except ValueError:
            pass
    profile = Profile.of(s.target, budget)
    jobs = [Job(case, profile, budget.examples, DEFAULT_SEED if seed is None else seed)
            for case in all_cases() if all(s.target.claims(c) for c in needs(case)) and (cases is None or case in cases)]
    if jobs:
        s.pregen = Pregenerator(jobs, secret_env=tuple(filter(None, [s.target.api_key_env])))


def pytest_collection_finish(session):
    config = session.config
    if not drawing_allowed(config) or hasattr(config, "workerinput") or _xdist_controller(config):
        return                        # under xdist the controller draws every case, the workers read
    s = _session(config)
    from .strategies.cases import Case
    needed = {Case(*item.get_closest_marker("property_case").args) for item in session.items
              if item.get_closest_marker("property_case") is not None}
    if s.pregen is None:
        if needed:
            start_drawing(config, needed)
    elif needed:
        s.pregen.only(needed)
    else:
        s.pregen.stop()
        s.pregen = None


def plan(config, items, budget) -> None:
    """--plan: what a run would send, estimated without sending anything.

    A test sends about one request (tests with a shared probe or several probes are
    counted by their parametrized cases); a property test sends one per example.  Each
    request may produce at most its max_tokens (16 by default) completion tokens, so the
    token figure is an upper bound.
    """
    s = _session(config)
    tw = config.get_terminal_writer()
    rows, runnable, requests = [], 0, 0
    for item in items:
        missing = [c for c in needed_capabilities(item) if not s.target.claims(c)]
        n = budget.examples if item.get_closest_marker("property") else 1
        if not missing:
            runnable += 1
            requests += n
        rows.append((item.nodeid, ", ".join(cited_rules(item)), "not claimed: " + ", ".join(missing) if missing else f"~{n} request(s)"))
    for nodeid, rids, what in rows:
        tw.line(f"{nodeid:<90} {what:<28} {rids}")
    tokens = requests * max(budget.max_tokens, 16)
    tw.line("")
    tw.line(f"plan for target {s.target.name} (budget {budget.name}): {runnable} of {len(rows)} tests would run, "
            f"~{requests} requests, at most ~{tokens} completion tokens; nothing was sent")
    config._chatconform_planned = True


def is_suite_item(item) -> bool:
    return bool(cited_rules(item))


def pytest_runtest_setup(item):
    if not is_suite_item(item):
        return
    s = _session(item.config)
    spent = s.spent_out()
    if spent:
        # The target's budget is spent: stop cleanly instead of sending more.
        item.session.shouldstop = f"budget spent: {spent}"
        pytest.skip(f"disabled: budget spent ({spent})")
    missing = [c for c in needed_capabilities(item) if not s.target.claims(c)]
    if missing:
        item._chatconform_not_claimed = missing
        pytest.skip(f"not claimed: {', '.join(missing)}")
    runguard.check(s)           # runguard: past --max-time, or the breaker tripped: not judged (error)


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def target(request) -> Target:
    s = _session(request.config)
    try:
        target = s.ensure_running()
    except OSError as exc:
        raise UsageError(f"could not start the embedded reference server: {exc}") from None
    start_fetching(s, request.config)
    return target


@pytest.fixture
def recorder(request) -> Recorder:
    rec = Recorder()
    request.node._chatconform_recorder = rec
    return rec


@pytest.fixture
def client(target, recorder, request):
    s = _session(request.config)
    observe = recorder.observe
    declared = (target.extensions or {}).get("response")
    if declared:
        # Declared vendor answer fields are judged on every exchange (DIALECT-002, checks/extensions.py).
        from .checks import extensions
        observe = extensions.observer(observe, recorder, declared)
    c = Client(target, observe=observe, breaker=s.breaker)
    yield c
    c.close()


@dataclass
class Ahead:
    """What was prepared ahead for one property test: its drawn (value, body) pairs (None:
    the test draws them itself) and the answers fetched ahead, if any."""
    values: list | None
    fetcher: Any = None
    case: Any = None

    def take(self, body):
        return self.fetcher.take(self.case, body) if self.fetcher is not None else None

    def release(self) -> list:
        return self.fetcher.release(self.case) if self.fetcher is not None else []


@pytest.fixture
def ahead(request, target) -> Ahead | None:
    """For a property test: its examples drawn ahead (strategies/pregen.py) and their
    answers fetched ahead (strategies/fetch.py); None when neither runs."""
    s = _session(request.config)
    marker = request.node.get_closest_marker("property_case")
    if s.pregen is None or marker is None:
        return None
    from .strategies.cases import Case
    case = Case(*marker.args)
    return Ahead(s.pregen.values(case), s.fetcher, case)


def start_fetching(s: "ChatconformSession", config) -> None:
    """Once the target runs, send the property tests' requests ahead from another
    process, unless spend is capped or paced, pytest-xdist runs the tests
    (strategies/fetch.py says why), or examples are still being drawn."""
    if s.pregen is None or s.fetcher is not None or hasattr(config, "workerinput") or _xdist_controller(config):
        return
    from .strategies import Profile, fetch
    # Only when every case's examples came from the cache: while a process still draws,
    # it, the fetcher and the tests compete for the cores (measured: slower than without).
    if fetch.allowed(s.target) and not s.pregen.procs:
        s.fetcher = fetch.Fetcher(s.target, s.pregen, Profile.of(s.target, BUDGETS[config.getoption("budget")]),
                                  s.target.concurrency)


@pytest.fixture
def model(target) -> str:
    return target.model


@pytest.fixture(scope="session")
def budget(request) -> Budget:
    return BUDGETS[request.config.getoption("budget")]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    # The test's record (bodies capped at results.BODY_CAP) is built; the recorder's
    # exchanges hold whole bodies (up to limits.max_body_bytes each) and must not live
    # on the item for the rest of the session.
    item.__dict__.pop("_chatconform_recorder", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    use_allure = is_suite_item(item) and allure_bridge.enabled(item.config)
    if use_allure:
        allure_bridge.label(item, cited_rules(item))
    yield
    rec = getattr(item, "_chatconform_recorder", None)
    if use_allure and rec is not None:
        allure_bridge.attach(rec.exchanges)


# -- judging -----------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    judged_phase = call.when == "call" or (call.when == "setup" and report.failed)
    if not is_suite_item(item) or not judged_phase:
        if is_suite_item(item) and call.when == "setup" and report.skipped:
            missing = getattr(item, "_chatconform_not_claimed", None)
            reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
            record = {"nodeid": item.nodeid, "rules": list(cited_rules(item)),
                      "outcome": "not-claimed" if missing else skip_outcome(reason),
                      "reason": reason,
                      "violations": [], "notes": [], "exchanges": [], "duration": 0.0, "completion_tokens": 0}
            report.chatconform = record
        return
    s = _session(item.config)
    rec: Recorder = getattr(item, "_chatconform_recorder", None) or Recorder()
    exc = call.excinfo.value if call.excinfo else None
    if isinstance(exc, Violation):
        rec.add(exc)
    elif call.excinfo and call.excinfo.errisinstance(pytest.skip.Exception):
        if not rec.violations:
            reason = str(getattr(exc, "msg", exc))
            report.chatconform = _record(item, skip_outcome(reason), [], rec.notes, rec.exchanges, reason, call.duration, rec)
            return
        exc = None      # a test that skips after seeing a violation still reports the violation
    if isinstance(exc, CannotJudge) and exc.exchange is not None and all(e is not exc.exchange for e in rec.exchanges):
        rec.exchanges.append(exc.exchange)      # an error's evidence: the request that could not be judged
    error = None
    if exc is not None and not isinstance(exc, Violation):
        error = exc.reason if isinstance(exc, CannotJudge) else f"{type(exc).__name__}: {exc}"
    rec.violations[:], unclaimed = set_aside_unclaimed(rec.violations, s.target.claims)
    rec.notes.extend(unclaimed)
    verdict = judge(rec.violations, rec.exchanges, cited_rules(item), s.target.expectations, s.level, error=error)
    report.chatconform = _record(item, verdict["outcome"], verdict["violations"], rec.notes, rec.exchanges,
                                 verdict.get("reason", ""), call.duration, rec)
    o = verdict["outcome"]
    if o in ("pass", "warning"):
        report.outcome, report.longrepr = "passed", None
    elif o == "known-deviation":
        report.outcome = "skipped"
        report.wasxfail = verdict["reason"]
        report.longrepr = None
    elif o in ("fail", "error"):
        report.outcome = "failed"
        report.longrepr = verdict["text"]
    # junitxml writes the teardown report's properties, which come from item.user_properties.
    props = [("rule", rid) for rid in cited_rules(item)] + [("outcome", o)]
    props += [("violated", f"{v['rule']} {v['disposition']}: expected {v['expected']}; got {v['actual']}")
              for v in verdict["violations"]]
    item.user_properties.extend(props)
    report.user_properties.extend(props)


def skip_outcome(reason: str) -> str:
    """Skips say why: the situation never arose, or the operator turned the test off."""
    reason = reason.lower().removeprefix("skipped: ")
    if reason.startswith("not applicable"):
        return "not-applicable"
    if reason.startswith("disabled"):
        return "disabled"
    return "skip"


def _record(item, outcome, violations, notes, exchanges, reason, duration, rec=None) -> dict:
    from .results import exchange_record
    return {
        "nodeid": item.nodeid, "rules": list(cited_rules(item)), "outcome": outcome,
        "reason": redact.text(reason or ""), "violations": violations,
        "notes": [{"rule": n.rule, "message": redact.text(n.message)} for n in notes],
        "exchanges": [exchange_record(ex) for ex in exchanges[:MAX_EXCHANGES]],
        "duration": round(duration, 4), "completion_tokens": rec.completion_tokens if rec else 0,
        "requests": len(exchanges),
    }


def pytest_report_teststatus(report, config):
    rec = getattr(report, "chatconform", None)
    if not rec or report.when not in ("call", "setup"):
        return None
    o = rec["outcome"]
    if report.when == "setup" and o == "fail":
        # A fixture's probe (e.g. the request every test of a group shares) broke a rule.
        return "failed", "F", ("FAILED", {"red": True})
    if o == "error":
        return "error", "E", ("ERROR", {"yellow": True})
    if report.when == "call" and o == "warning":
        return "warned", "w", ("WARNING", {"yellow": True})
    if o in ("not-claimed", "not-applicable", "disabled"):
        return "skipped", "s", (o.upper().replace("-", " "), {"yellow": True})
    return None


def pytest_runtest_logreport(report):
    rec = getattr(report, "chatconform", None)
    if rec is None:
        return
    config = _CONFIG.get("config")
    if config is not None:
        s = _session(config)
        s.book.add(rec)
        if s.ledger is not None and (rec.get("requests") or rec.get("completion_tokens")):
            s.ledger.add(rec.get("requests", 0), rec.get("completion_tokens", 0))


_CONFIG: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    _CONFIG["config"] = session.config
    runguard.start(session, _session(session.config))   # runguard: options, clock, breaker, preflight (exit 6)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if getattr(session.config, "_chatconform_planned", False) and session.exitstatus == 5:
        session.exitstatus = 0          # a plan runs no test on purpose
    s = session.config.stash.get(STASH, None)
    if s is None or not s.book.tests or hasattr(session.config, "workerinput"):
        return
    s.data = s.book.finish()
    # Strict expectations: a declared deviation that no longer occurs anywhere in the
    # run, or whose expiry date has passed, fails the run so the list stays true.
    if any(e["status"] in ("stale", "expired") for e in s.data["expectations"]) and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    s = config.stash.get(STASH, None)
    if s is None or not s.book.tests:
        return
    if hasattr(config, "workerinput"):
        return
    data = getattr(s, "data", None) or s.book.finish()
    if allure_bridge.enabled(config):
        allure_bridge.environment(config.option.allure_report_dir, s.target)
    for line in summary_lines(data):
        terminalreporter.write_line(line)
    path = config.getoption("results")
    if path:
        pathlib.Path(path).write_text(json.dumps(redact.deep(data), indent=1, ensure_ascii=False), encoding="utf-8")
        terminalreporter.write_line(f"results written to {path}")
