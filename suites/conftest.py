"""The suites' fixtures: the target, a client bound to it, the test's recorder.

They live here, beside the suites, rather than in the plugin: pytest loads the plugin
in every project chatconform is installed in, and fixtures named `client` or `model`
must not reach tests that are not ours.
"""

from __future__ import annotations

import pytest

from chatconform import probes
from chatconform.budget import Budget
from chatconform.client import Client
from chatconform.observer import Recorder
from chatconform.plugin.run import RECORDER, run_of
from chatconform.targets import Target
from chatconform.violations import UsageError


def _run(config):
    run = run_of(config)
    if run is None:
        raise UsageError("the chatconform plugin is not active in this run (it is disabled with -p no:chatconform?)")
    return run


@pytest.fixture(scope="session")
def target(request) -> Target:
    try:
        return _run(request.config).ensure_running()
    except OSError as exc:
        raise UsageError(f"could not start the embedded reference server: {exc}") from None


@pytest.fixture
def recorder(request) -> Recorder:
    rec = request.node.stash[RECORDER] = Recorder()
    return rec


@pytest.fixture
def client(target, recorder, request):
    observe = recorder.observe
    declared = (target.extensions or {}).get("response")
    if declared:
        # Declared vendor answer fields are judged on every exchange (DIALECT-002, checks/extensions.py).
        from chatconform.checks import extensions

        observe = extensions.observer(observe, recorder, declared)
    c = Client(target, observe=observe, breaker=_run(request.config).breaker)
    yield c
    c.close()


@pytest.fixture
def model(target) -> str:
    """The model id, carrying the token-limit field the target takes (probes.Model)."""
    return probes.Model(target.model, target.token_field or probes.LIMIT_FIELDS[0])


@pytest.fixture(scope="session")
def budget(request) -> Budget:
    return _run(request.config).budget
