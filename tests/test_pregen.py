"""Examples drawn ahead (chatconform/strategies/pregen.py) and the harness' pass 1.

The speed-up must not change a verdict: the process drawing ahead draws exactly what
the property test would draw itself; pass 1 judges them, several in flight, and merges
what they recorded in example order; a failure hands over to hypothesis (pass 2), which
replays the cached answers and shrinks as without pass 1.
"""
from __future__ import annotations

import json
import os
import pickle
import threading
import time

import pytest

from chatconform import strategies as S
from chatconform.strategies import harness
from chatconform.strategies.cases import Case, all_cases, build
from chatconform.strategies.pregen import Job, Pregenerator, draw_values
from chatconform.targets import Target
from chatconform.violations import Violation

ALL = S.Profile.all("m")
NOWHERE = Target(name="adhoc", base_url="http://127.0.0.1:1/v1", model="m", capabilities=frozenset())
CASES = all_cases()


def _key(body) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


def judged_in_process(case: Case, examples: int, forced_seed=None) -> list:
    """The bodies a property run judges, in order, when everything passes and nothing was
    drawn ahead (what pass 2 would replay).  A forced seed is set the way hypothesis' own
    pytest plugin sets --hypothesis-seed."""
    from hypothesis import core
    built = build(case, ALL)
    seen: list = []
    run = harness.PropertyRun(target=NOWHERE, examples=examples, forced_seed=forced_seed)
    saved = core.global_force_seed
    core.global_force_seed = forced_seed
    try:
        run.run(built.strategy, lambda value, body, send: seen.append(body), prepare=built.prepare)
    finally:
        core.global_force_seed = saved
    return seen


def judged_from(pairs: list) -> list:
    out, keys = [], set()
    for _, body in pairs:
        if body is not None and _key(body) not in keys:
            keys.add(_key(body))
            out.append(body)
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.kind}-{c.name}")
def test_drawn_ahead_is_what_the_test_draws(case):
    """Same case, profile, seed and settings: the values match one for one."""
    assert judged_from(draw_values(case, ALL, 12, harness.DEFAULT_SEED)) == judged_in_process(case, 12)


def test_drawn_ahead_in_another_process_with_a_forced_seed():
    """Across processes (another interpreter, hash seed, set of imported modules) and for
    --hypothesis-seed values."""
    jobs = [Job(Case("valid", "tools"), ALL, 10, 1234), Job(Case("valid", "core"), ALL, 10, 1234),
            Job(Case("invalid", "structure"), ALL, 10, 1234)]
    pre = Pregenerator(jobs)
    try:
        pre.only({Case("valid", "tools"), Case("invalid", "structure")})
        for job in (jobs[0], jobs[2]):
            values = pre.values(job.case)
            assert values is not None, "the drawing process gave nothing"
            assert judged_from(values) == judged_in_process(job.case, 10, forced_seed=1234)
        assert pre.values(Case("valid", "vision")) is None                      # not a job
        assert not (pre.dir / "1.pickle").exists(), "a case that does not run was drawn"
    finally:
        pre.stop()
    assert not pre.dir.exists() and all(p.poll() is not None for p in pre.procs)


def test_a_dead_drawing_process_means_the_test_draws_itself():
    pre = Pregenerator([Job(Case("valid", "core"), ALL, 200, 0)])
    for p in pre.procs:
        p.kill()
        p.wait()
    t = time.monotonic()
    assert pre.values(Case("valid", "core")) is None
    assert time.monotonic() - t < 5
    pre.stop()


def test_two_drawing_processes_draw_each_job_once_from_both_ends(tmp_path, monkeypatch):
    """One draws forward from the first job, the other backward from the last; a claim
    file (O_EXCL) keeps them from drawing the same job, and the values are the same."""
    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))       # nothing cached: both draw
    cases = [Case("valid", "core"), Case("valid", "n"), Case("invalid", "values"), Case("invalid", "dependencies")]
    pre = Pregenerator([Job(c, ALL, 6, 0) for c in cases])
    try:
        assert len(pre.procs) == 2
        for case in cases:
            assert judged_from(pre.values(case)) == judged_in_process(case, 6)
        claims = {int((pre.dir / f"{i}.claim").read_text()) for i in range(len(cases))}
        assert claims <= set(pre.pids), (claims, pre.pids)
    finally:
        pre.stop()


def test_a_job_is_claimed_once(tmp_path):
    from chatconform.strategies.pregen import _claim
    assert _claim(tmp_path, 3) is True
    assert _claim(tmp_path, 3) is False
    assert (tmp_path / "3.claim").read_text() == str(os.getpid())


def test_a_job_claimed_by_a_dead_process_is_not_waited_for(tmp_path):
    """The other drawing process lives on, but the one that took the job is gone: the
    test draws itself at once instead of waiting GIVE_UP_S."""
    import subprocess
    import sys
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        pre = Pregenerator.attach({"dir": str(tmp_path), "cases": [["valid", "core"], ["valid", "n"]],
                                   "pids": [alive.pid, dead.pid]})
        (tmp_path / "0.claim").write_text(str(dead.pid))
        t = time.monotonic()
        assert pre.values(Case("valid", "core")) is None
        assert time.monotonic() - t < 5
        # Claimed by the live one (or not yet claimed): waited for, until it writes them.
        (tmp_path / "1.claim").write_text(str(alive.pid))
        threading.Timer(0.3, lambda: (tmp_path / "1.pickle").write_bytes(pickle.dumps([("v", {"b": 1})]))).start()
        assert pre.values(Case("valid", "n")) == [("v", {"b": 1})]
    finally:
        alive.kill()
        alive.wait()


@pytest.fixture(scope="module")
def server():
    from chatconform.reference import start
    srv = start()
    yield Target(name="reference", base_url=srv.base_url, model="m", capabilities=frozenset(),
                 retries={"max": 0, "max_wait": 0})
    srv.stop()


def _judge(run, fail_when=None):
    """A property that sends each request, finishing out of order (the later ones of a
    batch of four wait less), notes what it saw, and fails where `fail_when` says."""
    order: list = []
    finished: list = []
    lock = threading.Lock()

    def judge(value, body, send):
        with lock:
            order.append(_key(body))
            n = len(order)
        time.sleep(0.01 * (3 - n % 4))
        ex, _ = send(body)
        with lock:
            finished.append(_key(body))
        run.note("PROPERTY", f"saw {_key(body)}")
        if fail_when and fail_when(body):
            return Violation("PARAM-010", "HTTP 200", "HTTP 400", "status", ex)
        return None
    judge.order, judge.finished = order, finished
    return judge


def test_pass_one_judges_every_drawn_value_once_and_records_in_example_order(server, monkeypatch):
    from chatconform.observer import Recorder
    case = Case("valid", "core")
    built = build(case, ALL)
    values = draw_values(case, ALL, 25, harness.DEFAULT_SEED)
    rec = Recorder()
    run = harness.PropertyRun(target=server, examples=25, recorder=rec, concurrency=4)
    judge = _judge(run)
    monkeypatch.setattr(run, "_hypothesis", lambda *a: pytest.fail("hypothesis ran although pass 1 found nothing"))
    run.run(built.strategy, judge, explicit=built.explicit, drawn=values)
    expected = [_key(b) for b in judged_from([(v, v) for v in built.explicit] + values)]
    assert sorted(judge.order) == sorted(expected)                                 # each once
    assert judge.finished != expected, "the fake did not finish out of order: nothing shown"
    assert [_key(ex.request_json) for ex in rec.exchanges] == expected           # example order, not finishing order
    assert [n.message for n in rec.notes] == [f"saw {k}" for k in expected][:harness.MAX_NOTES]
    assert run.sent == len(expected)


def test_pass_one_failure_hands_over_to_hypothesis_which_shrinks_it(server):
    """The failure found in pass 1 is the one pass 2 shrinks (same rule, minimal request),
    and pass 1 stops sending once it has one (only those in flight finish)."""
    case = Case("valid", "core")
    values = draw_values(case, ALL, 25, harness.DEFAULT_SEED)
    hot = lambda body: isinstance(body.get("temperature"), (int, float)) and body["temperature"] > 1  # noqa: E731
    first = next(i for i, (_, body) in enumerate(values) if hot(body))
    run = harness.PropertyRun(target=server, examples=25, concurrency=4)
    judge = _judge(run, fail_when=hot)
    with pytest.raises(Violation) as info:
        run.run(build(case, ALL).strategy, judge, drawn=values)
    assert info.value.rule == "PARAM-010"
    body = info.value.exchange.request_json
    assert set(body) - {"model", "messages", "max_tokens", "max_completion_tokens"} == {"temperature"}, body
    bodies = [body for _, body in values]
    pass_one = [_key(b) for b in bodies[:first + 4]]
    assert all(_key(b) in judge.order for b in bodies[:first + 1])
    late = [_key(b) for b in bodies[first + 4:] if _key(b) not in pass_one]
    assert not any(k in judge.order[:first + 4] for k in late), "pass 1 went on sending after the failure"


def test_the_plugin_runs_the_property_tests_last():
    """Collection order: property tests after every other suite test (their examples are
    drawn meanwhile)."""
    import pathlib
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "pytest", "suites", "--co", "-q", "-p", "no:cacheprovider"],
                         capture_output=True, text=True, cwd=str(pathlib.Path(__file__).parents[1]))
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    props = [i for i, line in enumerate(ids) if line.startswith("suites/test_properties.py")]
    assert props and props == list(range(len(ids) - len(props), len(ids))), "property tests not last"


@pytest.mark.selftest_slow
def test_drawing_ahead_changes_no_verdict(tmp_path):
    """The property module against the embedded reference drawing ahead (the default;
    first with an empty cache, then with the cache that run filled, where the answers are
    fetched ahead too), not drawing ahead, and under pytest-xdist (the controller draws,
    two workers read): the same outcomes, the same requests in the same order per test,
    the same notes, the same spend."""
    import pathlib
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[1]
    runs = {}
    for mode, extra in (("on", []), ("warm", []), ("off", []), ("xdist", ["-n", "2"])):
        out = tmp_path / f"{mode}.json"
        env = {**__import__("os").environ, "CHATCONFORM_HYPOTHESIS_DIR": "off", "CHATCONFORM_CACHE_DIR": str(tmp_path / "cache")}
        if mode == "off":
            env["CHATCONFORM_PREGEN"] = "off"
        proc = subprocess.run([sys.executable, "-m", "pytest", "suites/test_properties.py", "-q", "-p", "no:cacheprovider",
                               "--results", str(out), *extra], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:]
        runs[mode] = json.loads(out.read_text())
    off = {t["nodeid"]: t for t in runs["off"]["tests"]}
    for mode in ("on", "warm", "xdist"):
        assert runs[mode]["spend"] == runs["off"]["spend"], mode
        for t in runs[mode]["tests"]:
            o = off[t["nodeid"]]
            assert (t["outcome"], t["requests"], t["notes"]) == (o["outcome"], o["requests"], o["notes"]), (mode, t["nodeid"])
            assert [e["request"]["body"] for e in t["exchanges"]] == [e["request"]["body"] for e in o["exchanges"]], \
                (mode, t["nodeid"])


def test_drawn_examples_are_cached_and_a_torn_entry_is_drawn_again(tmp_path, monkeypatch):
    """A job drawn once is read from the per-user cache next time (no drawing process at
    all); its key holds the job and a digest of the suite's files; a torn entry is drawn
    again."""
    from chatconform.strategies import pregen
    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))
    job = Job(Case("valid", "json_object"), ALL, 8, 0)
    first = Pregenerator([job])
    try:
        drawn = first.values(job.case)
    finally:
        first.stop()
    assert drawn == draw_values(job.case, ALL, 8, 0)
    entry = pregen.cache_file(job)
    assert entry.exists() and entry.parent.parent == tmp_path
    assert pregen.cache_file(Job(job.case, ALL, 9, 0)) != entry          # another job, another entry
    second = Pregenerator([job])
    try:
        assert second.procs == [] and second.values(job.case) == drawn
    finally:
        second.stop()
    entry.write_bytes(b"torn")
    third = Pregenerator([job])
    try:
        assert len(third.procs) == 1 and third.values(job.case) == drawn
    finally:
        third.stop()
    monkeypatch.setattr(pregen, "_tree_digest", lambda: "another version of the suite")
    assert pregen.cache_file(job) != entry


def test_answers_fetched_ahead_carry_no_credential_and_are_the_requests_sent(server, tmp_path, monkeypatch):
    """strategies/fetch.py against the embedded reference: for every request of a case,
    the answer handed back is for that very request, holds no credential (the test's
    Client fills the request side in), and adopting it gives what sending would."""
    import pickle

    from chatconform.client import Client
    from chatconform.strategies import fetch
    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))
    target = Target(name="reference", base_url=server.base_url, model="m", capabilities=frozenset(),
                    api_key="sk-fetch-canary-0123456789", retries={"max": 0, "max_wait": 0})
    case = Case("valid", "core")
    pre = Pregenerator([Job(case, ALL, 6, 0)])
    fetcher = fetch.Fetcher(target, pre, ALL, 3)
    try:
        pairs = [(v, v) for v in build(case, ALL).explicit] + pre.values(case)
        keys = {fetch.key_of(b) for _, b in pairs}
        taken = [fetcher.take(case, body) for _, body in pairs]
        assert all(ex is not None for ex in taken)
        assert {fetch.key_of(ex.request_json) for ex in taken} == keys
        for ex in taken:
            assert ex.request_headers == {} and b"sk-fetch-canary" not in pickle.dumps(ex)
        assert fetcher.take(case, pairs[0][1]) is None                     # each answer once
        assert fetcher.release(case) == []
        adopted = Client(target).adopt(taken[0], "property core")
        sent = Client(target).chat(taken[0].request_json)
        assert adopted.request_headers.keys() == sent.request_headers.keys()
        assert adopted.request_body == sent.request_body and adopted.status == sent.status and adopted.body == sent.body
    finally:
        fetcher.stop()
        pre.stop()
    assert fetcher.proc.poll() is not None


def test_fetching_ahead_is_off_when_spend_is_capped_or_paced():
    from chatconform.strategies import fetch
    assert fetch.allowed(NOWHERE)
    capped = Target(name="t", base_url=NOWHERE.base_url, model="m", capabilities=frozenset(), budget={"requests": 100})
    paced = Target(name="t", base_url=NOWHERE.base_url, model="m", capabilities=frozenset(),
                   rate_limit={"requests_per_minute": 60})
    assert not fetch.allowed(capped) and not fetch.allowed(paced)


def test_hypothesis_storage_is_the_per_user_cache_unless_set(tmp_path):
    """Hypothesis' Unicode table is built once per machine, not once per checkout and
    process; HYPOTHESIS_STORAGE_DIRECTORY, when set, still decides."""
    import subprocess
    import sys
    code = ("import chatconform.strategies; from hypothesis.configuration import storage_directory; "
            "print(storage_directory('unicode_data', intent_to_write=False).path)")
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    env["CHATCONFORM_CACHE_DIR"] = str(tmp_path / "cache")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == str(tmp_path / "cache" / "hypothesis" / "unicode_data"), out.stderr
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == str(tmp_path / "mine" / "unicode_data"), out.stderr
