"""The GitHub Action's one step of logic: run `chatconform run`, write outputs and the job summary.

Called by integrations/github/action.yml with the action's inputs in INPUT_* environment
variables (set by the step's `env:`, never interpolated into a script).  Runnable as is
anywhere: without GITHUB_ACTIONS it writes no workflow commands; without GITHUB_OUTPUT
or GITHUB_STEP_SUMMARY it writes no outputs or summary.  Standard library only: it runs
in the interpreter chatconform was installed into, before anything else is known.

The API key arrives in INPUT_API_KEY and reaches chatconform only as the environment
variable named by INPUT_API_KEY_ENV (`--api-key-env NAME`): never on a command line.
It is masked for the runner's log (`::add-mask::`) and, in case anything ever echoed it,
replaced by *** in everything this script writes (log, outputs, summary).

While chatconform runs, workflow commands are off (`::stop-commands::`): its output quotes
server-controlled text, which must not be able to annotate, mask or set anything.

Exit status: chatconform's own (0 pass, 1 a rule failed or could not be judged, 2
interrupted, 4 usage or configuration error, any other status passed on as is), or 4
when the inputs themselves are unusable.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import uuid

USAGE = 4
VERDICTS = {0: "pass", 1: "fail", 2: "interrupted", 4: "usage-error"}  # any other status: "error"
LEVELS = ("must", "should")
BUDGETS = ("smoke", "standard", "thorough")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class UsageError(Exception):
    pass


def inp(name: str) -> str:
    return os.environ.get("INPUT_" + name.upper().replace("-", "_"), "").strip()


def chatconform() -> list[str]:
    """The `chatconform` console script installed beside this interpreter, else on PATH."""
    here = pathlib.Path(sys.executable).parent / "chatconform"
    if here.exists():
        return [str(here)]
    found = shutil.which("chatconform")
    return [found] if found else [sys.executable, "-m", "chatconform"]


def escape_command_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


class Scrub:
    def __init__(self, secret: str):
        # Each line too: a multi-line secret is masked line by line by the runner as well.
        parts = {secret, *secret.splitlines()} if secret else set()
        self.parts = sorted((p for p in parts if len(p) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for p in self.parts:
            text = text.replace(p, "***")
        return text


def build_command(workspace: pathlib.Path, out: pathlib.Path, key: str) -> tuple[list[str], str]:
    """(chatconform run command line, the environment variable name the key goes in)."""
    base_url, model, target, target_file = inp("base-url"), inp("model"), inp("target"), inp("target-file")
    level, budget, caps = inp("level").lower(), inp("budget").lower(), inp("capabilities")
    key_env = inp("api-key-env") or "CHATCONFORM_API_KEY"
    if not ENV_NAME.match(key_env):
        raise UsageError(f"api-key-env: {key_env!r} is not an environment variable name")
    if base_url and (target or target_file):
        raise UsageError("give either base-url (with model) or target-file/target, not both")
    if base_url and not model:
        raise UsageError("base-url needs model")
    if level and level not in LEVELS:
        raise UsageError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    if budget and budget not in BUDGETS:
        raise UsageError(f"budget: {budget!r} is not one of {', '.join(BUDGETS)}")
    try:
        extra = shlex.split(inp("args"))
    except ValueError as e:
        raise UsageError(f"args: {e}") from None
    # --opt=value throughout: a value never reads as an option or as a suite path, whatever it is.
    cmd = chatconform() + ["run", f"--results={out / 'results.json'}", f"--junitxml={out / 'junit.xml'}"]
    if base_url:
        cmd += [f"--base-url={base_url}", f"--model={model}"]
        if key:
            cmd.append(f"--api-key-env={key_env}")
    elif model:
        cmd.append(f"--model={model}")
    if target_file:
        path = (workspace / target_file).resolve()
        if not path.is_file():
            raise UsageError(f"target-file: {target_file}: no such file")
        cmd.append(f"--targets={path}")
    if target:
        cmd.append(f"--target={target}")
    if caps:
        cmd.append(f"--capabilities={caps}")
    if level:
        cmd.append(f"--level={level}")
    if budget:
        cmd.append(f"--budget={budget}")
    return cmd + extra, key_env


def set_outputs(values: dict[str, str], scrub: Scrub) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for name, value in values.items():
            delim = f"ghadelimiter_{uuid.uuid4().hex}"
            fh.write(f"{name}<<{delim}\n{scrub(value)}\n{delim}\n")


def fence(text: str) -> str:
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{ticks}\n{text}\n{ticks}"


def no_results_md(status: int, log: pathlib.Path) -> str:
    what = {4: "a usage or configuration error", 2: "it was interrupted"}.get(status, f"exit status {status}")
    try:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
    except OSError:
        tail = []
    return (
        "## chatconform: ⚠️ no verdict\n\n"
        f"chatconform exited with status {status} ({what}) before writing results.\n\n"
        + (fence("\n".join(tail).rstrip()) + "\n" if tail else "")
    )


def main() -> int:
    gha = os.environ.get("GITHUB_ACTIONS") == "true"
    key = os.environ.get("INPUT_API_KEY", "")
    scrub = Scrub(key)
    if gha and key:
        for part in {key, *key.splitlines()}:
            if part.strip():
                print(f"::add-mask::{escape_command_data(part)}", flush=True)
    workspace = pathlib.Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    out = (workspace / (inp("output-dir") or "chatconform-results")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "chatconform.log"
    results, junit, summary = out / "results.json", out / "junit.xml", out / "verdict.md"
    for stale in (results, junit, summary):  # a result of an earlier run must not pass for this one's
        stale.unlink(missing_ok=True)

    env = {k: v for k, v in os.environ.items() if k != "INPUT_API_KEY"}
    try:
        cmd, key_env = build_command(workspace, out, key)
    except UsageError as e:
        msg = f"chatconform action: {e}"
        if gha:
            print(f"::error::{escape_command_data(msg)}", flush=True)
        else:
            print(msg, file=sys.stderr)
        log.write_text(msg + "\n", encoding="utf-8")
        status = USAGE
    else:
        if key:
            env[key_env] = key
        status = run(cmd, env, log, scrub, gha)

    if results.is_file():
        md = subprocess.run(
            chatconform() + ["report", "results.json", "--format", "md"],
            cwd=out,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        text = (
            md.stdout
            if md.returncode == 0
            else (f"## chatconform: exit status {status}\n\nThe verdict could not be rendered: {md.stderr.strip()}\n")
        )
    else:
        text = no_results_md(status, log)
    text = scrub(text)
    summary.write_text(text, encoding="utf-8")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    set_outputs(
        {
            "exit-code": str(status),
            "verdict": VERDICTS.get(status, "error"),
            "results": str(results) if results.is_file() else "",
            "junit": str(junit) if junit.is_file() else "",
            "summary": str(summary),
            "log": str(log),
        },
        scrub,
    )
    return status


def run(cmd: list[str], env: dict, log: pathlib.Path, scrub: Scrub, gha: bool) -> int:
    token = uuid.uuid4().hex
    if gha:
        print(f"::stop-commands::{token}", flush=True)
    try:
        with open(log, "w", encoding="utf-8") as fh:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                for raw in proc.stdout:
                    line = scrub(raw.decode("utf-8", errors="replace"))
                    sys.stdout.write(line)
                    fh.write(line)
                status = proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
                proc.wait()
                status = 2
    except OSError as e:
        print(f"chatconform action: cannot start chatconform: {e}", flush=True)
        status = USAGE
    finally:
        sys.stdout.flush()
        if gha:
            print(f"::{token}::", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
