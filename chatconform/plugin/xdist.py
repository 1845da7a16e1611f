"""pytest-xdist wiring: the one mechanism that sends requests concurrently.

A run keeps the target's `concurrency` requests in flight (targets.yaml
`rate_limit.concurrency`, `--concurrency N`; default 8, the CPU count for the embedded
reference) by spreading its tests over that many pytest-xdist workers, each sending
its tests' requests one at a time.  Every request still belongs to exactly one test,
whose verdict depends on its own exchanges only.  Workers each run their share against
the same target (each starts its own embedded reference when that is the target); the
controller collects their reports and prints the verdict (summary.py).  Rate limits,
budgets and the breaker hold across workers through shared files (ratelimit.py,
budget.py).  `-n N` on the command line, or `-p no:xdist`, overrides the choice.

Against a slow server a run lasts as long as its busiest worker.  xdist's work stealing
hands each worker a contiguous slice of the collection and lets an idle worker take the
back half of a busy one's queue, but a test already running cannot move.  So the
workers collect the tests in an order made for that: the long property tests spread over
the slices, each slice starting with its longest tests and ending with the one-request
tests that stealing moves about (`balanced`).
"""

from __future__ import annotations

import os
import uuid

import pytest

from ..budget import BUDGETS, Ledger
from ..violations import UsageError
from .items import expected_requests
from .run import is_controller, is_worker, run_of


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before xdist reads -n: choose the workers for an active run that did not."""
    n = workers_wanted(config)
    if n > 1:
        config.option.numprocesses = n
        # xdist turns -n into its worker list in its own tryfirst hook, which may have
        # run already (plugins registered later run first): set what it would.
        config.option.tx = ["popen"] * n
        if not _dist_given(config):
            config.option.dist = "worksteal"


def workers_wanted(config: pytest.Config) -> int:
    from .options import asks_for_suites, opt, resolve_target

    if is_worker(config) or not config.pluginmanager.hasplugin("xdist"):
        return 0
    if getattr(config.option, "numprocesses", None) or _dist_given(config):
        return 0  # the user chose
    if config.option.collectonly or opt(config, "plan") or config.getoption("usepdb", False):
        return 0
    if not asks_for_suites(config):
        return 0
    if BUDGETS[opt(config, "budget")].smoke_only:
        return 0  # a handful of requests: workers would cost more than they save
    chosen = opt(config, "concurrency") or os.environ.get("CHATCONFORM_CONCURRENCY")
    if chosen:
        try:
            return int(chosen)
        except ValueError:
            return 0  # pytest_configure is no place to argue about an env var
    try:
        return resolve_target(config).concurrency
    except UsageError:
        return 0  # pytest_configure reports it


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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On each worker, after every selection: the same order on all of them (xdist checks)."""
    run = run_of(config)
    if run is None or not is_worker(config) or config.workerinput.get("chatconform_dist") != "worksteal":
        return
    workers = config.workerinput["workercount"]
    items[:] = balanced(items, [expected_requests(i, run.budget.examples) for i in items], workers)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Tell each worker how the controller distributes (a worker's own --dist reads "no")."""
    node.workerinput["chatconform_dist"] = getattr(node.config.option, "dist", None)


def balanced(items: list, costs: list[int], workers: int) -> list:
    """`items` reordered for work stealing over `workers` workers.

    xdist's first hand-out gives worker k the next len(rest) // (workers - k) items.
    Longest first, each test goes to the slice with the least cost so far that still has
    room; each slice runs its longest tests first, and tests of equal cost in a slice keep
    their collection order (the sort is stable).
    """
    sizes, left = [], len(items)
    for k in range(workers):
        sizes.append(left // (workers - k))
        left -= sizes[-1]
    slices: list[list[int]] = [[] for _ in sizes]
    load = [0] * workers
    for i in sorted(range(len(items)), key=lambda i: -costs[i]):
        k = min((k for k in range(workers) if len(slices[k]) < sizes[k]), key=lambda k: load[k])
        slices[k].append(i)
        load[k] += costs[i]
    return [items[i] for s in slices for i in s]


def _dist_given(config: pytest.Config) -> bool:
    """Whether --dist was chosen anywhere: the command line, addopts or PYTEST_ADDOPTS."""
    args = [
        *map(str, config.invocation_params.args),
        *config.getini("addopts"),
        *os.environ.get("PYTEST_ADDOPTS", "").split(),
    ]
    return any(a.startswith("--dist") for a in args)


def pytest_unconfigure(config: pytest.Config) -> None:
    run_id = getattr(config.option, "testrunuid", None)
    if run_id and run_of(config) is not None and not is_worker(config):
        Ledger.for_run(run_id).remove()
