"""Run the suite against real servers started on loopback with shared/realtargets.

    python scripts/integration.py                       # every server whose setup is installed
    python scripts/integration.py --servers llama-server,litellm
    CHATCONFORM_REALTARGETS=/path/to/realtargets python scripts/integration.py

Each server is started with its start_<name>.sh script on a fixed 127.0.0.1 port,
the suite runs against its entry in targets.yaml (`--target <name>`, which declares
its true capabilities and known deviations), results go to
artifacts/integration/<name>.json with a raw run (`<name>-raw.json`: the same
capabilities, no expectations, so every deviation shows) and a Markdown matrix of
all of them, and the server is stopped again by its stop script (which signals only
the process group it started).  Nothing here is part of `pytest tests`: the servers
take minutes to install (see the realtargets README).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "artifacts" / "integration"
SERVERS = {
    # name: (port, extra environment for the start script)
    "llama-server": (28081, {}),
    "llama-cpp-python": (28082, {}),
    "vllm": (18090, {}),
    "litellm": (18091, {}),
    "llmspy": (28090, {}),
}


def realtargets_dir() -> pathlib.Path:
    # The start scripts of the real servers are not part of the project: the developer
    # names their directory (nothing outside the repository is read by default).
    env = os.environ.get("CHATCONFORM_REALTARGETS")
    if not env:
        raise SystemExit(
            "scripts/integration.py: set CHATCONFORM_REALTARGETS to the directory of the real "
            "servers' start scripts (start-<name>.sh)"
        )
    return pathlib.Path(env)


def installed(name: str) -> bool:
    home = pathlib.Path(os.environ.get("RT_HOME", pathlib.Path.home() / ".cache" / "chatconform-realtargets"))
    marker = {
        "llama-server": "llama-server/bin/llama-server",
        "llama-cpp-python": "llama-cpp-python/bin/python",
        "vllm": "vllm/bin/python",
        "litellm": "litellm/bin/litellm",
        "llmspy": "llms-py/bin/python",
    }[name]
    return (home / marker).exists()


def start(rt: pathlib.Path, name: str, port: int, env: dict) -> dict:
    proc = subprocess.run(
        [str(rt / f"start_{name}.sh"), str(port)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"start_{name}.sh failed: {proc.stderr[-500:]}")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def stop(rt: pathlib.Path, name: str, port: int) -> None:
    subprocess.run([str(rt / f"stop_{name}.sh"), str(port)], capture_output=True, text=True, timeout=120)


def run_suite(name: str, info: dict, raw: bool) -> int:
    out = OUT / (f"{name}-raw.json" if raw else f"{name}.json")
    env = {**os.environ, "REALTARGET_KEY": info.get("API_KEY", "")}
    if raw:
        entry = yaml.safe_load((ROOT / "targets.yaml").read_text())["targets"][name]
        caps = entry.get("capabilities", [])
        caps = "all" if caps == "all" else ",".join(caps)
        args = ["--base-url", info["BASE_URL"], "--model", info["MODEL"], "--capabilities", caps]
        if info.get("API_KEY"):
            args += ["--api-key-env", "REALTARGET_KEY"]
    else:
        args = ["--target", name]
    cmd = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", *args, "--results", str(out)]
    with open(OUT / f"{name}{'-raw' if raw else ''}.log", "w") as log:
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=3600).returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--no-raw", action="store_true", help="skip the run without expectations")
    ns = ap.parse_args()
    rt = realtargets_dir()
    if not (rt / "README.md").exists():
        print(f"no realtargets scripts at {rt} (set CHATCONFORM_REALTARGETS)", file=sys.stderr)
        return 4
    OUT.mkdir(parents=True, exist_ok=True)
    done = []
    for name in ns.servers.split(","):
        if name not in SERVERS:
            print(f"unknown server {name!r} (known: {', '.join(SERVERS)})", file=sys.stderr)
            return 4
        if not installed(name):
            print(f"{name}: not installed (run {rt}/setup_{name}.sh): skipped")
            continue
        port, env = SERVERS[name]
        info = start(rt, name, port, env)
        try:
            rc = run_suite(name, info, raw=False)
            print(f"{name}: suite exit {rc} (with its expectations) -> {OUT / (name + '.json')}")
            if not ns.no_raw:
                rc_raw = run_suite(name, info, raw=True)
                print(f"{name}: raw run exit {rc_raw} -> {OUT / (name + '-raw.json')}")
            done.append(name)
        finally:
            stop(rt, name, port)
    if done:
        files = [str(OUT / f"{n}-raw.json") for n in done if (OUT / f"{n}-raw.json").exists()]
        if files:
            from chatconform.reporting import main_compare

            main_compare(files + ["--format", "md", "-o", str(OUT / "matrix.md")])
            main_compare(files + ["-o", str(OUT / "matrix.html")])
            print(f"matrix: {OUT / 'matrix.md'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
