"""Run the suite against real servers started on loopback with shared/realtargets.

    python scripts/integration.py                       # every configuration whose servers are installed
    python scripts/integration.py --servers llama-server,litellm-vllm
    CHATCONFORM_REALTARGETS=/path/to/realtargets python scripts/integration.py

Each configuration (a server started a given way: with an API key, with a chat
format, a gateway in front of another server) is started with its start_<server>.sh
script on a fixed 127.0.0.1 port, and the suite runs twice against its entry in
targets.yaml (its true capabilities, timeouts and settings):

* with the entry as it is (`--target <name>`: its known deviations are expected),
  results in artifacts/integration/<name>.json;
* raw: the same entry without its `expectations` (written to a temporary targets file),
  so every deviation shows, in <name>-raw.json; then a Markdown matrix of the raw runs.

Between the two passes the configuration is stopped and started again, so the raw pass
does not meet a server still busy with requests the first pass abandoned (a timed-out
request goes on generating on the server).  Every server is stopped by its stop script,
which signals only the process group its start script recorded.  Nothing here is part
of `pytest tests`: the servers take minutes to install (see the realtargets README).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "artifacts" / "integration"


@dataclasses.dataclass(frozen=True)
class Config:
    """One way of running one server: start_<server>.sh PORT [*args] with `env` added."""

    server: str
    port: int
    env: dict = dataclasses.field(default_factory=dict)
    args: tuple = ()
    upstream: str | None = None  # a configuration that must run first (a gateway's backend)


# The name of each configuration is its entry in targets.yaml.
CONFIGS = {
    "llama-server": Config("llama-server", 28081),
    "llama-server-key": Config("llama-server", 28083, env={"LLAMA_SERVER_API_KEY": "sk-test-llama"}),
    # A 4096-token context (llama-cpp-python's own default is 2048): the server ignores
    # max_completion_tokens and serves one request at a time, and the tiny model repeats
    # <tool_call> while tools are listed, so such an answer runs to the end of the context
    # (minutes at 32768, 11 s at 4096) while every other request waits.
    "llama-cpp-python": Config("llama-cpp-python", 28082, env={"LLAMA_CPP_PYTHON_EXTRA_ARGS": "--n_ctx 4096"}),
    "llama-cpp-python-fc": Config(
        "llama-cpp-python",
        28084,
        env={"LLAMA_CPP_PYTHON_CHAT_FORMAT": "chatml-function-calling", "LLAMA_CPP_PYTHON_EXTRA_ARGS": "--n_ctx 4096"},
    ),
    # Without chunked prefill: vLLM 0.32.0 (CPU) dies on a seeded request whose n copies do not
    # fit one step ({"n": 128, "seed": 5, "max_completion_tokens": 1} and a 26-token prompt:
    # 500, "CPU Generator does not use offset", the server exits), which the property tests
    # send; every later request of the run then met a closed port.  docs/REALTARGETS.md#vllm
    "vllm": Config("vllm", 18090, env={"VLLM_EXTRA_ARGS": "--no-enable-chunked-prefill"}),
    "litellm": Config("litellm", 18091),
    "litellm-vllm": Config(
        "litellm",
        18092,
        env={"LITELLM_UPSTREAM_KEY": "sk-test-vllm"},
        args=("http://127.0.0.1:18090/v1",),
        upstream="vllm",
    ),
    "llmspy": Config("llmspy", 28090),
}
MARKER = {  # a file each server's setup leaves under RT_HOME
    "llama-server": "llama-server/bin/llama-server",
    "llama-cpp-python": "llama-cpp-python/bin/python",
    "vllm": "vllm/bin/python",
    "litellm": "litellm/bin/litellm",
    "llmspy": "llms-py/bin/python",
}
NEEDS = {"llmspy": ("llama-server",)}  # llms.py starts a llama-server as its upstream


def realtargets_dir() -> pathlib.Path:
    # The start scripts of the real servers are not part of the project: the developer
    # names their directory (nothing outside the repository is read by default).
    env = os.environ.get("CHATCONFORM_REALTARGETS")
    if not env:
        raise SystemExit(
            "scripts/integration.py: set CHATCONFORM_REALTARGETS to the directory of the real "
            "servers' start scripts (start_<name>.sh)"
        )
    return pathlib.Path(env)


def installed(server: str) -> bool:
    home = pathlib.Path(os.environ.get("RT_HOME", pathlib.Path.home() / ".cache" / "chatconform-realtargets"))
    return all((home / MARKER[s]).exists() for s in (server, *NEEDS.get(server, ())))


def chain(name: str) -> list[str]:
    """The configurations to start for `name`, backends first."""
    out = []
    while name is not None:
        out.insert(0, name)
        name = CONFIGS[name].upstream
    return out


def start(rt: pathlib.Path, name: str) -> dict:
    c = CONFIGS[name]
    proc = subprocess.run(
        [str(rt / f"start_{c.server}.sh"), str(c.port), *c.args],
        capture_output=True,
        text=True,
        env={**os.environ, **c.env},
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: start_{c.server}.sh {c.port} failed: {proc.stderr[-500:]}")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def stop(rt: pathlib.Path, name: str) -> None:
    c = CONFIGS[name]
    subprocess.run([str(rt / f"stop_{c.server}.sh"), str(c.port)], capture_output=True, text=True, timeout=120)


def start_all(rt: pathlib.Path, name: str) -> dict:
    """Start `name` and its backends; the info lines of `name`.  On a failure, what was
    started is stopped again."""
    started = []
    try:
        info = {}
        for n in chain(name):
            info = start(rt, n)
            started.append(n)
        return info
    except BaseException:
        for n in reversed(started):
            stop(rt, n)
        raise


def stop_all(rt: pathlib.Path, name: str) -> None:
    for n in reversed(chain(name)):
        stop(rt, n)


def raw_targets(entry: dict, base: pathlib.Path) -> dict:
    """A targets file holding `entry` without its expectations: the raw pass judges the
    target with the same capabilities, timeouts, token-limit field, limits and key as the
    expectations pass, and every deviation shows.  A relative ca_bundle is made absolute
    (it is read relative to the targets file, which moves to a temporary directory)."""
    raw = {k: v for k, v in entry.items() if k != "expectations"}
    if raw.get("ca_bundle") and not pathlib.Path(raw["ca_bundle"]).is_absolute():
        raw["ca_bundle"] = str((base / raw["ca_bundle"]).resolve())
    return raw


def run_suite(name: str, info: dict, raw: bool, budget: str, targets: pathlib.Path) -> int:
    out = OUT / (f"{name}-raw.json" if raw else f"{name}.json")
    env = {**os.environ, "REALTARGET_KEY": info.get("API_KEY", "")}
    with tempfile.TemporaryDirectory(prefix="chatconform-raw-") as tmp:
        if raw:
            entry = yaml.safe_load(targets.read_text())["targets"][name]
            path = pathlib.Path(tmp) / "targets.yaml"
            path.write_text(yaml.safe_dump({"targets": {name: raw_targets(entry, targets.parent)}}, sort_keys=False))
        else:
            path = targets
        cmd = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider"]
        cmd += ["--targets", str(path), "--target", name, "--budget", budget, "--results", str(out)]
        cmd += ["--name", f"{name}-raw" if raw else name]
        with open(OUT / f"{name}{'-raw' if raw else ''}.log", "w") as log:
            t0 = time.monotonic()
            rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=3600).returncode
            print(f"  ({time.monotonic() - t0:.0f} s)", file=log)
            return rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", default=",".join(CONFIGS), help=f"configurations (default: {','.join(CONFIGS)})")
    ap.add_argument("--budget", default="standard", choices=("smoke", "standard", "thorough"))
    ap.add_argument("--no-raw", action="store_true", help="skip the run without expectations")
    ns = ap.parse_args()
    rt = realtargets_dir()
    if not (rt / "README.md").exists():
        print(f"no realtargets scripts at {rt} (set CHATCONFORM_REALTARGETS)", file=sys.stderr)
        return 4
    targets = ROOT / "targets.yaml"
    entries = yaml.safe_load(targets.read_text())["targets"]
    OUT.mkdir(parents=True, exist_ok=True)
    names = ns.servers.split(",")
    for name in names:
        if name not in CONFIGS or name not in entries:
            print(f"unknown configuration {name!r} (known: {', '.join(CONFIGS)})", file=sys.stderr)
            return 4
    done = []
    for name in names:
        missing = [CONFIGS[n].server for n in chain(name) if not installed(CONFIGS[n].server)]
        if missing:
            print(f"{name}: not installed (run setup_{missing[0]}.sh in {rt}): skipped")
            continue
        info = start_all(rt, name)
        try:
            rc = run_suite(name, info, False, ns.budget, targets)
            print(f"{name}: suite exit {rc} (with its expectations) -> {OUT / (name + '.json')}", flush=True)
            if not ns.no_raw:
                # A fresh server: none of the first pass's abandoned requests still running.
                stop_all(rt, name)
                info = start_all(rt, name)
                rc_raw = run_suite(name, info, True, ns.budget, targets)
                print(f"{name}: raw run exit {rc_raw} -> {OUT / (name + '-raw.json')}", flush=True)
            done.append(name)
        finally:
            stop_all(rt, name)
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
