"""Running a property against a target: hypothesis drives, the observer judges.

Per example, a fresh `Recorder` sees the exchange (the engine's observer checks every
answer: schemas, usage, limits, stop text, tool_choice, JSON modes, stream framing).
One `Client` per test routes each exchange to the current example's Recorder (a Client
per example would give the same isolation, but a new connection, and for https a new
TLS handshake, per request).  What the observer finds, or what the property itself
finds, is RAISED, so hypothesis shrinks the request to a minimal one; boundary examples
(explicit, one edge away from a plain request) run first and are not shrunk.  Each rule is its own exception class, so a shrink never
trades one rule for another (the minimal request still breaks the rule reported).
One failure is reported per test (`report_multiple_bugs=False`): hypothesis looks for
more bugs only until 10 s after the first, a wall-clock limit that would make the set
of rules reported depend on the target's speed.

Determinism (two runs with the same seed give the same verdicts):

  * `--hypothesis-seed S` (hypothesis' own pytest option): the run draws from seed S
    and, as hypothesis does for a forced seed, neither reads nor writes the example
    database: an exact replay.
  * no seed given: the run uses the fixed seed DEFAULT_SEED (0) instead of a random
    one, so the default run is as reproducible as a seeded one (`--hypothesis-seed=0`
    replays it), and keeps a per-target example database,
    `hypothesis-db/<target name>/` in the per-user cache (`$CHATCONFORM_HYPOTHESIS_DIR`
    moves it; `off` disables it): a failure found once is retried first next time.  The
    database only ever holds failures this same seed found on this same target, so it
    changes how fast a failure is found again, not the verdict; one exception: an entry
    that no longer fails (the target was fixed) is replayed once, counts as one of that
    run's examples, and is deleted.
    `derandomize` is not used: it would forbid the database and ignore
    `--hypothesis-seed`.

Hypothesis also mixes "local constants" into its draws: literals it finds in whatever
project modules happen to be imported (5% of draws).  Which modules those are differs
between `pytest suites/test_properties.py::one_test` and a full run, and changes with
any edit anywhere in the repository, so the same seed would not replay the same
requests.  `fixed_constants()` switches that source off while a property runs
(hypothesis' own global constants stay): the requests a seed draws depend on the
seed, the strategies and the target's claims only.

Cost is bounded: an identical request is never sent twice (answers are cached by
request, which also makes the final replay of a shrunk failure free and immune to a
non-deterministic model), and once a test has sent `max_requests` requests, further
shrinking stops (noted on the test).
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import example as hypothesis_example
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from .. import redact
from ..paths import cache_dir
from ..client import Client, Exchange
from ..observer import Recorder
from ..violations import CannotJudge, Note, Violation, short

DEFAULT_SEED = 0
DB_ENV = "CHATCONFORM_HYPOTHESIS_DIR"
MAX_NOTES = 20


@contextlib.contextmanager
def fixed_constants():
    """Draw without hypothesis' local constants (see the module docstring)."""
    try:
        from hypothesis.internal.conjecture import providers
        original, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE, providers.Constants()
    except (ImportError, AttributeError):          # another hypothesis version: nothing to switch off
        yield
        return
    providers._get_local_constants = lambda: empty
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


# -- one exception class per rule: distinct bugs to hypothesis --------------------------------
_CLASSES: dict[str, type] = {}


def _class_for(rule: str) -> type:
    if rule not in _CLASSES:
        _CLASSES[rule] = type(f"Violation_{re.sub(r'[^A-Za-z0-9]', '_', rule)}", (Violation,), {"__module__": __name__})
    return _CLASSES[rule]


def typed(v: Violation) -> Violation:
    """A copy of `v` whose class is its rule's own subclass of Violation."""
    cls = _class_for(v.rule)
    return cls(v.rule, v.expected, v.actual, v.where, v.exchange, v.origin)


# -- the example database, namespaced per test -------------------------------------------------
class Namespaced(ExampleDatabase):
    """One database directory per target shared by its tests, keys prefixed by test id
    (the property runs share one inner function, so hypothesis' own keys would collide)."""

    def __init__(self, inner: ExampleDatabase, namespace: str):
        super().__init__()
        self.inner = inner
        self.prefix = namespace.encode("utf-8") + b"\x00"

    def save(self, key: bytes, value: bytes) -> None:
        self.inner.save(self.prefix + key, value)

    def fetch(self, key: bytes):
        yield from self.inner.fetch(self.prefix + key)

    def delete(self, key: bytes, value: bytes) -> None:
        self.inner.delete(self.prefix + key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self.inner.move(self.prefix + src, self.prefix + dest, value)


def database_dir(target) -> pathlib.Path | None:
    """`hypothesis-db/<target name>` in the per-user cache (never in the directory the suite
    is run from); ad hoc targets are named by URL and model."""
    base = os.environ.get(DB_ENV)
    if base and base.strip().lower() in ("off", "none", "0", "false"):
        return None
    name = target.name
    if getattr(target, "source", "") == "command line":     # an ad hoc target: keep URL and model apart
        from urllib.parse import urlsplit
        p = urlsplit(target.base_url)
        name = f"adhoc-{p.hostname}-{p.port or ''}-{target.model}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]
    return (pathlib.Path(base) if base else cache_dir() / "hypothesis-db") / name


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Outcome:
    violations: list                           # typed; the first is raised, the others recorded with it


def generation_settings(examples: int, database: ExampleDatabase | None = None) -> settings:
    """The hypothesis settings of every property run."""
    return settings(max_examples=max(1, examples), deadline=None, database=database,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                    derandomize=False, print_blob=False)


@dataclass
class PropertyRun:
    """One property test against one target.

    `judge(value, body, send) -> Violation | [Violation] | None` is the property: it sends
    the request with `send(body)` (which returns the exchange and the example's Recorder)
    and says what is wrong, if anything (the first violation is raised for hypothesis to
    shrink; the others the same answer broke are reported with it).  `prepare(value) -> body`
    may return None to reject a value (e.g. no longer invalid after shrinking).
    """

    target: Any
    examples: int
    recorder: Recorder | None = None          # the test's recorder: notes, evidence, spend
    nodeid: str = "property"
    forced_seed: Any = None                   # --hypothesis-seed, when given
    db_dir: pathlib.Path | None = None
    breaker: Any = None
    max_requests: int | None = None
    replay_hint: str = ""                     # how to rerun this one test (printed with failures)
    cache: dict = field(default_factory=dict)
    sent: int = 0
    capped: bool = False
    cannot: CannotJudge | None = None
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.max_requests is None:
            self.max_requests = max(40, self.examples * 4)
        self._client: Client | None = None
        self._current: Recorder | None = None     # the example being sent: its exchanges go to its Recorder
        self._by_exchange: dict[int, Outcome] = {}
        self._explicit: set[str] = set()

    # -- seeds and settings ------------------------------------------------------------------
    @property
    def seed(self):
        return self.forced_seed if self.forced_seed is not None else DEFAULT_SEED

    def settings(self) -> settings:
        db = None
        if self.forced_seed is None and self.db_dir is not None:
            db = Namespaced(DirectoryBasedExampleDatabase(str(self.db_dir)), self.nodeid)
        return generation_settings(self.examples, db)

    # -- sending ----------------------------------------------------------------------------
    def send(self, body: Any, **kw) -> tuple[Exchange, Recorder]:
        rec = self._current = Recorder()
        try:
            ex = self._client.chat(body, **kw)
        finally:
            self._current = None
            self.sent += 1
            if self.recorder is not None:
                self.recorder.merge(rec)
        return ex, rec

    def _observe(self, ex: Exchange) -> None:
        if self._current is not None:
            self._current.observe(ex)

    def note(self, rule: str, message: str) -> None:
        key = (rule, message)
        if key not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes[key] = Note(rule, message)

    # -- the run ----------------------------------------------------------------------------
    def run(self, strategy, judge: Callable, prepare: Callable | None = None, key: Callable | None = None,
            explicit: list | tuple = (), refine: Callable | None = None) -> None:
        """Run the property on the `explicit` values first (boundary examples, not shrunk),
        then on values drawn from `strategy`; raise the first violation found.

        `refine(violation, send) -> Violation | None` may look at the final (shrunk)
        failure once, with requests of its own, and restate it (e.g. which feature of a
        refused request was the one refused): once, not at every shrinking step, so it
        costs a few requests per failure, not per shrink."""
        key = key or request_key

        def example(value):
            if self.cannot is not None:
                return                                   # the target stopped answering: judge nothing more
            body = prepare(value) if prepare else value
            assume(body is not None)                     # prepare rejected it: it says nothing
            outcome = self._judged(key(body), value, body, judge)
            if outcome is not None and outcome.violations:
                v = outcome.violations[0]
                raise type(v)(v.rule, v.expected, v.actual, v.where, v.exchange, v.origin)

        for value in explicit:                          # an Invalid carries its body
            self._explicit.add(key(getattr(value, "body", value)))
        found: list[Violation] = []
        self._client = Client(self.target, observe=self._observe, breaker=self.breaker)
        try:
            found = self._hypothesis(strategy, example, explicit)
            if refine is not None and found:
                found = [self._refined(refine, v) for v in found]
        finally:
            self._client.close()
        self._finish(found)

    def _judged(self, k: str, value, body, judge: Callable) -> "Outcome | None":
        """The outcome of one request: from the cache (never sent twice), or sent and judged
        now; None when not judged (the request cap is reached, or the target stopped)."""
        outcome = self.cache.get(k)
        if outcome is not None:
            return outcome
        if self.sent >= self.max_requests:
            self.capped = True
            return None
        try:
            found = judge(value, body, self.send)
        except CannotJudge as exc:
            self.cannot = self.cannot or exc
            return None
        found = [found] if isinstance(found, Violation) else list(found or ())
        outcome = self.cache[k] = Outcome([typed(v) for v in found])
        if outcome.violations and outcome.violations[0].exchange is not None:
            self._by_exchange[id(outcome.violations[0].exchange)] = outcome
        return outcome

    def _hypothesis(self, strategy, example: Callable, explicit) -> list[Violation]:
        inner = given(strategy)(example)
        for value in reversed(list(explicit)):
            inner = hypothesis_example(value)(inner)
        if self.forced_seed is None:
            inner = hypothesis_seed(DEFAULT_SEED)(inner)
        inner = self.settings()(inner)
        try:
            with fixed_constants():
                inner()
        except Violation as v:
            return [v]
        except _ExceptionGroup as group:          # several rules broken: hypothesis reports each
            found = [e for e in _flatten(group) if isinstance(e, Violation)]
            if len(found) != len(list(_flatten(group))):
                raise
            return found
        except Exception as exc:                     # noqa: BLE001
            # hypothesis itself gave up (e.g. an internal error while shrinking): a fault
            # already seen is still a fault; report the smallest failing request seen.
            found = self._smallest_failure()
            if not found:
                raise
            self.note("PROPERTY", f"hypothesis stopped with {type(exc).__name__}: {exc}; the failing request "
                                  "shown is the smallest one seen, not a fully shrunk one")
            return found
        return []

    def _refined(self, refine: Callable, v: Violation) -> Violation:
        try:
            better = refine(v, self.send)
        except CannotJudge:
            return v                                     # the experiment could not run: keep the guess
        if better is None:
            return v
        same = self._by_exchange.pop(id(v.exchange), None) if v.exchange is not None else None
        better = typed(better)
        if same is not None:
            self._by_exchange[id(better.exchange)] = Outcome([better] + same.violations[1:])
        return better

    def _smallest_failure(self) -> list[Violation]:
        def size(o: Outcome) -> int:
            ex = o.violations[0].exchange
            return len(ex.request_body or b"") if ex is not None else 1 << 30
        failing = [o for o in self.cache.values() if o.violations]
        if not failing:
            return []
        v = min(failing, key=size).violations[0]
        return [type(v)(v.rule, v.expected, v.actual, v.where, v.exchange, v.origin)]

    def _finish(self, found: list[Violation]) -> None:
        if self.capped:
            self.note("PROPERTY", f"stopped after {self.sent} requests (max_requests): the failing example shown may not be minimal")
        for v in found:
            self.report(v)
        if self.recorder is not None:
            for n in self.notes.values():
                self.recorder.notes.append(n)
            evidence = [v.exchange for v in found if v.exchange is not None]
            rest = [ex for ex in self.recorder.exchanges if all(ex is not e for e in evidence)]
            self.recorder.exchanges[:] = evidence + rest      # the failing exchanges first (results.json keeps 20)
            for v in found[1:]:
                self.recorder.add(v)
            for v in found:                           # what else the same answer broke
                same = self._by_exchange.get(id(v.exchange)) if v.exchange is not None else None
                for other in (same.violations[1:] if same else ()):
                    self.recorder.add(other)
        if found:
            first = found[0]
            raise first.with_traceback(None)
        if self.cannot is not None:
            raise self.cannot

    # -- failure reports ----------------------------------------------------------------------
    def report(self, v: Violation) -> str:
        """Print (captured by pytest, shown with the failure) and note the minimal request,
        its curl and the seed that replays it."""
        body = v.exchange.request_json if v.exchange is not None else None
        boundary = body is not None and json.dumps(body, sort_keys=True, ensure_ascii=False, default=str) in self._explicit
        text = failure_report(v, self.seed, self.replay_hint, boundary)
        print(text)
        self.note(v.rule, text)
        return text


def failure_report(v: Violation, seed: Any, replay_hint: str = "", boundary: bool = False) -> str:
    ex = v.exchange
    lines = [f"chatconform property failure: {v.headline()}"]
    if ex is not None:
        body = ex.request_json
        pretty = json.dumps(body, indent=2, ensure_ascii=False) if body is not None else repr(ex.request_body)
        how = "a boundary example: one edge away from the plainest request" if boundary else "shrunk by hypothesis"
        lines.append(f"minimal request ({how}; seed {seed}):")
        lines += ["  " + line for line in pretty.splitlines()]
        lines.append(f"answer: HTTP {ex.status} {ex.headers.get('content-type', '')} {short(_answer_text(ex), 200)}")
        lines.append(f"reproduce: {ex.curl()}")
    lines.append(f"replay: {replay_hint or 'rerun the test'} --hypothesis-seed={seed}")
    return redact.text("\n".join(lines))


def _answer_text(ex: Exchange) -> str:
    return ex.body[:400].decode("utf-8", "replace")


def request_key(body: Any) -> str:
    """The default identity of a request: answers are cached by it."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


try:
    _ExceptionGroup = BaseExceptionGroup
except NameError:                                   # Python 3.10: hypothesis brings the backport
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup


def _flatten(group):
    for e in group.exceptions:
        if isinstance(e, _ExceptionGroup):
            yield from _flatten(e)
        else:
            yield e
