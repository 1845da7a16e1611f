"""Per-test record of every exchange and of every violation the checks found in them."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import checks
from .client import Exchange
from .violations import Note, Violation


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    completion_tokens: int = 0

    def observe(self, ex: Exchange) -> None:
        """Called by the client for EVERY exchange, before the test sees it."""
        self.exchanges.append(ex)
        found, notes = checks.run(ex)
        for v in found:
            self.add(v)
        self.notes.extend(notes)
        self.completion_tokens += _completion_tokens(ex)

    def add(self, v: Violation) -> None:
        if v.exchange is None and self.exchanges:
            v.exchange = self.exchanges[-1]
        if all(v.key() != o.key() for o in self.violations):
            self.violations.append(v)

    def note(self, rule: str, message: str) -> None:
        self.notes.append(Note(rule, message))


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
