"""The request strategies: valid means valid (schema + prose rules + claims), invalid means
exactly one thing broken under the rule its mutation declares, and cost stays bounded."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, seed, settings

from chatconform import rules, schemas
from chatconform import strategies as S
from chatconform.strategies import attribution, harness
from chatconform.targets import CAPABILITIES

MODEL = "m"
ALL = S.Profile.all(MODEL, max_tokens=16)
NONE = S.Profile(model=MODEL, capabilities=frozenset(), max_tokens=16)
EXAMPLES = 40
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def walk(value, path=""):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}/{i}")


def parts(body):
    for m in body["messages"]:
        if isinstance(m.get("content"), list):
            yield from m["content"]


def check_valid(body: dict, profile: S.Profile, generated: bool = True) -> None:
    assert schemas.is_valid("request", body), list(schemas.errors("request", body))[:3]
    assert schemas.validator("request").is_valid(body)
    assert not attribution.prose_errors(body), attribution.prose_errors(body)
    # cost: a small token limit always, n <= 3 (boundary examples: see test_boundary_examples_cost_little)
    limits = [body.get(k) for k in ("max_tokens", "max_completion_tokens") if k in body]
    assert limits and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in limits)
    # the target's token field only; max_tokens only where the target takes it
    assert set(k for k in ("max_tokens", "max_completion_tokens") if k in body) <= set(profile.limit_fields)
    if generated:
        assert max(limits) <= profile.max_tokens
        assert body.get("n") is None or 1 <= body["n"] <= 3
    # JSON: no lone surrogates, UTF-8 encodable, ints stay ints
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    for key in ("n", "seed", "max_tokens", "max_completion_tokens", "top_logprobs"):
        if body.get(key) is not None:
            assert type(body[key]) is int, (key, body[key])
    if isinstance(body.get("stop"), list):
        assert 1 <= len(body["stop"]) <= 4
    # claims: nothing the profile does not claim
    claims = profile.claims
    if not claims("streaming"):
        assert body.get("stream") is not True
    if not claims("stream_usage"):
        assert "stream_options" not in body
    if not claims("tools"):
        assert "tools" not in body and "tool_choice" not in body
        assert not any(m.get("tool_calls") or m.get("role") == "tool" for m in body["messages"])
    if not claims("n"):
        assert "n" not in body
    if not claims("logprobs"):
        assert "logprobs" not in body and "top_logprobs" not in body
    kinds = {p.get("type") for p in parts(body)}
    if not claims("vision"):
        assert "image_url" not in kinds
    if not claims("audio"):
        assert "input_audio" not in kinds
    rf = (body.get("response_format") or {}).get("type")
    if rf in ("json_object", "json_schema"):
        assert claims(rf)
    if rf == "json_object":
        assert any("JSON" in json.dumps(m.get("content"), ensure_ascii=False) for m in body["messages"])


@pytest.mark.parametrize("focus", S.FOCUSES)
def test_valid_requests_validate(focus):
    """Every focus, with every capability claimed: valid by the schema and the prose rules."""
    features = set()

    @SETTINGS
    @given(S.valid_requests(ALL, focus))
    def run(body):
        check_valid(body, ALL)
        if focus == "streaming":
            assert body["stream"] is True
        if focus == "tools":
            assert body["tools"]
        if focus in ("json_object", "json_schema"):
            assert body["response_format"]["type"] == focus
        if focus == "logprobs":
            assert body["logprobs"] is True
        if focus == "n":
            assert 2 <= body["n"] <= 3
        if focus == "vision":
            assert any(p["type"] == "image_url" for p in parts(body))
        if focus == "audio":
            assert any(p["type"] == "input_audio" for p in parts(body))
        features.update(k for k in body if k not in ("model", "messages"))

    run()
    assert {"temperature", "top_p", "seed", "logit_bias"} & features


def test_core_requests_claim_nothing():
    """The core focus uses no capability, even when everything is claimed; and nothing
    unclaimed appears when nothing is claimed."""

    @SETTINGS
    @given(S.valid_requests(ALL, "core"), S.valid_requests(NONE, "core"))
    def run(a, b):
        check_valid(a, NONE)  # judged as if nothing were claimed
        check_valid(b, NONE)

    run()


def test_unclaimed_focus_is_refused_by_profile():
    assert NONE.needs("tools") == ("tools",) and NONE.needs("core") == ()

    @settings(max_examples=1, database=None)
    @given(S.valid_requests(ALL, "telepathy"))
    def run(body):
        pass

    with pytest.raises(ValueError):
        run()


def test_conversation_shapes_cover_the_roles():
    """Over many examples: every role, string and part content, tool round trips, names."""
    seen = set()

    @settings(max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(S.valid_requests(ALL, "tools"))
    def run(body):
        msgs = body["messages"]
        assert msgs[-1]["role"] in ("user", "tool")
        for m in msgs:
            seen.add(m["role"])
            c = m.get("content")
            seen.add(f"{m['role']}:{type(c).__name__}")
            if m.get("tool_calls"):
                seen.add("tool_calls")
            if "name" in m:
                seen.add("name")
            if isinstance(c, list) and any(p.get("type") == "refusal" for p in c):
                seen.add("refusal part")

    with harness.fixed_constants():  # coverage, not luck: the same draws in any process
        run()
    for want in (
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "tool_calls",
        "name",
        "user:str",
        "user:list",
        "assistant:NoneType",
        "tool:list",
        "system:list",
    ):
        assert want in seen, (want, sorted(seen))


def test_text_covers_every_plane_and_never_a_surrogate():
    found = {"astral": False, "combining": False, "empty": False, "long": False}

    @seed(0)
    @settings(max_examples=400, deadline=None, database=None)
    @given(S.texts())
    def run(t):
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in t)
        t.encode("utf-8")
        found["astral"] |= any(ord(c) > 0xFFFF for c in t)
        found["combining"] |= any(0x300 <= ord(c) <= 0x36F for c in t)
        found["empty"] |= t == ""
        found["long"] |= len(t) > 200
        assert len(t) <= 2000

    with harness.fixed_constants():
        run()
    assert all(found.values()), found


def test_numbers_hit_edges_in_both_forms():
    seen = []

    @seed(0)
    @settings(max_examples=200, deadline=None, database=None)
    @given(S.number_in(0, 2))
    def run(x):
        assert 0 <= x <= 2 and not isinstance(x, bool) and math.isfinite(x)
        seen.append(x)

    with harness.fixed_constants():
        run()
    for edge in (0, 2):
        assert any(v == edge and type(v) is int for v in seen), edge
        assert any(v == edge and type(v) is float for v in seen), edge
    assert any(isinstance(v, float) and not v.is_integer() for v in seen)


@pytest.mark.parametrize("strict", [False, True])
def test_generated_json_schemas_are_schemas(strict):
    from jsonschema import Draft202012Validator

    @settings(max_examples=80, deadline=None, database=None)
    @given(S.json_schemas(strict=strict))
    def run(schema):
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        if strict:
            from chatconform import fixtures

            assert fixtures.strict_compatible(schema)

    run()


@pytest.mark.parametrize("focus", S.FOCUSES)
def test_boundary_examples_are_valid_one_edge_requests(focus):
    out = S.valid_boundaries(ALL, focus)
    assert out, focus
    for body in out:
        check_valid(body, ALL, generated=False)


@pytest.mark.parametrize(
    "profile", [ALL, S.Profile.all(MODEL, 16, token_field="max_tokens")], ids=["default", "max_tokens"]
)
def test_boundary_examples_cost_little(profile):
    """The top of a range without blowing the budget: a limit in the thousands only with a
    prompt whose answer is short; n = 128 only with one token each."""
    from chatconform.strategies.boundaries import BIG_LIMIT, SHORT_PROMPT

    for focus in S.FOCUSES:
        for body in S.valid_boundaries(profile, focus):
            check_valid(body, profile, generated=False)
            limit = min(body[k] for k in ("max_tokens", "max_completion_tokens") if k in body)
            n = body.get("n") or 1
            if limit == BIG_LIMIT:
                assert body["messages"] == [{"role": "user", "content": SHORT_PROMPT}] and n == 1, body
            else:
                assert limit <= 64 and limit * n <= 128, body


def test_invalid_boundaries_break_one_thing_under_their_rule():
    names = {m.name for m in S.MUTATIONS}
    out = S.invalid_boundaries(ALL, names)
    assert {i.mutation for i in out} == names
    rules_of = {m.name: m.rules for m in S.MUTATIONS}
    for inv in out:
        primary = inv.primary()
        assert primary is not None and primary.rule in rules_of[inv.mutation], (inv, primary)


# -- invalid requests --------------------------------------------------------------------------------
@pytest.mark.parametrize("mutation", [m.name for m in S.MUTATIONS])
def test_each_mutation_breaks_one_thing_under_its_rule(mutation):
    m = next(x for x in S.MUTATIONS if x.name == mutation)

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(S.invalid_requests(ALL, mutation=mutation))
    def run(inv):
        reasons = S.invalid_reasons(inv.body)
        assert reasons, f"{mutation} left the request valid: {inv!r}"
        primary = inv.primary()
        assert primary.rule in m.rules, (primary, inv)
        # exactly one thing: every reason is at (or caused by) the broken place
        for r in reasons:
            related = (
                r.pointer.startswith(inv.pointer.rstrip("/"))
                or inv.pointer.startswith(r.pointer.rstrip("/") + "/")
                or r.pointer == "/"
                or inv.pointer == "/"
                or r.rule == "TOOL-018"
            )
            assert related, (r, inv.pointer, inv)
        # a lax server that accepts it still generates little
        assert any(
            isinstance(inv.body.get(k), int) and not isinstance(inv.body.get(k), bool) and 1 <= inv.body[k] <= 256
            for k in ("max_tokens", "max_completion_tokens")
        ) or mutation in ("missing-required",)

    run()


def test_mutation_rules_are_catalogue_rules_and_kinds_cover_the_brief():
    cat = rules.catalogue()
    for m in S.MUTATIONS:
        for r in m.rules:
            assert r in cat, (m.name, r)
    names = {m.name for m in S.MUTATIONS}
    for want in (
        "wrong-type",
        "out-of-range",
        "unknown-enum",
        "missing-required",
        "stop-count",
        "tool-choice-without-tools",
        "tool-message-without-id",
        "top-logprobs-without-logprobs",
        "content-wrong-type",
    ):
        assert want in names


def test_invalid_requests_respect_claims():
    """Mutations needing a capability are not drawn without the claim."""
    assert all(not m.needs for m in S.mutations(profile=NONE))
    assert {m.name for m in S.mutations(profile=ALL)} == {m.name for m in S.MUTATIONS}


# -- attribution --------------------------------------------------------------------------------------
BASE = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@pytest.mark.parametrize(
    "extra,rule",
    [
        ({"max_tokens": 0}, "PARAM-003"),
        ({"tool_choice": "required"}, "TOOL-014"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "a"}}],
                "tool_choice": {"type": "function", "function": {"name": "b"}},
            },
            "TOOL-014",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "x", "content": "1"}]},
            "TOOL-018",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}}],
                    },
                    {"role": "user", "content": "x"},
                ]
            },
            "TOOL-018",
        ),
        ({"top_logprobs": 3}, "PARAM-015"),  # dependentSchemas (missed by the fast path)
        ({"stream_options": {"include_usage": True}}, "STREAM-019"),
        ({"temperature": 2.5}, "PARAM-011"),
        ({"temperature": "hot"}, "REQ-004"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "PARAM-006"),
    ],
)
def test_invalid_reasons_attribute(extra, rule):
    body = {**BASE, **extra}
    assert rule in [r.rule for r in S.invalid_reasons(body)]
    assert not S.is_valid(body)


@pytest.mark.parametrize(
    "extra,param,rule",
    [
        ({"temperature": 2}, "temperature", "PARAM-010"),
        ({"temperature": None}, None, "HTTP-007"),
        ({"seed": 1}, None, "PARAM-020"),
        ({"n": 2}, "n", "PARAM-007"),
        (
            {"messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": "hi"}]},
            "messages.[0].role",
            "REQ-006",
        ),
        (
            {
                "messages": [
                    {"role": "system", "content": [{"type": "text", "text": "x"}]},
                    {"role": "user", "content": "hi"},
                ]
            },
            None,
            "REQ-007",
        ),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, None, "CONTENT-001"),
        ({"response_format": {"type": "json_object"}}, "response_format", "PARAM-023"),
        ({"tools": [{"type": "function", "function": {"name": "a"}}]}, None, "TOOL-002"),
        ({}, None, "REQ-001"),
    ],
)
def test_acceptance_rule(extra, param, rule):
    assert S.acceptance_rule({**BASE, **extra}, param)[0] == rule


def test_focus_rules_need_only_their_capability():
    """The rules each property test cites need no capability but its focus'."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "props", pathlib.Path(__file__).parents[1] / "suites" / "test_properties.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cat = rules.catalogue()
    for rule in cat.values():  # the catalogue names only focuses that exist
        assert set(rule.properties) <= set(S.FOCUSES), (rule.id, rule.properties)
    assert all(mod.FOCUS_RULES[f] for f in S.FOCUSES), "a focus whose property test cites no rule"
    for focus, cited in mod.FOCUS_RULES.items():
        for r in cited:
            assert cat[r].capability in (None, None if focus == "core" else focus), (focus, r, cat[r].capability)
    for name, (kinds, cap) in mod.INVALID_KINDS.items():
        for r in mod._invalid_rules(name):
            assert cat[r].capability in (None, cap), (name, r, cat[r].capability)


# -- harness pieces -----------------------------------------------------------------------------------
def test_typed_violations_are_distinct_per_rule():
    from chatconform.violations import Violation

    a = harness.typed(Violation("PARAM-001", "e", "a"))
    b = harness.typed(Violation("PARAM-005", "e", "a"))
    assert isinstance(a, Violation) and type(a) is not type(b)
    assert type(harness.typed(Violation("PARAM-001", "x", "y"))) is type(a)


def test_namespaced_database(tmp_path):
    from hypothesis.database import DirectoryBasedExampleDatabase

    inner = DirectoryBasedExampleDatabase(str(tmp_path))
    a, b = harness.Namespaced(inner, "test_a"), harness.Namespaced(inner, "test_b")
    a.save(b"k", b"v1")
    assert list(a.fetch(b"k")) == [b"v1"] and list(b.fetch(b"k")) == []
    a.delete(b"k", b"v1")
    assert list(a.fetch(b"k")) == []


def test_database_dir(tmp_path, monkeypatch):
    from chatconform.targets import Target

    t = Target(
        name="reference", base_url="http://127.0.0.1:1/v1", model="m", capabilities=frozenset(), source="targets.yaml"
    )
    monkeypatch.delenv(harness.DB_ENV, raising=False)
    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path / "cache"))
    assert harness.database_dir(t) == tmp_path / "cache" / "hypothesis-db" / "reference"
    t2 = Target(name="127.0.0.1:8000", base_url="http://127.0.0.1:8000/v1", model="my/model", capabilities=frozenset())
    assert harness.database_dir(t2).name == "adhoc-127.0.0.1-8000-my_model"
    monkeypatch.setenv(harness.DB_ENV, "off")
    assert harness.database_dir(t) is None
    monkeypatch.setenv(harness.DB_ENV, str(tmp_path / "db"))
    assert harness.database_dir(t) == tmp_path / "db" / "reference"


def test_every_capability_is_known():
    assert set(ALL.capabilities) == set(CAPABILITIES)


# -- differential shapes (no server) ---------------------------------------------------------------
def test_shape_compare_ignores_text_but_not_fields():
    from chatconform import differential
    from tests.helpers import good_response, json_exchange

    a, b = good_response(), good_response()
    b["choices"][0]["message"]["content"] = "a different text entirely"
    assert differential.compare(differential.shape(json_exchange(a)), differential.shape(json_exchange(b))) == []
    del b["usage"]
    rows = differential.compare(differential.shape(json_exchange(a)), differential.shape(json_exchange(b)))
    assert ("/usage", "object", "-") in rows


def test_stream_shape():
    from chatconform import differential
    from tests.helpers import chunk, good_stream_chunks, sse_of, stream_exchange

    good = differential.shape(stream_exchange(sse_of(good_stream_chunks())))
    assert (
        good["stream.role first"] == "yes" and good["stream.[DONE]"] == "yes" and good["stream.content deltas"] == ">0"
    )
    assert good["stream.finish chunk"] == "every choice" and good["stream.usage chunk"] == "absent"
    no_done = differential.shape(stream_exchange(sse_of(good_stream_chunks(), done=False)))
    assert ("stream.[DONE]", "yes", "no") in differential.compare(good, no_done)
    usage = good_stream_chunks() + [
        {**chunk(), "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
    ]
    assert differential.shape(stream_exchange(sse_of(usage)))["stream.usage chunk"] == "last, choices []"


def test_error_param_normalised():
    from chatconform import differential
    from tests.helpers import json_exchange

    env = lambda p: {"error": {"message": "x", "type": "invalid_request_error", "param": p, "code": None}}  # noqa: E731
    a = differential.shape(json_exchange(env("messages.[0].role"), status=400))
    b = differential.shape(json_exchange(env("messages[0].role"), status=400))
    assert differential.compare(a, b) == []


def test_harness_stops_at_an_unreachable_target():
    """Connection refused is CannotJudge (outcome error), after one request, not shrunk."""
    from chatconform.targets import Target
    from chatconform.violations import CannotJudge

    t = Target(
        name="adhoc",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        capabilities=frozenset(),
        retries={"max": 0, "max_wait": 0},
    )
    run = harness.PropertyRun(target=t, examples=5)

    def provoke(value, body, probe):
        probe.send(body, accept="REQ-001")

    with pytest.raises(CannotJudge):
        run.run(S.valid_requests(NONE, "core"), provoke)
    assert run.sent == 1


def test_harness_raises_the_rule_found_and_reports_the_minimal_request(capsys):
    """A fake property failing whenever temperature > 1: the report shows the shrunk request."""
    from chatconform.client import Exchange
    from chatconform.targets import Target
    from chatconform.violations import Violation

    t = Target(name="adhoc", base_url="http://127.0.0.1:1/v1", model="m", capabilities=frozenset())
    run = harness.PropertyRun(target=t, examples=50, replay_hint="python -m pytest x")

    def provoke(value, body, probe):  # a fake observer: a check that fails whenever temperature > 1
        if isinstance(body.get("temperature"), (int, float)) and body["temperature"] > 1:
            ex = Exchange("POST", t.chat_url, {}, json.dumps(body).encode(), body, status=400)
            probe.recorder.add(Violation("PARAM-010", "HTTP 200", "HTTP 400", "status", ex))

    with pytest.raises(Violation) as info:
        run.run(S.valid_requests(NONE, "core"), provoke)
    assert info.value.rule == "PARAM-010" and type(info.value) is not Violation
    body = info.value.exchange.request_json
    assert set(body) - {"model", "messages", "max_tokens", "max_completion_tokens"} == {"temperature"}, body
    out = capsys.readouterr().out
    assert "minimal request (shrunk by hypothesis; seed 0)" in out and "--hypothesis-seed=0" in out
    assert "reproduce: curl " in out


@pytest.mark.parametrize("failing", [False, True])
def test_harness_keeps_the_checks_notes_once_each(failing):
    """The notes checks make on every example (passing ones, and the shrinks of a failure)
    are the test's, one per rule and message, bounded whatever the number of examples;
    a note never fails the run."""
    from chatconform.client import Exchange
    from chatconform.observer import Recorder
    from chatconform.targets import Target
    from chatconform.violations import Violation

    t = Target(name="adhoc", base_url="http://127.0.0.1:1/v1", model="m", capabilities=frozenset())
    rec = Recorder()
    run = harness.PropertyRun(target=t, examples=60, recorder=rec)

    def provoke(value, body, probe):  # a fake observer: notes on every answer, one per request too
        probe.recorder.note("STREAM-019", "stream_options without stream was ignored (a tolerated dialect)")
        probe.recorder.note("HTTP-008", f"unknown field(s) {sorted(body)} tolerated")
        if failing and isinstance(body.get("temperature"), (int, float)) and body["temperature"] > 1:
            ex = Exchange("POST", t.chat_url, {}, json.dumps(body).encode(), body, status=400)
            probe.recorder.add(Violation("PARAM-010", "HTTP 200", "HTTP 400", "status", ex))

    if failing:
        with pytest.raises(Violation) as info:
            run.run(S.valid_requests(NONE, "core"), provoke)
        assert info.value.rule == "PARAM-010"
    else:
        run.run(S.valid_requests(NONE, "core"), provoke)
    keys = [(n.rule, n.message) for n in rec.notes]
    assert len(keys) == len(set(keys)), keys
    assert keys.count(("STREAM-019", "stream_options without stream was ignored (a tolerated dialect)")) == 1
    checks = [k for k in keys if k[0] != "PARAM-010" and k[0] != "PROPERTY"]
    assert len(checks) <= harness.MAX_NOTES, checks
    assert any(r == "PROPERTY" and "left out" in m for r, m in keys), keys  # many distinct HTTP-008 ones
    assert rec.violations == []  # the failure is raised (judging adds it), no note became one


def test_ablations_only_when_the_error_names_no_field():
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
        "logprobs": True,
        "top_logprobs": 2,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "required",
    }
    assert attribution.ablations(body, "tools[0].function") == []  # the error named the field
    variants = {rule: smaller for rule, _, smaller in attribution.ablations(body, None)}
    assert set(variants) == {"PARAM-014", "TOOL-002", "TOOL-010"}  # tool_choice alone, too
    assert "top_logprobs" not in variants["PARAM-014"]  # removed with logprobs
    assert "tool_choice" not in variants["TOOL-002"] and "tools" not in variants["TOOL-002"]
    assert all(attribution.is_valid(b) for b in variants.values())
    assert attribution.ablations({"model": "m", "messages": body["messages"], "max_tokens": 4, "seed": 1}, None) == []


# -- leniency is a refusal rule's failure (issue: leniency graded as a MUST failure) -------------------
P = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 4}


@pytest.mark.parametrize(
    "extra,rule",
    [
        ({"seed": 2**63}, "REQ-004"),  # clamped: not PARAM-020's fault
        ({"seed": -(2**63) - 1}, "REQ-004"),
        ({"stop": 7}, "REQ-004"),  # coerced: not PARAM-004's
        ({"stop": ["a", 7]}, "REQ-004"),
        ({"logit_bias": {"50256": "x"}}, "REQ-004"),  # ignored: not PARAM-012's
        ({"logit_bias": {"hello": 1}}, "PARAM-013"),
        ({"logit_bias": {"1": 101}}, "PARAM-013"),
        ({"logit_bias": "x"}, "REQ-004"),
        ({"messages": [{"role": "user", "content": 5}]}, "REQ-004"),  # not REQ-007's
        ({"messages": [{"role": "system", "content": {"text": "x"}}, {"role": "user", "content": "hi"}]}, "REQ-004"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}, "REQ-010"),  # not REQ-008's
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "refusal", "refusal": "no"}, {"type": "text", "text": "x"}],
                    },
                ]
            },
            "CONTENT-002",
        ),
        ({"top_logprobs": "3", "logprobs": True}, "REQ-004"),  # not PARAM-014's
        ({"logprobs": "yes"}, "REQ-004"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "bad name"}}},
            "PARAM-027",
        ),  # not PARAM-025's
        (
            {"parallel_tool_calls": "yes", "tools": [{"type": "function", "function": {"name": "f"}}]},
            "REQ-004",
        ),  # not TOOL-015's
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "sometimes"},
            "TOOL-014",
        ),  # not TOOL-010's
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                    },
                    {"role": "tool", "content": [{"type": "text", "text": "1"}]},
                ]
            },
            "TOOL-018",
        ),  # not TOOL-016's
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "REQ-004"),  # not STREAM-018's
    ],
)
def test_leniency_is_attributed_to_a_refusal_rule(extra, rule):
    body = {**P, **extra}
    reasons = S.invalid_reasons(body)
    assert rule in [r.rule for r in reasons], reasons
    for r in reasons:
        assert rules.get(r.rule).statuses, f"{r.rule} is no rule about refusing ({r})"


def test_every_refusal_attribution_of_the_request_schema_is_a_refusal_rule():
    """Where the request schema's x-rule names a rule about accepting valid input, an
    x-refuse names the rule under which a server must refuse (the catalogue's `statuses:`)."""
    cat = rules.catalogue()
    bad = []

    def walk(node, path):
        if isinstance(node, dict):
            if "x-rule" in node or "x-refuse" in node:
                r = node.get("x-refuse", node.get("x-rule"))
                if not cat[r].statuses:
                    bad.append(f"{path}: {r}")
            required = {**(node.get("x-rule-required") or {}), **(node.get("x-refuse-required") or {})}
            bad.extend(f"{path} required {p}: {r}" for p, r in required.items() if not cat[r].statuses)
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")

    walk(schemas.load("request"), "")
    assert not bad, bad


def test_intent_rules_cover_what_the_properties_name():
    """The rules the property tests' computed intents may name (the judging lint reads them)."""
    names = attribution.intent_rules()
    for inv in S.invalid_boundaries(ALL, {m.name for m in S.MUTATIONS}):
        assert inv.primary().rule in names, inv
    for focus in S.FOCUSES:
        for body in S.valid_boundaries(ALL, focus):
            assert S.acceptance_rule(body)[0] in names, body
    for m in S.MUTATIONS:
        assert set(m.rules) <= names, m.name


# -- the token field (issue: probes and generated requests respect target.token_field) ----------------
def test_generated_limits_follow_the_targets_token_field():
    """max_tokens only for a target that takes it; then both fields and either alone occur."""
    legacy = S.Profile.all(MODEL, 16, token_field="max_tokens")
    seen = set()

    @SETTINGS
    @given(S.valid_requests(legacy, "core"), S.valid_requests(ALL, "core"))
    def run(old, new):
        assert "max_tokens" not in new and "max_completion_tokens" in new
        seen.add(tuple(k for k in ("max_tokens", "max_completion_tokens") if k in old))

    with harness.fixed_constants():
        run()
    assert ("max_tokens",) in seen and len(seen) >= 2, seen
    assert all("max_tokens" not in b for f in S.FOCUSES for b in S.valid_boundaries(ALL, f))
    assert any("max_tokens" in b for b in S.valid_boundaries(legacy, "core"))


# -- generators reach far (issue: seven in forty input-dependent defects passed) ----------------------
def test_boundaries_reach_the_far_inputs():
    from chatconform.strategies.boundaries import BIG_LIMIT, MANY, LONG_TURNS

    core = S.valid_boundaries(ALL, "core")
    assert any(b.get("max_completion_tokens") == BIG_LIMIT for b in core)
    assert any(len(b["messages"]) == 2 * LONG_TURNS + 1 for b in core)
    assert any(isinstance(m["content"], list) and len(m["content"]) == MANY for b in core for m in b["messages"])
    spanning = [
        s
        for b in core
        for s in (b.get("stop") if isinstance(b.get("stop"), list) else [b.get("stop")])
        if isinstance(s, str) and " " in s.strip(" ") or s == ". "
    ]
    assert len(spanning) >= 8
    assert any(len(b.get("tools", [])) == MANY for b in S.valid_boundaries(ALL, "tools"))
    assert any(b.get("n") == 128 for b in S.valid_boundaries(ALL, "n"))
    assert any(b.get("top_logprobs") == 20 and b.get("stream") for b in S.valid_boundaries(ALL, "logprobs"))
    schemas_ = [b["response_format"]["json_schema"].get("schema") for b in S.valid_boundaries(ALL, "json_schema")]
    text = json.dumps(schemas_)
    assert '"const": 42' in text and "null" in text and '"items": {"type": "array"' in text


def test_invalid_shapes_cover_every_role():
    out = S.invalid_boundaries(ALL, {m.name for m in S.MUTATIONS})
    shapes = {(inv.mutation, inv.what) for inv in out}
    assert any("tool message (list content) without tool_call_id" in w for _, w in shapes)
    assert any(m == "tool-message-shape" for m, _ in shapes)
    roles = {
        inv.body["messages"][int(inv.pointer.split("/")[2])].get("role")
        for inv in out
        if inv.mutation == "content-wrong-type"
    }
    assert {"user", "system", "developer", "assistant"} <= roles, roles
