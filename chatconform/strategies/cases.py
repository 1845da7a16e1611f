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
from .boundaries import invalid_boundaries, valid_boundaries
from .invalid import Mutation, invalid_requests, mutations
from .requests import FOCUSES, Profile, valid_requests

INVALID_KINDS = {   # case name -> (mutation kinds, capability needed)
    "values": (("wrong-type", "out-of-range"), None),
    "structure": (("missing-required", "empty-arrays", "content-wrong-type", "unknown-enum"), None),
    "dependencies": (("stop-count", "top-logprobs-without-logprobs"), None),
    "streaming": (("stream-options-without-stream",), "streaming"),
    "tools": (("tools",), "tools"),
    "vision": (("media",), "vision"),
    "audio": (("media",), "audio"),
}


@dataclass(frozen=True)
class Case:
    kind: str                 # "valid" or "invalid"
    name: str                 # a focus (valid) or an INVALID_KINDS key (invalid)


@dataclass
class Built:
    strategy: Any
    prepare: Callable | None  # value -> request body, or None: the value says nothing, skip it
    explicit: list            # boundary examples, run before the drawn ones
    pool: list                # the mutations drawn from (invalid cases)


def all_cases() -> list[Case]:
    """Every case, in the order suites/test_properties.py runs them."""
    return [Case("valid", f) for f in FOCUSES] + [Case("invalid", n) for n in INVALID_KINDS]


def needs(case: Case) -> tuple[str, ...]:
    """The capabilities a case needs the target to claim."""
    if case.kind == "valid":
        return () if case.name == "core" else (case.name,)
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
    raise ValueError(f"unknown case kind {case.kind!r}")
