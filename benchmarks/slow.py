"""How long a run takes against a server that is slow the way models are slow.

    python benchmarks/slow.py                      # L = 0.2 and 1.0 s, the default concurrency
    python benchmarks/slow.py --latency 0.2 --concurrency 4 --budget standard

For each latency L, the embedded reference is started as its own process with
`--latency L` (every chat answer waits L seconds before its first byte, concurrent
requests side by side, as a model server with enough slots would), and
`chatconform run` judges it with every capability claimed.  The floor is what no
client can beat at that concurrency: requests x L / requests in flight.  Printed per
latency: wall time, the request count the run spent, the floor and the ratio
wall / floor, and the CPU the run used (pytest and its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def start_server(latency: float, key: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatconform.reference",
            "--port",
            "0",
            "--latency",
            str(latency),
            "--api-key-env",
            "BENCH_KEY",
        ],
        env={**os.environ, "BENCH_KEY": key},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("BASE_URL="):
        proc.kill()
        raise SystemExit(f"the reference did not start: {line!r}")
    # Keep reading what it prints: a full pipe would block the server mid-run.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, line.split("=", 1)[1]


def run(base_url: str, key: str, budget: str, concurrency: int | None, out: pathlib.Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "chatconform",
        "run",
        "--base-url",
        base_url,
        "--model",
        "chatconform-reference",
        "--api-key-env",
        "BENCH_KEY",
        "--capabilities",
        "all",
        "--allow-remote-images",
        "--budget",
        budget,
        "-q",
        "-p",
        "no:cacheprovider",
        "--results",
        str(out),
    ]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    # From a directory of its own, as a user runs it in their repository.
    proc = subprocess.run(
        cmd,
        cwd=out.parent,
        env={**os.environ, "BENCH_KEY": key, "CHATCONFORM_HYPOTHESIS_DIR": "off"},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = json.loads(out.read_text()) if out.exists() else {}
    return {
        "wall_s": wall,
        "rc": proc.returncode,
        "requests": data.get("spend", {}).get("requests", 0),
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "counts": data.get("counts", {}),
        "tail": proc.stdout[-1500:],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--latency", type=float, action="append", help="seconds per answer (repeatable; default 0.2 and 1.0)"
    )
    ap.add_argument("--concurrency", type=int, default=None, help="requests in flight (default: the suite's, 8)")
    ap.add_argument("--budget", default="standard")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ns = ap.parse_args()
    from chatconform.targets import DEFAULT_CONCURRENCY

    in_flight = ns.concurrency or DEFAULT_CONCURRENCY
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for latency in ns.latency or [0.2, 1.0]:
            key = "sk-bench-" + secrets.token_hex(8)
            server, base = start_server(latency, key)
            try:
                r = run(base, key, ns.budget, ns.concurrency, pathlib.Path(tmp) / f"slow-{latency}.json")
            finally:
                server.terminate()
                server.wait(timeout=10)
            floor = r["requests"] * latency / in_flight
            r.update(
                latency_s=latency, concurrency=in_flight, floor_s=floor, ratio=r["wall_s"] / floor if floor else None
            )
            figures.append(r)
            bad = {k: v for k, v in r["counts"].items() if k in ("fail", "error")}
            print(
                f"L = {latency:g} s: {r['wall_s']:.1f} s wall for {r['requests']} requests at {in_flight} in flight; "
                f"floor {floor:.1f} s; ratio {r['ratio']:.2f}x; CPU {r['cpu_s']:.1f} s"
                + (f"; NOT CLEAN: {bad}\n{r['tail']}" if bad or r["rc"] not in (0,) else "")
            )
    if ns.json:
        pathlib.Path(ns.json).write_text(
            json.dumps([{k: v for k, v in f.items() if k != "tail"} for f in figures], indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
