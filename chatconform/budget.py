"""Run budgets: how much a run may send.  `smoke` is a handful of requests for a quick
signal, `standard` is the default full run, `thorough` spends more on property tests.

Caps from targets.yaml (`budget: {requests, output_tokens}`) stop a run cleanly when
spent; the spend is printed at the end of every run.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    name: str
    examples: int                 # hypothesis examples per property
    max_tokens: int               # max_tokens used by generated requests
    smoke_only: bool = False      # run only tests marked smoke


BUDGETS = {
    "smoke": Budget("smoke", examples=0, max_tokens=8, smoke_only=True),
    "standard": Budget("standard", examples=25, max_tokens=16),
    "thorough": Budget("thorough", examples=200, max_tokens=32),
}
