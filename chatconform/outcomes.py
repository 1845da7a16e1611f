"""The outcomes a test, and a rule, can have: one enum, used everywhere a verdict is named.

Values are the strings results.json carries (schemas/results.schema.json); the enum
is a `str`, so a value compares and serialises as its text.
"""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    PASS = "pass"  # judged, and the target met the rule
    FAIL = "fail"  # the target broke the rule
    ERROR = "error"  # the suite could not judge (connection, timeout, ...)
    KNOWN_DEVIATION = "known-deviation"  # a violation the target's entry declares (xfail)
    WARNING = "warning"  # a SHOULD violation under --level must
    NOT_JUDGED = "not-judged"  # the test could not reach the rule: its premise was refused
    NOT_EXERCISED = "not-exercised"  # the test ran, but nothing it provoked exercised the rule
    NOT_CLAIMED = "not-claimed"  # needs a capability the target does not claim
    NOT_APPLICABLE = "not-applicable"  # the situation the rule is about did not arise
    DISABLED = "disabled"  # turned off by the target's configuration or the budget
    SKIP = "skip"  # skipped for another reason
    UNTESTED = "untested"  # no test of the rule ran

    def __str__(self) -> str:
        return self.value

    def __hash__(self) -> int:
        # As its text: a member and the string results.json holds are the same dict key.
        return hash(self.value)


# Worst first: a rule's outcome over a run is the worst outcome any test gives it.
# A pass in one test outweighs another test that could not reach the rule.
RULE_ORDER = (
    Outcome.FAIL,
    Outcome.ERROR,
    Outcome.KNOWN_DEVIATION,
    Outcome.WARNING,
    Outcome.PASS,
    Outcome.NOT_JUDGED,
    Outcome.NOT_EXERCISED,
    Outcome.NOT_APPLICABLE,
    Outcome.DISABLED,
    Outcome.NOT_CLAIMED,
    Outcome.SKIP,
    Outcome.UNTESTED,
)
RANK = {o: i for i, o in enumerate(RULE_ORDER)}


def skip_outcome(reason: str) -> Outcome:
    """Skips say why: the situation never arose, or the operator turned the test off."""
    reason = reason.lower().removeprefix("skipped: ")
    if reason.startswith("not applicable"):
        return Outcome.NOT_APPLICABLE
    if reason.startswith("disabled"):
        return Outcome.DISABLED
    if reason.startswith("not claimed"):
        return Outcome.NOT_CLAIMED
    return Outcome.SKIP
