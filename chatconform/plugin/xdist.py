"""pytest-xdist wiring: how a run's tests are spread over worker processes.

Workers each run their share of the tests against the same target (each starts its
own embedded reference when that is the target); the controller collects their
reports and prints the verdict (summary.py).  The spend ledger that keeps budget caps
whole across workers is named here, by the run's id.
"""
from __future__ import annotations

import os
import uuid

import pytest

from ..budget import Ledger
from .run import is_controller, is_worker, run_of


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if run_of(config) is None or not is_controller(config):
        return
    if getattr(config.option, "dist", None) == "load" and not _dist_given(config):
        # xdist's default hands out contiguous chunks, so the long property tests tend to
        # land on one worker; work stealing balances them.
        config.option.dist = "worksteal"
    if getattr(config.option, "testrunuid", "unset") is None:
        # Name the run for xdist (it would draw the same kind of id itself) so that this
        # controller knows which spend ledger its workers share, and can remove it.
        config.option.testrunuid = uuid.uuid4().hex


def _dist_given(config: pytest.Config) -> bool:
    """Whether --dist was chosen anywhere: the command line, addopts or PYTEST_ADDOPTS."""
    args = [*map(str, config.invocation_params.args), *config.getini("addopts"),
            *os.environ.get("PYTEST_ADDOPTS", "").split()]
    return any(a.startswith("--dist") for a in args)


def pytest_unconfigure(config: pytest.Config) -> None:
    run_id = getattr(config.option, "testrunuid", None)
    if run_id and run_of(config) is not None and not is_worker(config):
        Ledger.for_run(run_id).remove()
