"""The property tests' cases as data: what each one draws, from a name and a Profile.

suites/test_properties.py runs them, and the self-tests build the same cases: the same
name and profile give the same strategy, the same `prepare` (which may reject an
example by returning None) and the same boundary examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import strategies as st

from .attribution import is_valid
from .boundaries import PROMPT, base, invalid_boundaries, valid_boundaries
from .invalid import Mutation, invalid_requests, mutations
from .requests import FOCUSES, Profile, valid_requests

INVALID_KINDS = {  # case name -> (mutation kinds, capability needed)
    "values": (("wrong-type", "out-of-range"), None),
    "structure": (("missing-required", "empty-arrays", "content-wrong-type", "unknown-enum"), None),
    "dependencies": (("stop-count", "top-logprobs-without-logprobs"), None),
    "streaming": (("stream-options-without-stream",), "streaming"),
    "tools": (("tools",), "tools"),
    "vision": (("media",), "vision"),
    "audio": (("media",), "audio"),
}


# Relations between two requests (metamorphic): case name -> (rules, capabilities needed).
# The check of each is registered in chatconform/checks/relations.py.
RELATIONS = {
    "prompt-tokens": (("RESP-018",), ()),
    "stream-usage-n": (("STREAM-018",), ("streaming", "stream_usage", "n")),
}


@dataclass(frozen=True)
class Case:
    kind: str  # "valid", "invalid" or "relation"
    name: str  # a focus (valid), an INVALID_KINDS key (invalid) or a RELATIONS key


@dataclass
class Pair:
    """Two requests whose answers a registered relation compares."""

    relation: str  # the relation's name (checks.RELATIONS)
    requests: tuple  # (first, second)
    what: tuple  # what each one is, for the labels

    @property
    def body(self) -> list:
        return list(self.requests)

    def __repr__(self) -> str:
        import json

        return f"Pair({self.relation}: {json.dumps(self.body, ensure_ascii=False)})"


EXTRA_TURN = [
    {"role": "user", "content": "Hello, I have a question."},
    {"role": "assistant", "content": "Of course. What is it?"},
]


def one_more_turn(body: dict) -> Pair:
    """The request, and the same with one more user/assistant turn after its instructions."""
    msgs = body["messages"]
    at = next((i for i, m in enumerate(msgs) if m.get("role") not in ("system", "developer")), len(msgs))
    more = {**body, "messages": msgs[:at] + EXTRA_TURN + msgs[at:]}
    return Pair("more_messages_more_prompt_tokens", (body, more), ("the request", "with one more turn"))


def streamed_twin(body: dict) -> Pair:
    """A request with n > 1, as a plain answer and as a stream that reports usage."""
    plain = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    return Pair(
        "stream_usage_counts_every_choice",
        (plain, {**plain, "stream": True, "stream_options": {"include_usage": True}}),
        ("plain", "streamed with include_usage"),
    )


@dataclass
class Built:
    strategy: Any
    prepare: Callable | None  # value -> request body, or None: the value says nothing, skip it
    explicit: list  # boundary examples, run before the drawn ones
    pool: list  # the mutations drawn from (invalid cases)


def all_cases() -> list[Case]:
    """Every case, in the order suites/test_properties.py runs them."""
    return (
        [Case("valid", f) for f in FOCUSES]
        + [Case("invalid", n) for n in INVALID_KINDS]
        + [Case("relation", n) for n in RELATIONS]
    )


def needs(case: Case) -> tuple[str, ...]:
    """The capabilities a case needs the target to claim."""
    if case.kind == "valid":
        return () if case.name == "core" else (case.name,)
    if case.kind == "relation":
        return RELATIONS[case.name][1]
    cap = INVALID_KINDS[case.name][1]
    return (cap,) if cap else ()


def invalid_pool(profile: Profile | None, name: str) -> list[Mutation]:
    """The mutations an invalid case draws from (profile None: whatever the claims)."""
    kinds, cap = INVALID_KINDS[name]
    return [m for m in mutations(profile=profile) if m.kind in kinds and (cap is None or cap in m.needs or not m.needs)]


def _still_invalid(inv):
    # Shrinking may have made the request valid again: such an example says nothing.
    # (Validity only: the reasons and their rules are worked out when a failure needs them.)
    return None if is_valid(inv.body) else inv.body


def build(case: Case, profile: Profile) -> Built:
    if case.kind == "valid":
        if case.name not in FOCUSES:
            raise ValueError(f"unknown focus {case.name!r}")
        return Built(valid_requests(profile, case.name), None, valid_boundaries(profile, case.name), [])
    if case.kind == "invalid":
        pool = invalid_pool(profile, case.name)
        if not pool:
            return Built(None, _still_invalid, [], [])
        strategy = st.one_of([invalid_requests(profile, mutation=m.name) for m in pool])
        return Built(strategy, _still_invalid, invalid_boundaries(profile, {m.name for m in pool}), pool)
    if case.kind == "relation":
        if case.name == "prompt-tokens":
            return Built(
                valid_requests(profile, "core").map(one_more_turn),
                _pair_body,
                [
                    one_more_turn(base(profile)),
                    one_more_turn(
                        base(
                            profile,
                            messages=[
                                {"role": "system", "content": "Answer briefly."},
                                {"role": "user", "content": PROMPT},
                            ],
                        )
                    ),
                ],
                [],
            )
        if case.name == "stream-usage-n":
            return Built(
                valid_requests(profile, "n", stream=False).map(streamed_twin),
                _pair_body,
                [streamed_twin(base(profile, n=2, limit=4)), streamed_twin(base(profile, n=profile.max_n, limit=1))],
                [],
            )
        raise ValueError(f"unknown relation {case.name!r}")
    raise ValueError(f"unknown case kind {case.kind!r}")


def _pair_body(pair: Pair) -> list:
    return pair.body
