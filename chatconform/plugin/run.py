"""The Run: what one pytest process knows about the conformance run it takes part in.

One object per process, kept in `config.stash[RUN]` (never a module global): the
target (and the embedded reference server when the suite starts it), the level, the
results book, the breaker shared by every test's client, and the spend ledger shared
by pytest-xdist workers.  Per-test state lives in the item's stash under the keys below.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time

import pytest

from .. import redact
from ..budget import BUDGETS, Budget, Ledger
from ..client import Breaker
from ..observer import Recorder
from ..results import ResultsBook
from ..targets import Target


class Run:
    def __init__(self, config: pytest.Config, target: Target):
        self.config = config
        self.target = target
        self.level: str = config.getoption("chatconform_level")
        self.budget: Budget = BUDGETS[config.getoption("chatconform_budget")]
        examples = config.getoption("chatconform_examples")
        if examples is not None and not self.budget.smoke_only:
            self.budget = dataclasses.replace(self.budget, examples=examples)
        self.book = ResultsBook(target, self.level)
        self.breaker = Breaker()
        self.reference = None
        self.started = time.time()
        self.data: dict | None = None  # results.json, once the session has finished
        self.preflight = None  # guard.py: what the preflight found (a target the suite did not start)
        # Under pytest-xdist the workers share one ledger of the run's spend (budget.py);
        # the controller names the run (xdist.py) and removes the ledger at the end.
        run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") if is_worker(config) else None
        self.ledger = Ledger.for_run(run_id) if run_id else None

    def ensure_running(self) -> Target:
        """The target, with the embedded reference started on first use (in each process)."""
        if self.target.embedded == "reference" and self.reference is None:
            from .. import reference

            key = "sk-chatconform-ref-" + secrets.token_hex(12)
            if self.target.gated:
                # The target declares capabilities its key lacks: the reference gets such a key (dialects.py tiers).
                key = reference.dialects.FREE_KEY_PREFIX + key[3:]
            redact.register(key)
            # A dialect sets the reference's base path too: base_url below comes back with it (002: /api/v1).
            self.reference = reference.start(
                api_key=key if self.target.claims("auth") else None,
                models=(self.target.model,),
                dialect=self.target.dialect,
            )
            self.target.base_url = self.reference.base_url
            self.target.api_key = key if self.target.claims("auth") else None
        return self.target

    def spent_out(self) -> str | None:
        """Which budget (targets.yaml `budget`) the run has spent, if any: this process's
        spend, or under -n N the whole run's (every worker's, from the shared ledger)."""
        budget = self.target.budget or {}
        if not budget:
            return None
        if self.ledger is not None:
            requests, tokens = self.ledger.totals()
        else:
            requests = sum(t.get("requests", 0) for t in self.book.tests)
            tokens = sum(t.get("completion_tokens", 0) for t in self.book.tests)
        if "requests" in budget and requests >= budget["requests"]:
            return f"{requests} requests of {budget['requests']}"
        if "output_tokens" in budget and tokens >= budget["output_tokens"]:
            return f"{tokens} completion tokens of {budget['output_tokens']}"
        return None

    def record(self, rec: dict) -> None:
        """A test's record (judging.py): into the book, and its spend into the shared ledger."""
        self.book.add(rec)
        if self.ledger is not None and (rec.get("requests") or rec.get("completion_tokens")):
            self.ledger.add(rec.get("requests", 0), rec.get("completion_tokens", 0))

    def stop(self) -> None:
        if self.reference is not None:
            self.reference.stop()
            self.reference = None


RUN = pytest.StashKey[Run]()
RECORDER = pytest.StashKey[Recorder]()  # the test's recorder (the `recorder` fixture)
NOT_CLAIMED = pytest.StashKey[list]()  # capabilities a skipped test needed and the target lacks


def run_of(config: pytest.Config) -> Run | None:
    """The Run of an active chatconform session, or None (the plugin is inert)."""
    return config.stash.get(RUN, None)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """This process distributes the tests to pytest-xdist workers and runs none itself."""
    return (
        not is_worker(config)
        and bool(getattr(config.option, "numprocesses", None))
        and getattr(config.option, "dist", "no") != "no"
    )
