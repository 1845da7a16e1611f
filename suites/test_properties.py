"""Properties (hypothesis): generated requests, judged by the observer on every answer.

* Valid requests (chatconform.strategies.valid_requests: valid by schemas/request.schema.json,
  by the prose rules, and within what the target claims) must be answered 200, and every
  answer must pass the observer's checks (response or chunk schema, usage arithmetic,
  completion_tokens <= the limit, choice indexes, stop text absent, tool_choice honoured,
  JSON modes, stream framing).  One test per focus: `core` uses no capability at all, the
  others force one claimed capability in and mix the other claimed ones at random.
* Boundary examples (chatconform.strategies.boundaries: one edge per request, e.g.
  temperature 2, top_p 0, seed -2**63, 4 stop strings; just outside each edge for the
  invalid ones) run first in every test, then the generated ones.
* Invalid requests (chatconform.strategies.invalid_requests: one thing broken) must be
  refused with a 4xx error envelope; the rule is the schema's x-rule attribution of what
  was broken (or the prose rule), recomputed on the final, shrunk request.

A failure is the minimal request hypothesis shrank it to, printed as JSON and as curl,
with the seed that replays it (`--hypothesis-seed`); see chatconform/strategies/harness.py
for seeds, the per-target example database and the request cap.  The smoke budget skips
these tests; standard runs 25 examples per test, thorough 200.
"""
from __future__ import annotations


import pytest

from chatconform import probes
from chatconform import strategies as S
from chatconform.plugin.options import TARGET_OPTIONS
from chatconform.strategies.cases import INVALID_KINDS, Case, build, invalid_pool
from chatconform.strategies.harness import PropertyRun, database_dir
from chatconform.violations import Violation, short

pytestmark = [pytest.mark.area("properties"), pytest.mark.property]

FOCUS_RULES = {
    "core": ("REQ-001", "REQ-005", "REQ-006", "REQ-007", "REQ-008", "REQ-009", "CONTENT-001", "HTTP-007",
             "RESP-001", "RESP-009", "RESP-017", "PARAM-001", "PARAM-002", "PARAM-004", "PARAM-005",
             "PARAM-010", "PARAM-012", "PARAM-020", "PARAM-022"),
    "streaming": ("STREAM-001", "STREAM-002", "STREAM-011", "STREAM-012", "STREAM-016", "STREAM-017",
                  "HTTP-005", "PARAM-001", "PARAM-005"),
    "tools": ("TOOL-001", "TOOL-002", "TOOL-006", "TOOL-010", "TOOL-011", "TOOL-012", "TOOL-013",
              "TOOL-015", "TOOL-016", "TOOL-017"),
    "json_object": ("PARAM-023", "PARAM-024"),
    "json_schema": ("PARAM-025", "PARAM-026"),
    "logprobs": ("PARAM-014", "PARAM-016", "PARAM-017", "PARAM-019"),
    "n": ("PARAM-007", "PARAM-008"),
    "vision": ("VISION-002", "VISION-003", "VISION-005"),
    "audio": ("AUDIO-001",),
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


# -- the harness, per test ------------------------------------------------------------------------
def _replay_hint(request) -> str:
    args = list(request.config.invocation_params.args)
    keep, i = [], 0
    while i < len(args):
        a = args[i]
        if any(a == o or a.startswith(o + "=") for name in TARGET_OPTIONS for o in (f"--{name}", f"--chatconform-{name}")):
            keep.append(a)
            if "=" not in a and i + 1 < len(args):
                keep.append(args[i + 1])
                i += 1
        i += 1
    return " ".join(["python -m pytest", repr(request.node.nodeid)] + keep)


def _run(request, target, budget, recorder, client) -> PropertyRun:
    if budget.examples <= 0:
        pytest.skip("disabled: the budget runs no property examples")
    return PropertyRun(target=target, examples=budget.examples, recorder=recorder, nodeid=request.node.nodeid,
                       forced_seed=request.config.getoption("hypothesis_seed", None),
                       db_dir=database_dir(target),
                       breaker=client.breaker, replay_hint=_replay_hint(request))


def _error_param(ex):
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    return err.get("param") if isinstance(err, dict) else None


def _summary(ex) -> str:
    err = ex.json.get("error") if isinstance(ex.json, dict) else None
    if isinstance(err, dict):
        return f"HTTP {ex.status}: {short(err.get('message'), 120)} (param {err.get('param')!r})"
    if ex.is_stream:
        return f"HTTP {ex.status}: an event stream of {len(ex.chunks)} chunk(s)"
    return f"HTTP {ex.status}: {short(ex.body[:160].decode('utf-8', 'replace'))}"


# -- valid requests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("focus", [_valid_param(f) for f in S.FOCUSES])
def test_valid_requests_are_answered(focus, target, budget, recorder, client, request):
    """Every valid request within the claims gets 200, and its answer passes every check."""
    run = _run(request, target, budget, recorder, client)
    profile = S.Profile.of(target, budget)
    baseline: dict = {}

    def bare_refused(send) -> bool:
        """Whether the plainest request is refused too (then the refusal is REQ-001's)."""
        if "refused" not in baseline:
            ex, _ = send(probes.minimal(target.model, max_tokens=profile.max_tokens), label="property baseline")
            baseline["refused"] = ex.status != 200
        return baseline["refused"]

    def judge(value, body, send):
        ex, rec = send(body, label=f"property {focus}")
        if ex.status != 200:
            if not S.is_valid(body):      # a generator bug, not the target's fault: the test errors
                raise RuntimeError(f"the generated request is not valid: {S.invalid_reasons(body)[:2]}")
            rule, what = S.acceptance_rule(body, _error_param(ex))
            if rule != "REQ-001" and bare_refused(send):
                rule, what = "REQ-001", f"{what}; the plainest request is refused too"
            return [Violation(rule, f"HTTP 200 for a valid request ({what})", _summary(ex), "status", ex)] + rec.violations
        return rec.violations

    def refine(v, send):
        """The error named no field and the request had several features: find the one
        refused by sending the request without each in turn (the first accepted wins)."""
        ex = v.exchange
        if v.rule == "REQ-001" or ex is None or ex.status == 200 or not isinstance(ex.request_json, dict):
            return None
        for rule, what, smaller in S.ablations(ex.request_json, _error_param(ex)):
            probe, _ = send(smaller, label="property attribution")
            if probe.status == 200:
                return Violation(rule, f"HTTP 200 for a valid request ({what}; the same request without it was accepted)",
                                 v.actual, v.where, ex)
        return None

    built = build(Case("valid", focus), profile)
    run.run(built.strategy, judge, explicit=built.explicit, refine=refine)


# -- invalid requests -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [_invalid_param(n) for n in INVALID_KINDS])
def test_invalid_requests_are_refused(name, target, budget, recorder, client, request):
    """A request with one thing broken gets a 4xx error envelope (not 2xx, not 5xx)."""
    run = _run(request, target, budget, recorder, client)
    profile = S.Profile.of(target, budget)
    built = build(Case("invalid", name), profile)
    pool = built.pool
    if not pool:
        pytest.skip("not applicable: no mutation of this kind fits the claimed capabilities")

    tolerated = {m.name: m.tolerated for m in pool if m.tolerated}

    def judge(inv, body, send):
        ex, rec = send(body, label=f"property invalid {inv.mutation}")
        if ex.status == 200 and inv.mutation in tolerated:
            run.note(inv.primary().rule, f"{inv.what}: accepted ({tolerated[inv.mutation]})")
            return rec.violations
        if ex.status is None or not 400 <= ex.status < 500:
            reason = inv.primary()
            if ex.status == 200 and ex.is_stream and _sse_error(ex):
                return Violation("STREAM-023", f"HTTP 4xx with the JSON envelope for an invalid streaming request ({inv.what})",
                                 "HTTP 200 and an error event in the stream", "status", ex)
            return [Violation(reason.rule, f"a 4xx error envelope for an invalid request: {inv.what} "
                              f"({reason.message} at {reason.pointer})", _summary(ex), "status", ex)] + rec.violations
        if rec.violations:
            return rec.violations
        got = _error_param(ex)
        if got is None or inv.param not in str(got):
            run.note("ERR-003", f"{inv.mutation}: error.param {got!r} does not name {inv.param!r} ({inv.what})")
        if ex.status != 400:
            run.note("ERR-004", f"{inv.mutation}: HTTP {ex.status} (400 expected for an invalid request)")
        return None

    run.run(built.strategy, judge, prepare=built.prepare, explicit=built.explicit)


def _sse_error(ex) -> bool:
    """An event carrying an error object (STREAM-024's shape), where a 4xx was due."""
    return any(isinstance(e, dict) and isinstance(e.get("error"), dict) for e in ex.chunks)
