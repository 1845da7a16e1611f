"""Failures are values: a Violation names the rule, what was expected and what came back.

Reporters render these fields; nothing downstream parses a message string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Violation(AssertionError):
    """The target broke `rule`. Raised by checks, collected by the observer."""

    rule: str
    expected: str
    actual: str
    where: str = ""  # JSON pointer or place in the exchange ("/choices/0/finish_reason")
    exchange: Any = field(default=None, repr=False, compare=False)  # the Exchange it was seen in
    origin: str = field(default="test", compare=False)  # "check" (observer) or "test" (the test body)

    def __post_init__(self) -> None:
        AssertionError.__init__(self, self.headline())

    def headline(self) -> str:
        from . import redact  # a second line of defence: no secret in any message

        at = f" at {self.where}" if self.where else ""
        return redact.text(f"{self.rule}{at}: expected {self.expected}; got {self.actual}")

    def key(self) -> tuple:
        # Two checks that see the same fault at the same place report it once.
        return (self.rule, self.where, self.expected)


class CannotJudge(Exception):
    """The suite could not judge (connection refused, timeout, 429/5xx left after retries).

    Reported as outcome `error`, apart from failures: it says nothing about conformance.
    """

    def __init__(self, reason: str, exchange: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.exchange = exchange


class NotJudged(Exception):
    """A check could not judge its rule(s) on this exchange: the situation the rule is
    about is absent (no tool call to inspect) or the answer cannot show it (cut by the
    token limit).  Raised or yielded by a check; `rules` empty means all of its rules.
    Counted neither as pass nor as fail: a rule no exchange judged is "not exercised"."""

    def __init__(self, reason: str, rules: tuple[str, ...] | list[str] = ()):
        super().__init__(reason)
        self.reason = reason
        self.rules = tuple(rules)


@dataclass(frozen=True)
class Intent:
    """What a suite test declares about a request it sends (never how to judge it):
    `accept`: the request is valid and `rule` says the server must answer it (200);
    `refuse`: the request is invalid and `rule` says it must be refused (a 4xx, the
    statuses the catalogue names for the rule), with the error naming `param` if given.
    The registered checks (checks/intent.py) judge both."""

    kind: str  # "accept" or "refuse"
    rule: str
    param: str | None = None


class UsageError(Exception):
    """Bad input to the suite itself (targets.yaml, options): one message, exit status 4."""


@dataclass
class Note:
    """Information that never fails a run: model-dependent observations, dialect records."""

    rule: str
    message: str


def short(value: Any, limit: int = 160) -> str:
    """A compact, bounded rendering of a JSON-ish value for expected/actual lines."""
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
