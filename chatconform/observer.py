"""Per-test record of every exchange, of what the checks found in them, and of which
rules they judged (a rule is passed only where a check judged it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import checks
from .client import Exchange
from .violations import Note, Violation


# Besides the rule a test names with `accept=`, what else makes an answer unusable as the
# premise of the test's other rules: a streamed request answered with something that is
# not an event stream.
PREMISE_RULES = ("HTTP-005",)


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    completion_tokens: int = 0
    judged: dict[str, int] = field(default_factory=dict)  # rule -> exchanges that judged it
    unjudged: dict[str, str] = field(default_factory=dict)  # rule -> why an exchange could not judge it
    refused_premises: list[Violation] = field(default_factory=list)  # accept-intents the server refused

    def observe(self, ex: Exchange) -> None:
        """Called by the client for EVERY exchange, before the test sees it."""
        self.exchanges.append(ex)
        found = checks.run(ex)
        self._take(found)
        if ex.intent is not None and ex.intent.kind == "accept":
            self.refused_premises += [v for v in found.violations if v.rule in (ex.intent.rule, *PREMISE_RULES)]
        self.completion_tokens += _completion_tokens(ex)

    def relate(self, name: str, *exchanges: Exchange) -> None:
        """Judge a registered relation between exchanges this test made (checks.relation)."""
        self._take(checks.relate(name, *exchanges))

    def _take(self, found) -> None:
        for v in found.violations:
            self.add(v)
        self.notes.extend(found.notes)
        for rule in found.judged:
            self.judged[rule] = self.judged.get(rule, 0) + 1
        for rule, why in found.unjudged.items():
            self.unjudged.setdefault(rule, why)

    def merge(self, other: "Recorder") -> None:
        """Take in what another recorder saw (a property test's per-example recorders)."""
        self.exchanges.extend(other.exchanges)
        self.completion_tokens += other.completion_tokens
        for rule, n in other.judged.items():
            self.judged[rule] = self.judged.get(rule, 0) + n
        for rule, why in other.unjudged.items():
            self.unjudged.setdefault(rule, why)

    def add(self, v: Violation) -> None:
        if v.exchange is None and self.exchanges:
            v.exchange = self.exchanges[-1]
        if all(v.key() != o.key() for o in self.violations):
            self.violations.append(v)

    def note(self, rule: str, message: str) -> None:
        self.notes.append(Note(rule, message))

    def was_judged(self, rule: str) -> bool:
        """Whether a check judged `rule` on one of this test's exchanges (met or broken)."""
        return rule in self.judged or any(v.rule == rule for v in self.violations)


def _completion_tokens(ex: Exchange) -> int:
    usage = None
    if isinstance(ex.json, dict):
        usage = ex.json.get("usage")
    elif ex.is_stream:
        for chunk in reversed(ex.chunks):
            if isinstance(chunk.get("usage"), dict):
                usage = chunk["usage"]
                break
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        return max(0, usage["completion_tokens"])
    return 0
