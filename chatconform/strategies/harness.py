"""Running a property against a target: hypothesis drives, the observer judges.

The property PROVOKES and the observer JUDGES.  A property sends each drawn request with
its intent (`accept=RULE` for a valid request, the rule that makes it acceptable;
`refuse=RULE, param=...` for an invalid one, the rule that says it must be refused: see
attribution.py); per example, a fresh `Recorder` sees the exchanges and the registered
checks judge every answer (the intent, schemas, usage, limits, stop text, tool_choice,
JSON modes, stream framing; relations between the example's exchanges too).  Which rule a
refusal breaks can depend on what the server says it refused (the error's `param`), so
the harness attributes each answer as it arrives, before the checks run
(attribution.attribute_answer).  What the checks find is RAISED, so hypothesis shrinks
the request to a minimal one; boundary examples (explicit, one edge away from a plain
request) run first and are not shrunk.  Each rule is its own exception class, so a
shrink never trades one rule for another (the minimal request still breaks the rule
reported).

Every rule broken is reported, each with its own minimal example: a search stops at its
first rule (`report_multiple_bugs=False`: hypothesis would look for more only until 10 s
after the first, a wall-clock limit that would make the set of rules reported depend on
the target's speed), and the next search sets the rules found aside, up to MAX_ROUNDS
searches; the cache makes every request of the earlier searches free.  A valid request
refused with an error that names no field is attributed by experiment (the minimal
request sent without each feature in turn); once a refusal of a feature is reported, a
later search counts a refusal as that feature's, not as a new rule's, when the request
without the feature is accepted (`_explained`).

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
non-deterministic model), and once a search has sent `max_requests` requests, its
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
from .attribution import ablations, attribute_answer, error_param, isolations, without_rules

DEFAULT_SEED = 0
DB_ENV = "CHATCONFORM_HYPOTHESIS_DIR"
MAX_NOTES = 20


@contextlib.contextmanager
def fixed_constants():
    """Draw without hypothesis' local constants (see the module docstring)."""
    try:
        from hypothesis.internal.conjecture import providers

        original, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE, providers.Constants()
    except (ImportError, AttributeError):  # another hypothesis version: nothing to switch off
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
    if getattr(target, "source", "") == "command line":  # an ad hoc target: keep URL and model apart
        from urllib.parse import urlsplit

        p = urlsplit(target.base_url)
        name = f"adhoc-{p.hostname}-{p.port or ''}-{target.model}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]
    return (pathlib.Path(base) if base else cache_dir() / "hypothesis-db") / name


# -- the run --------------------------------------------------------------------------------------
MAX_ROUNDS = 6  # searches per test: the first, then one more per rule found (set aside)


@dataclass
class Outcome:
    """One example: the violations the observer's checks found in its exchanges (typed, in
    the order found), and the rules that example broke."""

    violations: list


def generation_settings(examples: int, database: ExampleDatabase | None = None) -> settings:
    """The hypothesis settings of every property run."""
    return settings(
        max_examples=max(1, examples),
        deadline=None,
        database=database,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        derandomize=False,
        print_blob=False,
    )


class Probe:
    """What a property's `provoke(value, body, probe)` sends through: every exchange goes to
    the example's own Recorder, where the registered checks judge it (with the intent it
    was sent with), and relations between the example's exchanges are judged there too."""

    def __init__(self, run: "PropertyRun", recorder: Recorder):
        self.run = run
        self.recorder = recorder

    def send(
        self, body: Any, label: str = "", accept: str | None = None, refuse: str | None = None, param: str | None = None
    ) -> Exchange:
        return self.run.send(self.recorder, body, label=label, accept=accept, refuse=refuse, param=param)

    def relate(self, name: str, *exchanges: Exchange) -> None:
        self.recorder.relate(name, *exchanges)

    def note(self, rule: str, message: str) -> None:
        self.run.note(rule, message)


@dataclass
class PropertyRun:
    """One property test against one target.

    `provoke(value, body, probe)` is the property: it sends the request with
    `probe.send(body, accept=RULE)` or `probe.send(body, refuse=RULE, param=...)` (and may
    relate exchanges, `probe.relate(name, ex1, ex2)`); it judges nothing.  The observer's
    checks judge every exchange; what they find is the example's outcome.  `prepare(value)
    -> body` may return None to reject a value (e.g. no longer invalid after shrinking).
    `baseline`: the plainest request of the target, sent when a refusal must be attributed
    (a server that refuses it too breaks REQ-001, not the feature of the failing request).
    """

    target: Any
    examples: int
    recorder: Recorder | None = None  # the test's recorder: notes, evidence, spend
    nodeid: str = "property"
    forced_seed: Any = None  # --hypothesis-seed, when given
    db_dir: pathlib.Path | None = None
    breaker: Any = None
    max_requests: int | None = None  # per search (see MAX_ROUNDS)
    replay_hint: str = ""  # how to rerun this one test (printed with failures)
    cache: dict = field(default_factory=dict)
    sent: int = 0
    capped: bool = False
    unexplained: bool = False  # a refusal kept its guessed rule: its experiment was past the cap
    cannot: CannotJudge | None = None
    notes: dict = field(default_factory=dict)  # (rule, message) -> Note
    notes_left_out: int = 0

    def __post_init__(self):
        if self.max_requests is None:
            self.max_requests = max(40, self.examples * 4)
        self._client: Client | None = None
        self._current: Recorder | None = None  # the recorder of the example being sent
        self._by_exchange: dict[int, Outcome] = {}
        self._explicit: set[str] = set()
        self._round_start = 0
        self.rounds = 0
        # rules reported for a valid request's refusal, and what the experiments showed
        self._refused_rules: set[str] = set()
        self._aside: set[str] = set()  # rules a search found: the next searches look past them
        self._ablations: dict[int, list] = {}  # id(exchange) -> ablations of its request
        self._without: dict[str, int | None] = {}  # request key -> status of an ablated request

    # -- seeds and settings ------------------------------------------------------------------
    @property
    def seed(self):
        return self.forced_seed if self.forced_seed is not None else DEFAULT_SEED

    def settings(self, search: int = 0) -> settings:
        db = None
        if self.forced_seed is None and self.db_dir is not None:
            # each search its own keys: a failure set aside in a later search would otherwise
            # "no longer fail" there and be deleted from the first search's entries
            space = self.nodeid if search == 0 else f"{self.nodeid}\x00search {search}"
            db = Namespaced(DirectoryBasedExampleDatabase(str(self.db_dir)), space)
        return generation_settings(self.examples, db)

    # -- sending ----------------------------------------------------------------------------
    def send(self, recorder: Recorder, body: Any, **kw) -> Exchange:
        self._current = recorder
        try:
            return self._client.chat(body, **kw)
        finally:
            self._current = None
            self.sent += 1

    def _observe(self, ex: Exchange) -> None:
        if self._current is None:
            return
        ex.intent, label = attribute_answer(ex)
        ex.label = label or ex.label
        self._current.observe(ex)
        self._param_notes(ex)

    def _param_notes(self, ex: Exchange) -> None:
        """What a refusal's error says, as notes: error.param naming the broken field (ERR-003),
        400 the status of an invalid request (ERR-004)."""
        if ex.intent is None or ex.intent.kind != "refuse" or ex.status is None or not 400 <= ex.status < 500:
            return
        got = error_param(ex)
        if ex.intent.param and (got is None or ex.intent.param not in str(got)):
            self.note("ERR-003", f"{ex.label}: error.param {got!r} does not name {ex.intent.param!r}")
        if ex.status != 400:
            self.note("ERR-004", f"{ex.label}: HTTP {ex.status} (400 expected for an invalid request)")

    def note(self, rule: str, message: str, always: bool = False) -> None:
        """A note on the test, once per rule and message however many examples make it.

        At most MAX_NOTES, besides the first note of each rule (a rule whose notes vary per
        example, as ERR-003's name the request, must not crowd out another rule's only
        one) and `always` ones (failure reports, the harness' own): what results.json
        keeps is bounded by the rules, not by the number of examples.  Notes left out
        are counted, and said so when the run ends."""
        key = (rule, message)
        if key in self.notes:
            return
        if always or len(self.notes) < MAX_NOTES or all(r != rule for r, _ in self.notes):
            self.notes[key] = Note(rule, message)
        else:
            self.notes_left_out += 1

    def _merge(self, rec: Recorder) -> None:
        """Take one example's record into the test's: a rule an exchange broke counts through
        its violation (reported with its minimal example), never as judged and met.  The
        notes the checks made on its exchanges are the test's notes whether the example
        passed or not (a tolerated dialect shows on passing examples only); each example is
        merged once, when sent (replays come from the cache), and note() keeps a note made
        again by another example, a shrink of it included, only once."""
        for n in rec.notes:
            self.note(n.rule, n.message)
        if self.recorder is None:
            return
        broken = {v.rule for v in rec.violations}
        self.recorder.exchanges.extend(rec.exchanges)
        self.recorder.completion_tokens += rec.completion_tokens
        for rule, n in rec.judged.items():
            if rule not in broken:
                self.recorder.judged[rule] = self.recorder.judged.get(rule, 0) + n
        for rule, why in rec.unjudged.items():
            self.recorder.unjudged.setdefault(rule, why)

    # -- the run ----------------------------------------------------------------------------
    def run(
        self,
        strategy,
        provoke: Callable,
        prepare: Callable | None = None,
        key: Callable | None = None,
        explicit: list | tuple = (),
        baseline: Any = None,
    ) -> None:
        """Run the property on the `explicit` values first (boundary examples, not shrunk),
        then on values drawn from `strategy`; report each rule broken with its minimal
        example, and raise the first.

        A search stops at the first rule broken (hypothesis shrinks the request that broke
        it); the next search sets the rules found aside, so a server that breaks one rule
        on every answer cannot hide the others.  Answers are cached by request, so the
        next search replays the same draws for free and pays only for what is new.  After
        MAX_ROUNDS searches, any other rule an example broke is reported with the smallest
        request that broke it (not shrunk)."""
        key = key or request_key
        for value in explicit:  # an Invalid carries its body, a Pair its two
            body = getattr(value, "body", value)
            self._explicit.add(key(body))
            if isinstance(body, list):
                self._explicit.update(key(b) for b in body)
        reported: list[list[Violation]] = []  # per rule: its violations on its minimal example
        aside = self._aside = set()
        self._client = Client(self.target, observe=self._observe, breaker=self.breaker)
        try:
            for search in range(MAX_ROUNDS):
                self.rounds = search + 1
                self._round_start = self.sent
                found = self._hypothesis(strategy, self._example(provoke, prepare, key, aside), explicit, search)
                if not found:
                    break
                v = found[0]
                group = self._attributed(v, baseline)
                self._refused_rules.update(x.rule for x in group if _refused_valid(x))
                aside.update(x.rule for x in group)
                # A guess that the experiment blamed on another feature is not set aside: a
                # later real fault of its rule must still be found, and the same refusal
                # met again is _explained by the feature now reported.
                if not (_refused_valid(v) and self._refused_rules & {x.rule for x in group}):
                    aside.add(v.rule)
                if all(any(x.rule == y.rule for g in reported for y in g) for x in group):
                    continue  # the same rule again (attribution): nothing new
                reported.append([x for x in group if all(x.rule != y.rule for g in reported for y in g)])
                if self.cannot is not None:
                    break
            reported += self._unreported(reported, aside, baseline)
        finally:
            self._client.close()
        self._finish(reported)

    def _example(self, provoke: Callable, prepare: Callable | None, key: Callable, aside: set[str]) -> Callable:
        def example(value):
            if self.cannot is not None:
                return  # the target stopped answering: judge nothing more
            body = prepare(value) if prepare else value
            assume(body is not None)  # prepare rejected it: it says nothing
            outcome = self._judged(key(body), value, body, provoke)
            for v in outcome.violations if outcome is not None else ():
                if v.rule in aside or self._explained(v):
                    continue
                if self.cannot is not None:
                    return  # the experiment met a target that stopped answering
                raise type(v)(v.rule, v.expected, v.actual, v.where, v.exchange, v.origin)

        return example

    def _judged(self, k: str, value, body, provoke: Callable) -> "Outcome | None":
        """The outcome of one example: from the cache (never sent twice), or sent and judged
        now; None when not judged (the request cap is reached, or the target stopped)."""
        outcome = self.cache.get(k)
        if outcome is not None:
            return outcome
        if self.sent - self._round_start >= self.max_requests:
            self.capped = True
            return None
        rec = Recorder()
        try:
            provoke(value, body, Probe(self, rec))
        except CannotJudge as exc:
            self.cannot = self.cannot or exc
            return None
        finally:
            self._merge(rec)
        outcome = self.cache[k] = Outcome([typed(v) for v in rec.violations])
        for v in outcome.violations:
            if v.exchange is not None:
                self._by_exchange.setdefault(id(v.exchange), outcome)
        return outcome

    def _hypothesis(self, strategy, example: Callable, explicit, search: int = 0) -> list[Violation]:
        inner = given(strategy)(example)
        for value in reversed(list(explicit)):
            inner = hypothesis_example(value)(inner)
        if self.forced_seed is None:
            inner = hypothesis_seed(DEFAULT_SEED)(inner)
        inner = self.settings(search)(inner)
        try:
            with fixed_constants():
                inner()
        except Violation as v:
            return [v]
        except _ExceptionGroup as group:  # several rules broken: hypothesis reports each
            found = [e for e in _flatten(group) if isinstance(e, Violation)]
            if len(found) != len(list(_flatten(group))):
                raise
            return found
        except Exception as exc:  # noqa: BLE001
            # hypothesis itself gave up (e.g. an internal error while shrinking): a fault
            # already seen is still a fault; report the smallest failing request seen.
            found = self._smallest_failure()
            if not found:
                raise
            self.note(
                "PROPERTY",
                f"hypothesis stopped with {type(exc).__name__}: {exc}; the failing request "
                "shown is the smallest one seen, not a fully shrunk one",
                always=True,
            )
            return found
        return []

    # -- what a failure is reported as ----------------------------------------------------------
    def _same_answer(self, v: Violation) -> list[Violation]:
        """`v` and the other violations of its rule on the same answer(s) of its example."""
        outcome = self._by_exchange.get(id(v.exchange)) if v.exchange is not None else None
        same = [x for x in (outcome.violations if outcome else ()) if x.rule == v.rule]
        return same or [typed(v)]

    def _attributed(self, v: Violation, baseline: Any) -> list[Violation]:
        """The minimal failure `v`, attributed: a valid request refused with an error that
        names no field is the refusal of one of its features (acceptance_rule could only
        guess the first): find which by experiment, once, on the minimal request, and
        send it again with that feature's rule as its intent, for the checks to judge."""
        ex = v.exchange
        if not _refused_valid(v):
            return self._same_answer(v)
        try:
            if baseline is not None and ex.request_json != baseline:
                rec = Recorder()
                base = self.send(rec, baseline, label="property baseline: the plainest request", accept="REQ-001")
                self._merge(rec)
                if base.status != 200:
                    return [typed(x) for x in rec.violations if x.rule == "REQ-001"] or self._same_answer(v)
            for rule, what, smaller in self._ablated(ex):
                if self._status_without(smaller, what) == 200:
                    if rule == v.rule:
                        return self._same_answer(v)
                    rec = Recorder()
                    self.send(
                        rec, ex.request_json, label=f"{what} (the same request without it was accepted)", accept=rule
                    )
                    self._merge(rec)
                    again = [typed(x) for x in rec.violations if x.rule == rule]
                    return again or self._same_answer(v)
            return self._isolated(v)
        except CannotJudge:
            pass  # the experiment could not run: keep the guess
        return self._same_answer(v)

    def _isolated(self, v: Violation) -> list[Violation]:
        """No single removal was accepted: the request holds two or more features the
        server refuses.  Each feature is sent alone (on the plainest request, which the
        control shows accepted), judged under its own rule; those refused alone are the
        fault (a tool_choice only when its tools alone are accepted), the guess only if it
        is one of them.  When every feature alone is accepted, only their combination is
        refused and the guess stands, said in a note."""
        control, alone_each = isolations(v.exchange.request_json, error_param(v.exchange))
        if control is None or self._status_without(control, "every feature") != 200:
            return self._same_answer(v)  # nothing alone can be told apart: the guess stands
        tried = []
        for rule, what, alone, removal, needs in alone_each:
            rec = Recorder()
            ex = self.send(rec, alone, label=f"property attribution: {what} alone", accept=rule)
            self._merge(rec)
            tried.append((rule, removal, needs, ex.status != 200, [typed(x) for x in rec.violations if x.rule == rule]))
        refused = {removal for _, removal, _, no, _ in tried if no}
        found: list[Violation] = []
        for rule, _removal, needs, _, violations in tried:
            if not violations or refused & set(needs) or any(x.rule == rule for x in found):
                continue
            found.extend(self._same_answer(v) if rule == v.rule else violations)
        if not found:
            self.note(
                "PROPERTY",
                f"a valid request was refused with an error naming no field, though each of its "
                f"features alone was accepted: reported under {v.rule}, its first feature, a guess",
                always=True,
            )
            return self._same_answer(v)
        return found

    def _ablated(self, ex: Exchange) -> list:
        if id(ex) not in self._ablations:
            self._ablations[id(ex)] = ablations(ex.request_json, error_param(ex))
        return self._ablations[id(ex)]

    def _status_without(self, smaller: dict, what: str) -> int | None:
        """The status of a refused request sent without one feature (`smaller`): sent once,
        whichever search or attribution asks again.  Raises CannotJudge."""
        k = request_key(smaller)
        if k not in self._without:
            rec = Recorder()
            try:
                self._without[k] = self.send(rec, smaller, label=f"property attribution: without {what}").status
            finally:
                self._merge(rec)
        return self._without[k]

    def _explained(self, v: Violation) -> bool:
        """Whether `v`, a valid request's refusal blamed on a guess (its error names no
        field), is the refusal of features searches already reported: the request without
        all of them is accepted.  The search for other rules meets the same refusal in
        every request that carries such a feature, each time guessed on whatever came along
        (an image part, logprobs); blaming that would report one fault under many rules.
        A refusal that persists without those features is still blamed (another rule may
        be broken too).  No experiment, no explanation: past the request cap, or when the
        target stops answering, the guess stands, as before any rule was found."""
        if not self._refused_rules or self.cannot is not None or not _refused_valid(v):
            return False
        if not self._ablated(v.exchange):
            return False  # the error names the field, or there is one feature: no guess
        smaller = without_rules(v.exchange.request_json, self._refused_rules)
        if smaller is None:
            return False
        if request_key(smaller) not in self._without and self.sent - self._round_start >= self.max_requests:
            self.unexplained = True
            return False
        try:
            return self._status_without(smaller, "the features already reported as refused") == 200
        except CannotJudge as exc:
            self.cannot = self.cannot or exc
            return False

    def _unreported(
        self, reported: list[list[Violation]], aside: set[str], baseline: Any = None
    ) -> list[list[Violation]]:
        """Rules examples broke that no search reported (MAX_ROUNDS reached): each with the
        smallest request that broke it, not shrunk, and attributed as a search's failure is
        (a refused valid request whose error names no field: by experiment), so that the
        guess of its first feature is not reported as found (vLLM's refusal of n > 1 at
        temperature 0 was reported as CONTENT-001 and REQ-009)."""
        done = {v.rule for g in reported for v in g} | aside
        candidates: dict[str, list[Violation]] = {}
        for outcome in self.cache.values():
            for v in outcome.violations:
                if v.rule not in done:
                    candidates.setdefault(v.rule, []).append(v)
        self._round_start = self.sent  # the experiments below get a search's request cap
        best: dict[str, Violation] = {}
        for rule, found in candidates.items():
            # the smallest that is not a reported refusal guessed on a feature that came along
            v = next((x for x in sorted(found, key=_size) if not self._explained(x)), None)
            if v is not None:
                best[rule] = v
        out: list[list[Violation]] = []
        for r in sorted(best):
            group = self._attributed(best[r], baseline) if self.cannot is None else self._same_answer(best[r])
            new = [x for x in group if all(x.rule != y.rule for g in reported + out for y in g)]
            if new:
                out.append(new)
        if out:
            self.note(
                "PROPERTY",
                f"{len(out)} more rule(s) broken after {MAX_ROUNDS} searches: each shown with the "
                "smallest request that broke it, not shrunk",
                always=True,
            )
        return out

    def _smallest_failure(self) -> list[Violation]:
        """The smallest failing example's violation that the search was looking for: not
        of a rule set aside, nor a refusal explained by a feature already reported."""
        found = [v for o in self.cache.values() for v in o.violations if v.rule not in self._aside]
        v = next((x for x in sorted(found, key=_size) if not self._explained(x)), None)
        return [] if v is None else [type(v)(v.rule, v.expected, v.actual, v.where, v.exchange, v.origin)]

    def _finish(self, reported: list[list[Violation]]) -> None:
        if self.capped:
            self.note(
                "PROPERTY",
                f"a search stopped after {self.max_requests} requests (max_requests): "
                "a failing example shown may not be minimal",
                always=True,
            )
        if self.unexplained:
            self.note(
                "PROPERTY",
                f"past {self.max_requests} requests (max_requests), a refusal whose error names no "
                "field was not tried without the features already reported: its rule is a guess",
                always=True,
            )
        if self.notes_left_out:
            self.note(
                "PROPERTY",
                f"{self.notes_left_out} more note(s) left out (at most {MAX_NOTES} besides one per rule)",
                always=True,
            )
        firsts = [g[0] for g in reported if g]
        for v in firsts:
            self.report(v)
        if self.recorder is not None:
            for n in self.notes.values():
                self.recorder.notes.append(n)
            evidence = [v.exchange for v in firsts if v.exchange is not None]
            rest = [ex for ex in self.recorder.exchanges if all(ex is not e for e in evidence)]
            self.recorder.exchanges[:] = evidence + rest  # the failing exchanges first (results.json keeps 20)
            for g in reported:
                for v in g:
                    if v is not firsts[0]:
                        self.recorder.add(v)
        if firsts:
            raise firsts[0].with_traceback(None)
        if self.cannot is not None:
            raise self.cannot

    # -- failure reports ----------------------------------------------------------------------
    def report(self, v: Violation) -> str:
        """Print (captured by pytest, shown with the failure) and note the minimal request,
        its curl and the seed that replays it."""
        body = v.exchange.request_json if v.exchange is not None else None
        boundary = (
            body is not None and json.dumps(body, sort_keys=True, ensure_ascii=False, default=str) in self._explicit
        )
        text = failure_report(v, self.seed, self.replay_hint, boundary)
        print(text)
        self.note(v.rule, text, always=True)
        return text


def _refused_valid(v: Violation) -> bool:
    """`v` is a refusal (any status but 200) of a valid request, under the rule it was sent
    with: a guess when the error names no field (attribution.acceptance_rule)."""
    ex = v.exchange
    return not (
        ex is None
        or ex.intent is None
        or ex.intent.kind != "accept"
        or ex.status in (None, 200)
        or v.rule != ex.intent.rule
        or not isinstance(ex.request_json, dict)
    )


def _size(v: Violation) -> int:
    ex = v.exchange
    return len(ex.request_body or b"") if ex is not None else 1 << 30


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
except NameError:  # Python 3.10: hypothesis brings the backport
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup


def _flatten(group):
    for e in group.exceptions:
        if isinstance(e, _ExceptionGroup):
            yield from _flatten(e)
        else:
            yield e
