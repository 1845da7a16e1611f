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
    `.hypothesis/<target name>/` under the repository root (`$CHATCONFORM_HYPOTHESIS_DIR`
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

Two passes.  When the examples were drawn ahead (pregen.py: the same case, seed and
settings, in another process), pass 1 sends them, boundary examples first,
`concurrency` at a time, and judges each as it is answered; what each recorded is
merged in example order.  If none fails, that is the verdict: hypothesis never runs in
the test.  If one fails, pass 1 stops sending (those in flight finish) and pass 2 is
the run described above: hypothesis draws the same examples from the same seed, finds
their answers in the cache (nothing is sent again) up to the failure, and shrinks it.
A failing target may thus receive up to `concurrency - 1` more requests than without
pass 1; the verdict and the shrunk request are the same (tests/test_pregen.py).  The
example database is read in pass 2 only.  When the answers were fetched ahead too
(fetch.py), `send` takes a request's answer from there instead of sending it, and the
answers not needed are recorded on the test unjudged (they were sent).

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
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import example as hypothesis_example
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from .. import redact
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


def database_dir(target, root: str | os.PathLike) -> pathlib.Path | None:
    """`.hypothesis/<target name>` under root; ad hoc targets are named by URL and model."""
    base = os.environ.get(DB_ENV)
    if base and base.strip().lower() in ("off", "none", "0", "false"):
        return None
    name = target.name
    if getattr(target, "source", "") == "command line":     # an ad hoc target: keep URL and model apart
        from urllib.parse import urlsplit
        p = urlsplit(target.base_url)
        name = f"adhoc-{p.hostname}-{p.port or ''}-{target.model}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]
    return pathlib.Path(base or pathlib.Path(root) / ".hypothesis") / name


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Outcome:
    violations: list                           # typed; the first is raised, the others recorded with it


@dataclass
class Sink:
    """What one pass-1 example recorded, held until the examples before it are merged."""
    exchanges: list = field(default_factory=list)
    tokens: int = 0
    notes: list = field(default_factory=list)

    def merge_into(self, run: "PropertyRun") -> None:
        if run.recorder is not None:
            run.recorder.exchanges.extend(self.exchanges)
            run.recorder.completion_tokens += self.tokens
        for rule, message in self.notes:
            run.note(rule, message)


def generation_settings(examples: int, database: ExampleDatabase | None = None) -> settings:
    """The hypothesis settings of every property run, and of pregen.py's drawing (which
    must draw what the run would: same settings, same seed)."""
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
    concurrency: int = 1                      # pass 1: how many drawn examples may be in flight at once
    ahead: Any = None                         # answers fetched ahead (fetch.py): .take(body), .release()
    cache: dict = field(default_factory=dict)
    sent: int = 0
    capped: bool = False
    cannot: CannotJudge | None = None
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.max_requests is None:
            self.max_requests = max(40, self.examples * 4)
        self._client: Client | None = None
        self._local = threading.local()           # per thread: the example's Recorder, and in pass 1 its Sink
        self._lock = threading.Lock()
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
        rec = Recorder()
        self._local.current = rec
        try:
            early = self.ahead.take(body) if self.ahead is not None and set(kw) <= {"label"} else None
            ex = self._client.adopt(early, kw.get("label", "")) if early is not None else self._client.chat(body, **kw)
        finally:
            self._local.current = None
            with self._lock:
                self.sent += 1
            sink = getattr(self._local, "sink", None)
            if sink is not None:                  # pass 1: kept aside, merged in example order
                sink.exchanges.extend(rec.exchanges)
                sink.tokens += rec.completion_tokens
            elif self.recorder is not None:
                self.recorder.exchanges.extend(rec.exchanges)
                self.recorder.completion_tokens += rec.completion_tokens
        return ex, rec

    def _observe(self, ex: Exchange) -> None:
        current = getattr(self._local, "current", None)
        if current is not None:
            current.observe(ex)

    def note(self, rule: str, message: str) -> None:
        sink = getattr(self._local, "sink", None)
        if sink is not None:
            sink.notes.append((rule, message))
            return
        key = (rule, message)
        if key not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes[key] = Note(rule, message)

    # -- the run ----------------------------------------------------------------------------
    def run(self, strategy, judge: Callable, prepare: Callable | None = None, key: Callable | None = None,
            explicit: list | tuple = (), refine: Callable | None = None, drawn: list | None = None) -> None:
        """Run the property on the `explicit` values first (boundary examples, not shrunk),
        then on values drawn from `strategy`; raise the first violation found.

        `drawn`: (value, body) for the values hypothesis will draw from `strategy` first,
        drawn (and prepared) ahead in another process (pregen.py).  They are sent first,
        `concurrency` at a time (pass 1); if none fails, that is the verdict, and
        hypothesis never runs here.  If one fails, hypothesis runs as without them (pass
        2): the same seed draws the same values, answered from the cache without
        sending, up to the failure, which it then shrinks.

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
            if drawn is not None and self._first_pass(prepared(explicit, prepare) + list(drawn), judge, key):
                found = []
            elif self.cannot is None:
                found = self._hypothesis(strategy, example, explicit)
            if refine is not None and found:
                found = [self._refined(refine, v) for v in found]
        finally:
            if self.ahead is not None and self.recorder is not None:
                # Fetched ahead but not needed (pass 1 stopped at a failure): sent all the same.
                self.recorder.exchanges.extend(self._client.adopt(ex, "property (fetched ahead, not needed)", observe=False)
                                               for ex in self.ahead.release())
            self._client.close()
        self._finish(found)

    def _judged(self, k: str, value, body, judge: Callable) -> "Outcome | None":
        """The outcome of one request: from the cache (never sent twice), or sent and judged
        now; None when not judged (the request cap is reached, or the target stopped)."""
        outcome = self.cache.get(k)
        if outcome is not None:
            return outcome
        with self._lock:
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

    def _first_pass(self, pairs: list, judge: Callable, key: Callable) -> bool:
        """Send the (value, body) pairs in order, up to `concurrency` in flight, until one
        fails; whether all were judged and none failed.  What each example recorded
        (exchanges, notes) is merged in example order, so a run reads the same whatever
        finished first."""
        todo, seen = [], set()
        for value, body in pairs:
            k = key(body)
            if k not in seen:
                seen.add(k)
                todo.append((k, value, body))
        results: dict[int, tuple] = {}
        failed = False

        def one(k, value, body):
            sink = self._local.sink = Sink()
            try:
                return self._judged(k, value, body, judge), sink
            finally:
                self._local.sink = None

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="chatconform-pass1") as pool:
            pending: dict = {}
            queue = iter(enumerate(todo))
            try:
                while True:
                    while not failed and self.cannot is None and len(pending) < max(1, self.concurrency):
                        item = next(queue, None)
                        if item is None:
                            break
                        pending[pool.submit(one, *item[1])] = item[0]
                    if not pending:
                        break
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        i = pending.pop(f)
                        results[i] = f.result()        # a bug in the property itself raises here
                        outcome = results[i][0]
                        failed = failed or bool(outcome is not None and outcome.violations)
            finally:
                for i in sorted(results):
                    results[i][1].merge_into(self)
        return not failed and self.cannot is None and not self.capped

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
        except BaseExceptionGroup as group:          # several rules broken: hypothesis reports each
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
    """The default identity of a request: answers are cached, and fetched ahead, by it."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


def prepared(values, prepare: Callable | None) -> list[tuple]:
    """(value, body) for the values `prepare` does not reject."""
    pairs = [(v, prepare(v) if prepare else v) for v in values]
    return [(v, body) for v, body in pairs if body is not None]


def _flatten(group):
    for e in group.exceptions:
        if isinstance(e, BaseExceptionGroup):
            yield from _flatten(e)
        else:
            yield e
