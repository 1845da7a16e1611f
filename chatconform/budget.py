"""Run budgets: how much a run may send.  `smoke` is a handful of requests for a quick
signal, `standard` is the default full run, `thorough` spends more on property tests.

Caps from targets.yaml (`budget: {requests, output_tokens}`) stop a run cleanly when
spent, counted over the whole run even under `-n N` (Ledger); the spend is printed at
the end of every run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .sharedfile import state_dir, update


@dataclass(frozen=True)
class Budget:
    name: str
    examples: int  # hypothesis examples per property
    max_tokens: int  # max_tokens used by generated requests
    smoke_only: bool = False  # run only tests marked smoke


BUDGETS = {
    "smoke": Budget("smoke", examples=0, max_tokens=8, smoke_only=True),
    "standard": Budget("standard", examples=25, max_tokens=16),
    "thorough": Budget("thorough", examples=200, max_tokens=32),
}


class Ledger:
    """What a run has spent, shared by its processes: under `-n N`, every pytest-xdist
    worker adds its tests' spend to one file (sharedfile.update) and reads the run's
    total, so the targets.yaml caps hold for the run as a whole, whatever share of the
    tests each worker gets.  As in a serial run, the test that crosses the cap finishes
    (one test a worker at most); no further test starts."""

    def __init__(self, path):
        self.path = path

    @classmethod
    def for_run(cls, run_id: str) -> "Ledger":
        return cls(state_dir() / f"spend-{re.sub(r'[^A-Za-z0-9]', '', run_id)[:64]}.json")

    def _change(self, requests: int, tokens: int):
        def change(raw: bytes) -> bytes:
            try:
                spent = json.loads(raw.decode() or "{}")
                r, t = int(spent.get("requests", 0)), int(spent.get("completion_tokens", 0))
            except (ValueError, AttributeError):
                r, t = 0, 0  # a torn or foreign file: count afresh
            return json.dumps({"requests": r + requests, "completion_tokens": t + tokens}).encode()

        return change

    def add(self, requests: int, tokens: int) -> tuple[int, int]:
        spent = json.loads(update(self.path, self._change(requests, tokens)))
        return spent["requests"], spent["completion_tokens"]

    def totals(self) -> tuple[int, int]:
        return self.add(0, 0)

    def remove(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass
