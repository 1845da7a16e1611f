"""The rule catalogue: data in rules.yaml, indexed here. One source of truth for IDs."""

from __future__ import annotations

import functools
import pathlib
from dataclasses import dataclass

from . import yamlio

CATALOGUE = pathlib.Path(__file__).with_name("rules.yaml")
LEVELS = ("MUST", "SHOULD", "MAY")


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    kind: str
    area: str
    profile: str
    capability: str | None
    text: str
    citation: dict
    check: str = ""
    retired: bool = False
    statuses: tuple[int, ...] = ()  # for a rule that says "refused with ...": the statuses it names
    no_defect: str = ""  # why no defect of a server can break this rule (lint: every rule has a defect or this)
    properties: tuple[str, ...] = ()  # the valid-request property tests (by focus) that exercise it

    def __post_init__(self):
        object.__setattr__(self, "statuses", tuple(self.statuses or ()))
        object.__setattr__(self, "properties", tuple(self.properties or ()))

    @property
    def spec_pointer(self) -> str | None:
        return self.citation.get("spec")


@functools.lru_cache(maxsize=None)
def catalogue() -> dict[str, Rule]:
    data = yamlio.load(CATALOGUE.read_text(encoding="utf-8"))
    rules: dict[str, Rule] = {}
    for entry in data["rules"]:
        rule = Rule(**entry)
        if rule.id in rules:
            raise ValueError(f"duplicate rule id {rule.id} in {CATALOGUE}")
        rules[rule.id] = rule
    return rules


def get(rule_id: str) -> Rule:
    try:
        return catalogue()[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r} (not in {CATALOGUE.name})") from None


def profiles() -> list[str]:
    seen: list[str] = []
    for rule in catalogue().values():
        if rule.profile not in seen:
            seen.append(rule.profile)
    return seen
