"""The client against hostile servers (tests/hostile.py): every run ends, bounded in time
and memory, with failures or errors that name what happened.

Two levels: the real suite in a subprocess against each hostile mode (as a user runs
it, with a targets file and short timeouts), and the client alone for what needs a
closer look (retries, the breaker, redirects, the rate limit across processes).
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatconform import checks
from chatconform.client import Breaker, Client, Exchange, _server_delay
from chatconform.ratelimit import RateLimiter
from chatconform.targets import Target
from chatconform.violations import CannotJudge

from .hostile import HostileServer

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-hostile-" + "7f3a9c" * 4
TIMEOUTS = {"connect": 2, "read": 3, "total": 8}
RUN_BOUND = 120.0  # seconds any one suite run may take, whatever the server does
RSS_BOUND_MB = 300


@dataclass
class Run:
    rc: int
    elapsed: float
    output: str
    data: dict
    maxrss_mb: float


def run_suite(
    base_url: str,
    tmp: Path,
    *,
    paths=("suites/test_response.py", "suites/test_stream.py"),
    retries: dict | None = None,
    rate_limit: dict | None = None,
    extra=(),
) -> Run:
    """The suite in a subprocess with a targets file; its peak RSS from wait4 (that child only)."""
    target = {
        "base_url": base_url,
        "model": "m",
        "api_key": "${HOSTILE_KEY}",
        "capabilities": ["streaming"],
        "timeouts": TIMEOUTS,
    }
    if retries:
        target["retries"] = retries
    if rate_limit:
        target["rate_limit"] = rate_limit
    targets = tmp / "targets.yaml"
    targets.write_text(json.dumps({"targets": {"hostile": target}}))  # JSON is YAML
    return _run([*paths, "--targets", str(targets), "--target", "hostile", *extra], tmp)


def run_adhoc(base_url: str, tmp: Path, *extra: str, paths=()) -> Run:
    """The whole suite (or `paths`) against an ad hoc target claiming every capability,
    with the default timeouts, as a user first points it at a server."""
    return _run(
        [
            *paths,
            "--base-url",
            base_url,
            "--model",
            "m",
            "--api-key-env",
            "HOSTILE_KEY",
            "--capabilities",
            "all",
            *extra,
        ],
        tmp,
    )


def _run(args: list, tmp: Path) -> Run:
    results = tmp / "results.json"
    cmd = [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider", "--results", str(results)]
    env = {**os.environ, "HOSTILE_KEY": KEY, "CHATCONFORM_RATELIMIT_DIR": str(tmp / "ratelimit")}
    out_path = tmp / "output.txt"
    start = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > RUN_BOUND + 30:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    elapsed = time.monotonic() - start
    data = json.loads(results.read_text()) if results.exists() else {}
    return Run(proc.returncode, elapsed, out_path.read_text(errors="replace"), data, usage.ru_maxrss / 1024)


def explanation(t: dict) -> str:
    return " | ".join(
        [t.get("reason") or ""] + [f"{v['rule']} {v['expected']}: {v['actual']}" for v in t["violations"]]
    )


# mode -> (outcomes allowed, what every test's reason or violations must name)
EXPECT = {
    "hang": ({"error"}, r"timed out after 3\.\ds waiting for the response headers|unresponsive"),
    "headers-only": ({"error"}, r"headers arrived, then the body stalled|unresponsive"),
    "drip": ({"error", "fail"}, r"timeouts\.total|unresponsive"),
    "endless-stream": ({"error", "fail"}, r"timeouts\.total|limits\.max_events|unresponsive"),
    # Three answers cut at the size cap trip the breaker: the tests after them are not judged.
    "huge-body": ({"fail", "error"}, r"limits\.max_body_bytes|cut at a size or event cap"),
    "reset-mid-stream": ({"fail", "error"}, r"reset by peer|connection broken"),
    "invalid-utf8": ({"fail"}, r"(?i)utf-8"),
    "bad-chunked": ({"fail", "error"}, r"illegal chunk header"),
    "429-storm": ({"error"}, r"HTTP 429 \(rate limited\) still returned after 1 retry"),
}
SKIPS = ("not-claimed", "not-applicable", "disabled", "skip")


@pytest.mark.selftest_slow
@pytest.mark.parametrize("mode", sorted(EXPECT))
def test_suite_survives_hostile_server(mode, tmp_path):
    allowed, cause = EXPECT[mode]
    retries = {"max": 1, "max_wait": 2} if mode == "429-storm" else None
    with HostileServer(mode) as srv:
        # No preflight: what happens to the tests themselves (test_hostile_run_ends_within_60s
        # has the preflight, which ends most of these runs before any test).
        run = run_suite(srv.base_url, tmp_path, retries=retries, extra=("--no-preflight",))
    tail = run.output[-3000:]
    print(f"{mode}: {run.elapsed:.1f}s, peak RSS {run.maxrss_mb:.0f} MB, {len(srv.stats.requests)} requests")
    assert run.elapsed < RUN_BOUND, f"{mode}: the run took {run.elapsed:.0f}s\n{tail}"
    assert run.rc == 1, f"{mode}: exit {run.rc}\n{tail}"
    assert "Traceback" not in run.output, tail
    assert KEY not in run.output
    assert run.data, f"{mode}: no results.json\n{tail}"
    tests = [t for t in run.data["tests"] if t["outcome"] not in SKIPS]
    assert len(tests) >= 20, [t["nodeid"] for t in tests]
    for t in tests:
        assert t["outcome"] in allowed, f"{mode}: {t['nodeid']} is {t['outcome']}: {explanation(t)}"
        assert re.search(cause, explanation(t)), f"{mode}: {t['nodeid']} does not name the cause: {explanation(t)!r}"
    assert run.maxrss_mb < RSS_BOUND_MB, f"{mode}: peak RSS {run.maxrss_mb:.0f} MB"
    if mode in ("hang", "headers-only", "drip", "endless-stream"):
        # The breaker holds across the tests of the session: after 3 timeouts no
        # request reaches the server and the rest end at once.
        assert len(srv.stats.requests) == 3, len(srv.stats.requests)
        assert any("unresponsive" in t["reason"] for t in tests)
    if mode in ("hang", "headers-only", "drip", "endless-stream", "huge-body"):
        # The requests that tripped the breaker are the finding: named, with their curl.
        trail = run.data["run"]["breaker"]["trail"]
        assert len(trail) == 3 and all(
            e["method"] == "POST" and e["url"].startswith(srv.base_url) and e["curl"].startswith("curl ") for e in trail
        ), trail
        assert "TARGET UNRESPONSIVE" in run.output and run.output.count("reproduce: curl") >= 3, tail
    if mode == "huge-body":
        # The client stops reading at limits.max_body_bytes (8 MiB) and drops the
        # connection: the server got no further than that plus the socket buffers.
        assert srv.stats.bytes_sent and max(srv.stats.bytes_sent) < 32 * 1024 * 1024, srv.stats.bytes_sent
        assert len(srv.stats.requests) == 3 and "were cut at a size or event cap" in run.output, run.output[-3000:]
    if mode == "429-storm":
        assert "fail" not in run.data["counts"], run.data["counts"]


def test_redirect_to_another_origin_drops_credentials(tmp_path):
    with HostileServer("redirect") as srv:
        run = run_suite(srv.base_url, tmp_path)
    assert run.elapsed < RUN_BOUND and "Traceback" not in run.output, run.output[-3000:]
    first, landed = srv.stats.requests, srv.other.stats.requests
    assert first and all(r.headers.get("authorization") == f"Bearer {KEY}" for r in first)
    assert len(landed) == len(first), "every redirect was followed"
    assert not [r for r in landed if "authorization" in r.headers or KEY.encode() in r.body]
    # The landing server is simple (constant ids, no validation): some rules fail,
    # but every test was judged on the answers it gave after the redirect.
    assert run.rc in (0, 1) and "error" not in run.data["counts"], run.output[-3000:]


# -- the client alone -----------------------------------------------------------------------
def _target(srv, **kw) -> Target:
    base = dict(
        name="h",
        base_url=srv.base_url,
        model="m",
        capabilities=frozenset({"streaming"}),
        api_key=KEY,
        timeouts={"connect": 1, "read": 0.5, "total": 2},
    )
    base.update(kw)
    return Target(**base)


def _chat(client, **extra):
    return client.chat({"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra})


def test_total_deadline_holds_while_headers_drip():
    # Per-read timeouts never fire at one byte per 0.2 s: only the total deadline ends it.
    with HostileServer("drip", drip_interval=0.2) as srv:
        c = Client(_target(srv))
        t0 = time.monotonic()
        with pytest.raises(CannotJudge, match=r"waiting for the response headers .*timeouts\.total 2s"):
            _chat(c)
        c.close()
    assert 1.9 < time.monotonic() - t0 < 3.0


def test_endless_stream_is_cut_at_the_deadline():
    with HostileServer("endless-stream") as srv:
        c = Client(_target(srv))
        t0 = time.monotonic()
        ex = _chat(c, stream=True)
        c.close()
    assert 1.9 < time.monotonic() - t0 < 3.0
    assert ex.timed_out and "timeouts.total" in ex.truncated and ex.chunks


def test_huge_body_stops_at_the_cap(tmp_path):
    with HostileServer("huge-body") as srv:
        c = Client(_target(srv, timeouts={"connect": 2, "read": 3, "total": 20}))
        ex = _chat(c)
        c.close()
    assert len(ex.body) == 8 * 1024 * 1024 and "limits.max_body_bytes" in ex.truncated
    assert max(srv.stats.bytes_sent) < 32 * 1024 * 1024


@pytest.mark.parametrize("stream", [False, True])
def test_unrequested_gzip_is_decoded_and_noted(stream):
    """Compressed although identity was asked: decoded as the SDK would, judged as usual,
    and noted (HTTP-004), not failed: clients decode gzip transparently."""
    with HostileServer("gzip-anyway") as srv:
        c = Client(_target(srv))
        ex = _chat(c, stream=True) if stream else _chat(c)
        c.close()
    assert ex.content_coding == "gzip" and not ex.truncated
    if stream:
        assert [ch["choices"][0]["delta"].get("content") for ch in ex.chunks][:2] == ["", "OK"] and ex.sse.done
    else:
        assert ex.json["choices"][0]["message"]["content"] == "OK"
    found = checks.run(ex)
    violations, notes = found.violations, found.notes
    assert any(n.rule == "HTTP-004" and "gzip" in n.message for n in notes)
    assert all(v.rule != "HTTP-004" for v in violations)


def test_partial_body_is_kept_when_the_connection_resets():
    with HostileServer("reset-mid-stream") as srv:
        c = Client(_target(srv))
        ex = _chat(c, stream=True)
        c.close()
    assert "reset" in ex.truncated and len(ex.chunks) == 2


def test_breaker_trips_after_three_timeouts_across_clients():
    breaker = Breaker()
    with HostileServer("hang") as srv:
        for _ in range(3):  # one client per test, one breaker per session
            c = Client(_target(srv), breaker=breaker)
            with pytest.raises(CannotJudge, match="timed out"):
                _chat(c)
            c.close()
        c = Client(_target(srv), breaker=breaker)
        t0 = time.monotonic()
        with pytest.raises(CannotJudge, match="target marked unresponsive: 3 consecutive exchanges timed out"):
            _chat(c)
        c.close()
        assert time.monotonic() - t0 < 0.1 and len(srv.stats.requests) == 3


def test_breaker_counts_only_consecutive_timeouts():
    b = Breaker()
    slow = Exchange("POST", "u", {}, None, timed_out=True, transport_error="timed out")
    for ex in (slow, slow, Exchange("POST", "u", {}, None, status=200), slow, slow):
        b.after(ex)
    b.before()  # 2 in a row since the answer: not tripped


def test_429_is_retried_as_retry_after_says_then_an_error():
    with HostileServer("429-storm") as srv:
        seen = []
        c = Client(_target(srv, retries={"max": 2, "max_wait": 5}), observe=seen.append)
        t0 = time.monotonic()
        with pytest.raises(CannotJudge, match=r"HTTP 429 \(rate limited\) still returned after 2 retries"):
            _chat(c)
        c.close()
    took = time.monotonic() - t0
    times = [r.at for r in srv.stats.requests]
    assert len(times) == 3 and 2.0 <= took < 3.5
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:])), times
    assert len(seen) == 3  # each 429 is judged too (ERR-001/006)


def test_retry_after_beyond_max_wait_gives_up_at_once():
    with HostileServer("429-storm", retry_after="30") as srv:
        c = Client(_target(srv, retries={"max": 2, "max_wait": 5}))
        t0 = time.monotonic()
        with pytest.raises(CannotJudge, match=r"asked to wait 30s, more than retries\.max_wait \(5s\)"):
            _chat(c)
        c.close()
    assert time.monotonic() - t0 < 1 and len(srv.stats.requests) == 1


def test_503_backoff_recovers_without_touching_global_random():
    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    with HostileServer("503-then-ok", failures=2) as srv:
        c = Client(_target(srv, retries={"max": 2, "max_wait": 5}))
        t0 = time.monotonic()
        ex = _chat(c)
        c.close()
    assert ex.status == 200 and len(srv.stats.requests) == 3
    # backoff 0.5 s then 1 s, each with jitter in [50%, 100%]
    assert 0.7 <= time.monotonic() - t0 < 2.0
    assert random.random() == expected, "the client drew from the global random generator"


def test_retry_after_forms():
    def ex(**h):
        return Exchange("POST", "u", {}, None, headers=h)

    assert _server_delay(ex(**{"retry-after": "2"})) == 2
    assert _server_delay(ex(**{"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    from email.utils import formatdate

    assert 8 <= _server_delay(ex(**{"retry-after": formatdate(time.time() + 10, usegmt=True)})) <= 10.5
    assert _server_delay(ex(**{"retry-after": "soon"})) is None
    assert _server_delay(ex(**{"retry-after": "nan"})) is None
    assert _server_delay(ex(**{"retry-after": "-3"})) == 0


@pytest.mark.parametrize("same_origin", [False, True], ids=["other-origin", "same-origin"])
def test_redirect_keeps_credentials_only_on_the_same_origin(same_origin):
    with HostileServer("redirect", same_origin=same_origin) as srv:
        t = _target(srv, headers={"api-key": KEY, "X-Team": "conformance"})
        c = Client(t)
        ex = _chat(c)
        c.close()
        landed = srv.stats.requests[1] if same_origin else srv.other.stats.requests[0]
    assert ex.status == 200
    if same_origin:
        assert landed.path.startswith("/landed/") and landed.headers["authorization"] == f"Bearer {KEY}"
        assert landed.headers["api-key"] == KEY
    else:
        # Authorization and every header from targets.yaml stay with the origin they were given for.
        assert not {"authorization", "api-key", "x-team", "cookie"} & set(landed.headers), landed.headers


# -- the client-side rate limit ---------------------------------------------------------------
def _spaced(times: list[float], interval: float, slack: float) -> bool:
    times = sorted(times)
    return all(
        times[j] - times[i] >= (j - i) * interval - slack for i in range(len(times)) for j in range(i + 1, len(times))
    )


def test_rate_limit_holds_across_processes(tmp_path):
    # Three processes, four requests each, one shared limit of 300/min (one per 0.2 s).
    code = textwrap.dedent(f"""
        import sys, time, pathlib
        sys.path.insert(0, {str(ROOT)!r})
        from chatconform.ratelimit import RateLimiter
        lim = RateLimiter("shared|http://x", 300, directory=pathlib.Path({str(tmp_path)!r}))
        for _ in range(4):
            lim.acquire()
            print(lim.last_slot, time.time(), flush=True)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    rows = [line.split() for p in procs for line in p.communicate(timeout=30)[0].splitlines()]
    slots, woke = [float(r[0]) for r in rows], [float(r[1]) for r in rows]
    assert len(slots) == 12
    # The reserved start times are exactly spaced; the processes wake at them or later.
    assert _spaced(slots, 0.2, 1e-6), sorted(b - a for a, b in zip(sorted(slots), sorted(slots)[1:]))
    assert all(w >= s - 0.01 for s, w in zip(slots, woke))
    assert max(woke) - min(woke) >= 11 * 0.2 - 0.05


def test_rate_limit_is_keyed_by_target(tmp_path):
    slept = []
    a = RateLimiter("a|http://x", 60, directory=tmp_path, sleep=slept.append)
    b = RateLimiter("b|http://x", 60, directory=tmp_path, sleep=slept.append)
    assert a.acquire() == 0 and b.acquire() == 0  # different targets do not share a budget
    assert 0.9 < a.acquire() <= 1.0  # 60/min: one a second


def test_rate_limit_holds_across_xdist_workers(tmp_path):
    pytest.importorskip("xdist")
    with HostileServer("ok") as srv:
        run = run_suite(
            srv.base_url,
            tmp_path,
            paths=("suites/test_response.py",),
            rate_limit={"requests_per_minute": 240},
            extra=("-n", "2", "-v"),
        )
    assert "Traceback" not in run.output and run.rc in (0, 1), run.output[-3000:]
    assert re.search(r"\b2 workers\b", run.output), run.output[-3000:]
    times = sorted(r.at for r in srv.stats.requests)
    assert len(times) >= 8
    # Arrival times carry the workers' wake-up delays, so the check has slack: the
    # span is what the limit imposes, and no half second holds more than 2 (+1 late).
    assert times[-1] - times[0] >= (len(times) - 1) * 0.25 - 0.3, times
    assert max(sum(1 for u in times if t <= u < t + 0.5) for t in times) <= 3, [b - a for a, b in zip(times, times[1:])]


def test_unreachable_target_stops_after_three_refused_connections(tmp_path):
    """Nothing listens on the port: three connections refused trip the breaker, the other
    tests end at once saying why, and the run exits 1 without a traceback."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_response.py",
            "suites/test_errors.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--model",
            "m",
            "--no-preflight",
            "--results",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    data = json.loads(out.read_text())
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-2000:]
    assert data["spend"]["requests"] == 3, data["spend"]
    judged = [t for t in data["tests"] if t["outcome"] not in SKIPS]
    assert len(judged) > 10 and all(t["outcome"] == "error" for t in judged)
    assert all("cannot connect" in t["reason"] or "could not connect" in t["reason"] for t in judged), judged[-1][
        "reason"
    ]


# -- bounded time whatever the server does (preflight, breaker, --max-time) ----------------------------
RUN_GOAL = 60.0  # seconds: a whole run against an unresponsive server, default timeouts


@pytest.mark.selftest_slow
@pytest.mark.parametrize("mode", ["hang", "headers-only", "drip", "endless-stream"])
def test_hostile_run_ends_within_60s(mode, tmp_path):
    """The whole suite, an ad hoc target claiming everything, the default timeouts: the
    server is judged unresponsive (before any test: the preflight) within 60 s."""
    with HostileServer(mode) as srv:
        run = run_adhoc(srv.base_url, tmp_path)
    print(f"{mode}: {run.elapsed:.1f}s, {len(srv.stats.requests)} requests")
    assert run.elapsed < RUN_GOAL, f"{mode}: {run.elapsed:.0f}s\n{run.output[-3000:]}"
    assert run.rc == 6 and "unresponsive" in run.output, run.output[-3000:]
    assert len(run.output.strip().splitlines()) <= 20 and KEY not in run.output, run.output
    assert len(srv.stats.requests) == 1 and not run.data


@pytest.mark.selftest_slow
def test_max_time_ends_the_run_with_the_verdict_so_far(tmp_path):
    """A server slow on every answer, well within each request's timeouts: --max-time ends
    the run; the request in flight is cut, the tests not run are errors (not judged), and
    the summary says why."""
    with HostileServer("drip", drip_interval=0.005) as srv:  # ~2 s an answer
        run = run_adhoc(
            srv.base_url,
            tmp_path,
            "--max-time",
            "8",
            "--timeout",
            "5",
            paths=("suites/test_response.py", "suites/test_errors.py"),
        )
    tail = run.output[-3000:]
    assert run.elapsed < 8 + 15, f"{run.elapsed:.0f}s\n{tail}"
    assert run.rc == 1 and "RUN STOPPED: the run reached its time limit (--max-time 8s)" in run.output, tail
    tests = [t for t in run.data["tests"] if t["outcome"] not in SKIPS]
    stopped = [t for t in tests if "time limit" in t["reason"]]
    assert stopped and all(t["outcome"] == "error" for t in stopped), stopped[:2]
    assert len(stopped) >= len(tests) - 6, [(t["nodeid"], t["outcome"]) for t in tests]
    assert run.data["run"]["time_limit"]["not_judged"] == len(stopped)
    assert KEY not in run.output and "Traceback" not in run.output


def test_max_time_from_targets_yaml_cuts_the_request_in_flight(tmp_path):
    """max_time in targets.yaml: the request in flight ends at the run's limit (not its
    own, longer deadline), as not judged, and the breaker does not count it."""
    from chatconform import runclock

    with HostileServer("hang") as srv:
        runclock.start(1.0, "max_time")
        try:
            b = Breaker()
            c = Client(_target(srv, timeouts={"connect": 1, "read": 5, "total": 10}), breaker=b)
            t0 = time.monotonic()
            with pytest.raises(CannotJudge, match=r"not judged: the run reached its time limit \(max_time 1s\)"):
                _chat(c)
            assert time.monotonic() - t0 < 1.5 and b.consecutive == 0
            with pytest.raises(CannotJudge, match="time limit"):
                _chat(c)  # nothing more is sent
            assert len(srv.stats.requests) == 1
            c.close()
        finally:
            runclock.stop()


def test_breaker_counts_answers_cut_at_a_cap():
    for kind, what in (
        ("size-cap", "body larger than 8 bytes (limits.max_body_bytes)"),
        ("event-cap", "more than 10 SSE events (limits.max_events)"),
        ("deadline", "answer still arriving after 2s (timeouts.total)"),
    ):
        b = Breaker()
        for i in range(3):
            b.after(
                Exchange(
                    "POST",
                    "http://h/v1/chat/completions",
                    {"Authorization": "Bearer x"},
                    b"{}",
                    status=200,
                    truncated=what,
                    error_kind=kind,
                    label=f"probe {i}",
                )
            )
        with pytest.raises(CannotJudge, match="target marked unresponsive: 3 consecutive exchanges"):
            b.before()
        assert [e["label"] for e in b.trail] == ["probe 0", "probe 1", "probe 2"]
        assert all(e["what"] == what and e["curl"].startswith("curl ") for e in b.trail)


def test_breaker_is_shared_by_processes(tmp_path):
    """Two processes' breakers on one run's file (as pytest-xdist workers have): three
    timeouts between them trip both."""
    path = tmp_path / "breaker.json"
    code = textwrap.dedent(f"""
        import sys, pathlib
        sys.path.insert(0, {str(ROOT)!r})
        from chatconform.client import Breaker, Exchange
        b = Breaker(path=pathlib.Path({str(path)!r}))
        b.after(Exchange("POST", "http://h/v1/chat/completions", {{}}, None, timed_out=True,
                         transport_error="timed out", error_kind="read-timeout"))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    b = Breaker(path=path)
    b.before()  # two so far: not tripped
    b.after(Exchange("POST", "u", {}, None, timed_out=True, transport_error="timed out", error_kind="read-timeout"))
    with pytest.raises(CannotJudge, match="3 consecutive exchanges timed out"):
        b.before()
    with pytest.raises(CannotJudge, match="unresponsive"):
        Breaker(path=path).before()


@pytest.mark.selftest_slow
def test_breaker_holds_across_xdist_workers(tmp_path):
    """A server that passes the preflight, then hangs: under -n 2 the workers share one
    breaker, so the server sees the preflight and about three timeouts, not three per
    worker; the summary names the requests that tripped it."""
    pytest.importorskip("xdist")
    with HostileServer("hang", healthy_first=1) as srv:
        run = run_suite(
            srv.base_url, tmp_path, paths=("suites/test_response.py", "suites/test_errors.py"), extra=("-n", "2")
        )
    tail = run.output[-3000:]
    assert run.rc == 1 and "TARGET UNRESPONSIVE" in run.output and "reproduce: curl" in run.output, tail
    # the preflight, three timeouts, and at most one more in flight on the other worker
    assert 4 <= len(srv.stats.requests) <= 5, len(srv.stats.requests)
    assert len(run.data["run"]["breaker"]["trail"]) == 3
    assert not list((tmp_path / "ratelimit").glob("breaker-*")) and not list((tmp_path / "ratelimit").glob("run-*"))


def test_deadline_holds_through_a_proxy(monkeypatch):
    from .proxy import LoopbackProxy

    with LoopbackProxy() as proxy, HostileServer("drip", drip_interval=0.2) as srv:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        c = Client(_target(srv))
        t0 = time.monotonic()
        with pytest.raises(CannotJudge, match=r"timeouts\.total 2s"):
            _chat(c)
        c.close()
    assert 1.9 < time.monotonic() - t0 < 3.0
    assert proxy.seen == [f"POST {srv.base_url}/chat/completions"]


# -- a keep-alive connection the server dropped ---------------------------------------------------------
def test_dropped_keepalive_connection_is_retried_once_on_a_new_one():
    """uvicorn closes its connection after a 500: the next request on it, sent before the
    close arrived, fails without a byte of answer; it is sent again on a new connection."""
    with HostileServer("close-after-error") as srv:
        c = Client(_target(srv))
        assert _chat_headers(c, {"X-Fail": "1"}).status == 500
        ex = _chat(c)
        c.close()
    assert ex.status == 200 and ex.retried and "new connection" in ex.retried, ex
    assert srv.connections == 2


def test_failure_on_a_fresh_connection_is_not_retried():
    with HostileServer("reset-before-answer") as srv:
        c = Client(_target(srv))
        with pytest.raises(CannotJudge) as info:
            _chat(c)
        c.close()
    assert info.value.exchange.retried is None and srv.connections == 1 and len(srv.stats.requests) == 1


def test_failure_after_answer_bytes_is_not_retried():
    """On a reused connection, but a byte of the answer came: never sent again."""
    with HostileServer("reset-mid-stream", healthy_first=1) as srv:
        c = Client(_target(srv))
        assert _chat(c).status == 200
        ex = _chat(c, stream=True)
        c.close()
    assert ex.truncated and ex.retried is None and srv.connections == 1 and len(srv.stats.requests) == 2


def _chat_headers(client, headers):
    return client.chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, headers=headers)
