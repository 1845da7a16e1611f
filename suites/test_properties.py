"""Properties (hypothesis): generated requests, sent with their intent; the observer judges.

* Valid requests (chatconform.strategies.valid_requests: valid by schemas/request.schema.json,
  by the prose rules, and within what the target claims) are sent with `accept=` the rule
  that makes them acceptable (strategies.attribution.acceptance_rule), and every answer
  passes the observer's checks (response or chunk schema, usage arithmetic,
  completion_tokens <= the limit, choice indexes, stop text absent, tool_choice honoured,
  JSON modes, stream framing).  One test per focus: `core` uses no capability at all, the
  others force one claimed capability in and mix the other claimed ones at random.
* Boundary examples (chatconform.strategies.boundaries: one edge per request, e.g.
  temperature 2, top_p 0, seed -2**63, 4 stop strings, a token limit in the thousands;
  just outside each edge for the invalid ones) run first in every test, then the
  generated ones.
* Invalid requests (chatconform.strategies.invalid_requests: one thing broken) are sent
  with `refuse=` the rule that says a server must refuse what was broken (the request
  schema's refusal attribution, or the prose rule), recomputed on the final, shrunk request.
* Relations between two requests (metamorphic): one more message means more prompt
  tokens; a stream with n > 1 reports the usage of every choice (checks/relations.py).

Every rule broken is reported with its own minimal request, printed as JSON and as curl,
with the seed that replays it (`--hypothesis-seed`); see chatconform/strategies/harness.py
for seeds, the per-target example database and the request cap.  The smoke budget skips
these tests; standard runs 25 examples per test, thorough 200.
"""

from __future__ import annotations

import pytest

from chatconform import probes, rules
from chatconform import strategies as S
from chatconform.plugin.options import TARGET_OPTIONS
from chatconform.strategies.cases import INVALID_KINDS, RELATIONS, Case, build, invalid_pool
from chatconform.strategies.harness import PropertyRun, database_dir

pytestmark = [pytest.mark.area("properties"), pytest.mark.property]

# The valid-request property test of each focus cites the rules whose catalogue entry
# names that focus under `properties:` (chatconform/rules.yaml): adding a rule there is
# the one place to say which generated requests exercise it.
FOCUS_RULES = {
    focus: tuple(r.id for r in rules.catalogue().values() if focus in r.properties and not r.retired)
    for focus in S.FOCUSES
}


def _valid_param(focus: str):
    marks = [pytest.mark.rules(*FOCUS_RULES[focus])]
    marks += [pytest.mark.needs(focus)] if focus != "core" else []
    return pytest.param(focus, marks=marks, id=focus)


def _invalid_rules(name: str) -> tuple[str, ...]:
    rules = []
    for m in invalid_pool(None, name):
        rules += [r for r in m.rules if r not in rules]
    return tuple(rules)


def _invalid_param(name: str):
    cap = INVALID_KINDS[name][1]
    marks = [pytest.mark.rules(*_invalid_rules(name))]
    marks += [pytest.mark.needs(cap)] if cap else []
    return pytest.param(name, marks=marks, id=name)


def _relation_param(name: str):
    rules, caps = RELATIONS[name]
    marks = [pytest.mark.rules(*rules), pytest.mark.property(per_example=2)]  # a pair of requests per example
    return pytest.param(name, marks=marks + [pytest.mark.needs(c) for c in caps], id=name)


# -- the harness, per test ------------------------------------------------------------------------
def _replay_hint(request) -> str:
    args = list(request.config.invocation_params.args)
    keep, i = [], 0
    while i < len(args):
        a = args[i]
        if any(
            a == o or a.startswith(o + "=") for name in TARGET_OPTIONS for o in (f"--{name}", f"--chatconform-{name}")
        ):
            keep.append(a)
            if "=" not in a and i + 1 < len(args):
                keep.append(args[i + 1])
                i += 1
        i += 1
    return " ".join(["python -m pytest", repr(request.node.nodeid)] + keep)


def _run(request, target, budget, recorder, client) -> PropertyRun:
    if budget.examples <= 0:
        pytest.skip("disabled: the budget runs no property examples")
    return PropertyRun(
        target=target,
        examples=budget.examples,
        recorder=recorder,
        nodeid=request.node.nodeid,
        forced_seed=request.config.getoption("hypothesis_seed", None),
        db_dir=database_dir(target),
        breaker=client.breaker,
        replay_hint=_replay_hint(request),
    )


def _generated(body) -> None:
    if not S.is_valid(body):  # a generator bug, not the target's fault: the test errors
        raise RuntimeError(f"the generated request is not valid: {S.invalid_reasons(body)[:2]}")


# -- valid requests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("focus", [_valid_param(f) for f in S.FOCUSES])
def test_valid_requests_are_answered(focus, target, budget, recorder, client, model, request):
    """Every valid request within the claims gets 200, and its answer passes every check."""
    run = _run(request, target, budget, recorder, client)
    profile = S.Profile.of(target, budget)

    def provoke(value, body, probe):
        _generated(body)
        rule, what = S.acceptance_rule(body)
        probe.send(body, label=f"property {focus}: a valid request ({what})", accept=rule)

    built = build(Case("valid", focus), profile)
    run.run(built.strategy, provoke, explicit=built.explicit, baseline=probes.minimal(model, limit=profile.max_tokens))


# -- invalid requests -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [_invalid_param(n) for n in INVALID_KINDS])
def test_invalid_requests_are_refused(name, target, budget, recorder, client, request):
    """A request with one thing broken gets a 4xx error envelope (not 2xx, not 5xx)."""
    run = _run(request, target, budget, recorder, client)
    profile = S.Profile.of(target, budget)
    built = build(Case("invalid", name), profile)
    if not built.pool:
        pytest.skip("not applicable: no mutation of this kind fits the claimed capabilities")
    tolerated = {m.name for m in built.pool if m.tolerated}

    def provoke(inv, body, probe):
        label = f"property invalid {inv.mutation}: {inv.what}"
        if inv.mutation in tolerated:  # refusing or ignoring it are both fine: its own check judges
            probe.send(body, label=label)
            return
        reason = inv.primary()
        probe.send(body, label=f"{label} ({reason.message} at {reason.pointer})", refuse=reason.rule, param=inv.param)

    run.run(built.strategy, provoke, prepare=built.prepare, explicit=built.explicit)


# -- relations between requests ---------------------------------------------------------------------
@pytest.mark.parametrize("name", [_relation_param(n) for n in RELATIONS])
def test_relations_hold(name, target, budget, recorder, client, request):
    """Invariants between two requests (metamorphic): a generated valid request and its
    twin (one more turn; the same request streamed), both accepted, related by a check."""
    run = _run(request, target, budget, recorder, client)
    profile = S.Profile.of(target, budget)
    built = build(Case("relation", name), profile)

    def provoke(pair, body, probe):
        first, second = pair.requests
        _generated(first)
        _generated(second)
        exchanges = [
            probe.send(b, label=f"property {name}: {what}", accept=S.acceptance_rule(b)[0])
            for b, what in ((first, pair.what[0]), (second, pair.what[1]))
        ]
        probe.relate(pair.relation, *exchanges)

    run.run(built.strategy, provoke, prepare=built.prepare, explicit=built.explicit)
