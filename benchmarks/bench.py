"""Benchmark of the suite's own cost, reported as ratios measured in one run.

    python benchmarks/bench.py            # the full benchmark (a few minutes)
    python benchmarks/bench.py --smoke    # a quick pass: every measurement, smallest sizes

Measures (docs/BENCHMARKS.md records the figures):
 1. suite overhead: the `standard` run against the embedded reference vs a bare httpx
    loop replaying the same recorded requests without any checking;
 2. stream checking: parse + validate + assemble of recorded SSE streams (the official
    captures and a generated 10k-chunk stream) vs the official openai SDK decoding the
    same bytes (its Stream class, no network);
 3. schema validation per second for a response and a chunk (fast path and jsonschema);
 4. wall time of the smoke and standard runs: the default (one pytest-xdist worker per
    request in flight, 8 for a --base-url target), 4 workers, 2 workers, and one process
    sending one request at a time (-p no:xdist);
 5. peak RSS of a full run (the pytest process, and all its workers summed, for each of
    those worker counts), and of a run against a server sending 200 MB bodies;
 6. requests and completion tokens spent per budget.
Noisy 2-core machines: compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CAPTURES = ROOT / "fixtures" / "sdk-stream-captures"  # vendored (fixtures/sdk-stream-captures/SOURCE)
# The workers the main job uses against the embedded reference (plugin/xdist.py: the CPU
# count up to 4); the rounds run with them, the other counts are timed once each.
EMBEDDED_WORKERS = max(1, min(os.cpu_count() or 1, 4))
CACHE = pathlib.Path(tempfile.mkdtemp(prefix="chatconform-bench-cache-"))  # empty: the first round is cold


def bench_env(key: str, **extra: str) -> dict:
    """The environment of every timed process: the caller's, with the key, and with
    Python's default of caching bytecode.  PYTHONDONTWRITEBYTECODE (set on some CI
    machines) makes every process recompile, and pytest re-rewrite the asserts of, every
    plugin module (~1 s a pytest process here): a cost of the machine's setting, not of
    the suite, and one the replay would barely pay."""
    env = {**os.environ, "BENCH_KEY": key, "CHATCONFORM_CACHE_DIR": str(CACHE), **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start_reference(key: str, record: pathlib.Path | None = None):
    extra = ["--record", str(record)] if record else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatconform.reference", "--port", "0", "--api-key-env", "BENCH_KEY", *extra],
        cwd=ROOT,
        env=bench_env(key),
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("BASE_URL="):
        proc.kill()
        raise SystemExit(f"the reference did not start: {line!r}")
    return proc, line.split("=", 1)[1]


def _wait(proc: subprocess.Popen) -> tuple[int, float, float]:
    """Reap `proc` with wait4: exit code, CPU seconds and peak RSS (MB) of that child
    and of the processes it waited for (its xdist workers), not of other runs."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def server_cpu(server: subprocess.Popen | None) -> float | None:
    """CPU seconds the server process has used so far (Linux /proc), or None."""
    if server is None:
        return None
    try:
        fields = pathlib.Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def server_cpu_since(server: subprocess.Popen | None, before: float | None) -> float | None:
    after = server_cpu(server)
    return None if before is None or after is None else after - before


def _tree(pid: int) -> list[int]:
    """pid and its descendants (Linux: /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in pathlib.Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except (OSError, ValueError):
            pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeRSS(threading.Thread):
    """Samples the summed RSS of a process and its descendants (pytest and its xdist
    workers) every 0.1 s: wait4 gives the largest of them only."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _tree(self.pid)))

    def stop(self) -> float | None:
        self._done.set()
        self.join()
        return self.peak_kb / 1024 if self.peak_kb else None


def run_suite(base_url: str, key: str, budget: str, out: pathlib.Path, extra=(), env_extra=None, server=None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-q",
        "-p",
        "no:cacheprovider",
        "--base-url",
        base_url,
        "--model",
        "chatconform-reference",
        "--api-key-env",
        "BENCH_KEY",
        "--capabilities",
        "all",
        "--budget",
        budget,
        "--results",
        str(out),
        *extra,
    ]
    s0 = server_cpu(server)
    t = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=bench_env(key, **(env_extra or {})), stdout=log, stderr=subprocess.STDOUT
        )
        tree = TreeRSS(proc.pid)
        rc, cpu, rss = _wait(proc)
        wall = time.perf_counter() - t
        tree_rss = tree.stop()
        log.seek(0)
        tail = log.read()[-800:].decode(errors="replace")
    data = json.loads(out.read_text()) if out.exists() else {}
    return {
        "wall": wall,
        "cpu": cpu,
        "rc": rc,
        "data": data,
        "peak_rss_mb": rss,
        "tree_rss_mb": tree_rss,
        "tail": tail,
        "server_cpu": server_cpu_since(server, s0),
    }


def replay(base_url: str, record: pathlib.Path, key: str, server=None) -> dict:
    """Send every request the suite sent again (benchmarks/replay.py: a bare httpx loop,
    no parsing, no checks), timed as a process from start to exit like the suite."""
    s0 = server_cpu(server)
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "replay.py"), base_url, str(record)],
        cwd=ROOT,
        env=bench_env(key),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.stdout.read(), proc.stderr.read()
    rc, cpu, _ = _wait(proc)
    wall = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"the replay failed: {err[-800:].decode(errors='replace')}")
    return {**json.loads(out), "wall": wall, "cpu": cpu, "server_cpu": server_cpu_since(server, s0)}


def huge_body_rss(tmp: pathlib.Path) -> dict:
    """Peak RSS of a run against a server sending a 200 MB body to every request
    (tests/hostile.py, huge-body; tests/test_hostile.py's own run, measured by wait4)."""
    from tests.hostile import HUGE, HostileServer
    from tests.test_hostile import run_suite as hostile_run

    d = tmp / "huge"
    d.mkdir()
    with HostileServer("huge-body") as srv:
        run = hostile_run(srv.base_url, d)
    return {
        "peak_rss_mb": run.maxrss_mb,
        "body_bytes": HUGE,
        "requests": len(srv.stats.requests),
        "most_bytes_sent": max(srv.stats.bytes_sent or [0]),
        "wall_s": run.elapsed,
    }


def big_stream(n: int) -> bytes:
    head = '{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,'
    parts = [f'data: {head}"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]}}\n\n']
    parts += [
        f'data: {head}"delta":{{"content":"tok{i} "}},"logprobs":null,"finish_reason":null}}]}}\n\n' for i in range(n)
    ]
    parts.append(f'data: {head}"delta":{{}},"logprobs":null,"finish_reason":"stop"}}]}}\n\n')
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def stream_throughput(n_big: int, rounds: int) -> dict:
    import httpx
    from openai import OpenAI, Stream
    from openai.types.chat import ChatCompletionChunk

    from chatconform import checks
    from tests.helpers import stream_exchange
    from tests.test_captures import request_for

    streams = [p.read_bytes() for p in sorted(CAPTURES.glob("*.sse"))] if CAPTURES.is_dir() else []
    streams.append(big_stream(n_big))
    reqs = [request_for(s) for s in streams]
    chunks = sum(s.count(b"\n\ndata: ") for s in streams)
    sdk_client = OpenAI(api_key="bench", base_url="http://127.0.0.1:9/v1")

    def sdk():
        for raw in streams:
            resp = httpx.Response(
                200,
                content=raw,
                headers={"content-type": "text/event-stream"},
                request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"),
            )
            for _ in Stream(cast_to=ChatCompletionChunk, response=resp, client=sdk_client):
                pass

    def ours():
        for raw, req in zip(streams, reqs):
            ex = stream_exchange(raw, req)  # strict SSE parse
            found = checks.run(ex)  # every check, schema validation of every chunk, assembly
            assert not found.violations, found.violations[0].headline()

    out = {"chunks_per_round": chunks}
    for name, fn in (("sdk", sdk), ("chatconform", ours)):
        fn()
        t = time.perf_counter()
        for _ in range(rounds):
            fn()
        out[f"{name}_chunks_per_s"] = chunks * rounds / (time.perf_counter() - t)
    out["ratio"] = out["chatconform_chunks_per_s"] / out["sdk_chunks_per_s"]
    return out


def validation_rate(seconds: float) -> dict:
    from chatconform import schemas
    from tests.helpers import chunk, good_response

    docs = {"response": good_response(), "chunk": chunk(delta={"content": "hi"})}
    out = {}
    for name, doc in docs.items():
        for mode, fn in (
            ("fast", lambda: schemas.fast_valid(name, doc)),
            ("jsonschema", lambda: schemas.validator(name).is_valid(doc)),
        ):
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds:
                fn()
                n += 1
            out[f"{name}_{mode}_per_s"] = n / (time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="smallest sizes: checks that the benchmark works")
    ap.add_argument("-o", "--output", default=str(ROOT / "artifacts" / "bench.json"))
    ns = ap.parse_args()
    key = "sk-bench-0000000000000000"
    report: dict = {"smoke": ns.smoke}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="chatconform-bench-"))
    # Hypothesis' Unicode tables (categories, and the UTF-8 codec's characters) live in
    # the same per-user cache but depend only on the hypothesis and Unicode versions:
    # built once per machine (~1.5 s each), not after a change of the suite, which is
    # what the cold round stands for.  So they are built before, in a process of their
    # own: building them here would grow this process by ~150 MB, and every process it
    # starts would report that as its own peak RSS (a forked child starts with it).
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import chatconform.strategies; from hypothesis.internal.charmap import "
            "charmap, intervals_from_codec; charmap(); intervals_from_codec('utf-8')",
        ],
        cwd=ROOT,
        env=bench_env(key),
        check=True,
    )
    # Likewise Python's bytecode and pytest's rewritten test modules: a fresh clone
    # compiles every module once (CI's clone, where the main job ran with
    # PYTHONDONTWRITEBYTECODE, paid it in the cold round), an edit recompiles one.
    subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=bench_env(key, CHATCONFORM_CACHE_DIR=str(tmp / "collect-cache")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    proc, base = start_reference(key)
    try:
        # Rounds, each a suite run and its replay back to back, so that a noisy neighbour
        # slows both alike.  The first round starts with an empty cache (this benchmark's
        # own CHATCONFORM_CACHE_DIR): the validators are compiled, as on a fresh machine;
        # the next rounds find them cached, as every later run does (the median of those
        # is reported).
        rounds = []
        for r in range(2 if ns.smoke else 4):
            record = tmp / f"standard-requests-{r}.jsonl"
            rec_proc, rec_base = start_reference(key, record)
            try:
                # The standard run goes to a recording reference: the replay sends exactly what it received.
                std = run_suite(
                    rec_base,
                    key,
                    "standard",
                    tmp / f"standard-{r}.json",
                    ("-n", str(EMBEDDED_WORKERS)),
                    server=rec_proc,
                )
                rep = replay(rec_base, record, key, server=rec_proc)  # the same server, recording again: like for like
            finally:
                rec_proc.terminate()
                rec_proc.wait(timeout=10)
            rounds.append((std["wall"] / rep["wall"], std, rep))
        cold, warm = rounds[0], sorted(rounds[1:], key=lambda x: x[0])
        _, std, rep = warm[len(warm) // 2]
        # The same run in one process, one request at a time: the cost of the work itself,
        # which the workers spread over the cores and overlap with the server's time.
        serial = run_suite(base, key, "standard", tmp / "serial.json", ("-p", "no:xdist"))
        report["overhead"] = {
            "suite_wall_s": std["wall"],
            "suite_requests": std["data"]["spend"]["requests"],
            "replay_wall_s": rep["wall"],
            "replay_loop_s": rep["loop_s"],
            "replay_requests": rep["requests"],
            "suite_cpu_s": std["cpu"],
            "replay_cpu_s": rep["cpu"],
            "serial_wall_s": serial["wall"],
            "serial_cpu_s": serial["cpu"],
            "round_ratios": [round(x[0], 3) for x in warm],
            "cold_ratio": cold[0],
            "cold_suite_wall_s": cold[1]["wall"],
            "cold_replay_wall_s": cold[2]["wall"],
            "cold_suite_cpu_s": cold[1]["cpu"],
            "cores": os.cpu_count() or 1,
        }
        # The server's own CPU during each timed process: the part of both sides that no
        # client can remove.  With it, the floor of the suite's wall on this machine:
        # all the CPU the run needs (the suite's processes and the server's) spread over
        # every core, or the server's alone, whichever is more.
        for name, (_, s_, r_) in (("warm", (None, std, rep)), ("cold", cold)):
            if s_["server_cpu"] is not None and r_["server_cpu"] is not None:
                cores = report["overhead"]["cores"]
                report["overhead"][f"{name}_server_cpu_s"] = s_["server_cpu"]
                report["overhead"][f"{name}_replay_server_cpu_s"] = r_["server_cpu"]
                report["overhead"][f"{name}_floor_s"] = max((s_["cpu"] + s_["server_cpu"]) / cores, s_["server_cpu"])
        smoke = run_suite(base, key, "smoke", tmp / "smoke.json")
        report["overhead"]["ratio"] = std["wall"] / rep["wall"]
        report["overhead"]["serial_ratio"] = serial["wall"] / rep["wall"]
        # What the suite adds per request, whatever the server: against a server taking
        # L seconds more per answer, the ratio is (suite + N*L) / (replay + N*L).
        report["overhead"]["added_ms_per_request"] = 1000 * (std["wall"] - rep["wall"]) / max(1, rep["requests"])
        report["overhead"]["serial_added_ms_per_request"] = (
            1000 * (serial["wall"] - rep["wall"]) / max(1, rep["requests"])
        )
        report["wall"] = {"smoke_s": smoke["wall"], "standard_s": std["wall"]}
        # Other worker counts (8: the default for a --base-url target): what workers cost
        # in memory and time against a server that answers at once (benchmarks/slow.py
        # measures them against slow ones).
        counts = [n for n in (8, 4, 2) if n != EMBEDDED_WORKERS]
        fewer = (
            {}
            if ns.smoke
            else {n: run_suite(base, key, "standard", tmp / f"n{n}.json", ("-n", str(n))) for n in counts}
        )
        for n, r in fewer.items():
            report["wall"][f"standard_n{n}_s"] = r["wall"]
        report["memory"] = {
            "peak_rss_full_run_mb": std["peak_rss_mb"],
            "peak_rss_cold_run_mb": cold[1]["peak_rss_mb"],
            "peak_tree_rss_full_run_mb": std["tree_rss_mb"],
            "peak_tree_rss_cold_run_mb": cold[1]["tree_rss_mb"],
            "peak_tree_rss_serial_mb": serial["tree_rss_mb"],
            **{f"peak_tree_rss_n{n}_mb": r["tree_rss_mb"] for n, r in fewer.items()},
        }
        report["wall"]["serial_s"] = serial["wall"]
        report["spend"] = {
            b: {
                "requests": r["data"]["spend"]["requests"],
                "completion_tokens": r["data"]["spend"]["completion_tokens"],
            }
            for b, r in (("smoke", smoke), ("standard", std))
        }
        report["verdict_rc"] = {"smoke": smoke["rc"], "standard": std["rc"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(CACHE, ignore_errors=True)
    report["memory"]["huge_body"] = huge_body_rss(tmp)
    report["stream"] = stream_throughput(1000 if ns.smoke else 10000, 1 if ns.smoke else 5)
    report["validation"] = validation_rate(0.2 if ns.smoke else 1.0)
    out = pathlib.Path(ns.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    o, s, w = report["overhead"], report["stream"], report["wall"]
    print(
        f"suite overhead: standard run {o['suite_wall_s']:.1f} s for {o['suite_requests']} requests; "
        f"bare replay of the {o['replay_requests']} requests the server received {o['replay_wall_s']:.1f} s "
        f"({o['replay_loop_s']:.1f} s in its loop); ratio {o['ratio']:.2f}x with {EMBEDDED_WORKERS} workers (goal <= 1.5; the median of rounds "
        f"{', '.join(f'{x:.2f}' for x in o['round_ratios'])}, examples and validators cached); "
        f"the suite adds {o['added_ms_per_request']:.1f} ms a request"
    )
    print(
        f"  cold (empty cache: validators compiled): suite {o['cold_suite_wall_s']:.1f} s, "
        f"replay {o['cold_replay_wall_s']:.1f} s, ratio {o['cold_ratio']:.2f}x"
    )
    print(
        f"  CPU: suite {o['suite_cpu_s']:.1f} s warm, {o['cold_suite_cpu_s']:.1f} s cold (pytest and its workers), "
        f"replay {o['replay_cpu_s']:.1f} s"
    )
    if "warm_floor_s" in o:
        print(
            f"  server CPU: {o['warm_server_cpu_s']:.1f} s in the suite run, {o['warm_replay_server_cpu_s']:.1f} s in the replay; "
            f"floor of the suite's wall on {o['cores']} cores (all its CPU and the server's over the cores): "
            f"warm {o['warm_floor_s']:.1f} s ({o['warm_floor_s'] / o['replay_wall_s']:.2f}x), "
            f"cold {o['cold_floor_s']:.1f} s ({o['cold_floor_s'] / o['cold_replay_wall_s']:.2f}x)"
        )
    print(
        f"  one process, one request at a time (-p no:xdist): {o['serial_wall_s']:.1f} s wall, "
        f"{o['serial_cpu_s']:.1f} s CPU, ratio {o['serial_ratio']:.2f}x, {o['serial_added_ms_per_request']:.1f} ms a request"
    )
    print(
        f"stream checking: {s['chatconform_chunks_per_s']:.0f} chunks/s vs openai SDK {s['sdk_chunks_per_s']:.0f} chunks/s; "
        f"ratio {s['ratio']:.1f}x (goal >= 2)"
    )
    v = report["validation"]
    print("validation/s: " + ", ".join(f"{k[:-6]} {v[k]:.0f}" for k in v))
    print(f"wall: smoke {w['smoke_s']:.1f} s (goal <= 5), standard {w['standard_s']:.1f} s (goal <= 30)")
    m = report["memory"]
    for n in (8, 4, 2):
        if f"standard_n{n}_s" in w:
            print(
                f"  {n} workers: {w[f'standard_n{n}_s']:.1f} s, all processes {m[f'peak_tree_rss_n{n}_mb']:.0f} MB "
                f"(one process: {w['serial_s']:.1f} s, {m['peak_tree_rss_serial_mb']:.0f} MB)"
            )
    hb = m["huge_body"]
    tree = (
        f" (with its workers, summed: {m['peak_tree_rss_full_run_mb']:.0f} MB warm, {m['peak_tree_rss_cold_run_mb']:.0f} MB cold)"
        if m.get("peak_tree_rss_full_run_mb") and m.get("peak_tree_rss_cold_run_mb")
        else ""
    )
    print(
        f"memory: peak RSS of a full run ({EMBEDDED_WORKERS} workers) {m['peak_rss_full_run_mb']:.0f} MB warm, {m['peak_rss_cold_run_mb']:.0f} MB cold{tree}; "
        f"against a server sending {hb['body_bytes'] // 2**20} MB bodies {hb['peak_rss_mb']:.0f} MB "
        f"({hb['requests']} requests, at most {hb['most_bytes_sent'] // 2**20} MB of each sent before the suite hung up) (goal < 300)"
    )
    for b, sp in report["spend"].items():
        print(f"spend {b}: {sp['requests']} requests, {sp['completion_tokens']} completion tokens")
    print(f"written to {out}")
    return 0 if all(rc == 0 for rc in report["verdict_rc"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
