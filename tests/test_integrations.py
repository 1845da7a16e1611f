"""The CI integrations (integrations/) and the Markdown verdict they show.

Each integration is run here as its CI system would run it, as far as this machine
allows: the GitHub Action's `run` step exactly as the runner does (its `env:` evaluated
from the inputs, bash -eo pipefail, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files), the
container's ENTRYPOINT + CMD with its ENV (/out mapped to a directory, as a bind mount
would), and the GitLab job's script lines in one shell with the template's variables.
Targets: the embedded reference (passes), and a reference server with defects, started
here with an API key (fails), so exit statuses and the key's secrecy are seen end to end.
What cannot run here: installing from an index, docker, the runners themselves.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import pathlib
import re
import select
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
import yaml

from chatconform.reporting import compare_md, main_report, verdict_md
from chatconform.reporting.common import load

ROOT = pathlib.Path(__file__).resolve().parents[1]
INTEG = ROOT / "integrations"
BIN = pathlib.Path(sys.executable).parent  # where this environment's `chatconform` script is
KEY = "sk-FAKE-chatconform-ci-key-5a17e3d0c9b24f68"  # recognizable: any trace of it is a leak
SERVER_KEY_ENV = "CC_INTEGRATION_SERVER_KEY"
DEFECTS = ["length-reported-as-stop", "json-object-fenced", "auth-key-echoed"]
FAILING = {"AUTH-005", "PARAM-002", "PARAM-024"}  # what those defects break (all SHOULD rules)
SELECT = '-k "auth or limit_one or json_object_content"'  # the tests that meet them, and no more


def base_env(**extra: str) -> dict[str, str]:
    """This environment without any CI runner's variables, `chatconform` first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "CI_", "PYTEST_ADDOPTS", "PYTEST_XDIST"))
        and k not in ("CI", "CHATCONFORM_API_KEY", SERVER_KEY_ENV)
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def server():
    """`chatconform serve` with defects and an API key; its base URL."""
    proc = subprocess.Popen(
        [str(BIN / "chatconform"), "serve", "--api-key-env", SERVER_KEY_ENV]
        + [a for d in DEFECTS for a in ("--defect", d)],
        env=base_env(**{SERVER_KEY_ENV: KEY}),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("BASE_URL="), f"the reference server did not start: {line!r}"
        yield line.strip().split("=", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def assert_no_key(tmp: pathlib.Path, *streams: str) -> None:
    """The key is in no file under tmp and in no stream, except the runner's mask command."""
    for text in streams:
        for line in text.splitlines():
            assert KEY not in line or line == f"::add-mask::{KEY}", f"key leaked: {line[:200]}"
    for p in tmp.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), f"key leaked into {p.relative_to(tmp)}"


def check_artifacts(results: pathlib.Path, junit: pathlib.Path) -> dict:
    data = load(results)  # parses and validates against schemas/results.schema.json
    cases = ET.parse(junit).getroot().iter("testcase")
    assert len(list(cases)) == len(data["tests"]) > 0
    return data


# -- GitHub Action ---------------------------------------------------------------------------
ACTION = INTEG / "github" / "action.yml"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict:
    return yaml.safe_load(ACTION.read_text())


@dataclass
class ActionRun:
    rc: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    tmp: pathlib.Path


def parse_github_output(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: name=value lines and name<<DELIM blocks."""
    out, lines, i = {}, text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name], i = "\n".join(lines[i + 1 : j]), j + 1
        else:
            name, value = line.split("=", 1)
            out[name], i = value, i + 1
    return out


def run_action(tmp: pathlib.Path, files: dict[str, str] | None = None, **inputs: str) -> ActionRun:
    """The action's `run` step as the runner runs it, after `install` put chatconform in this Python."""
    spec = action()
    names = {k.replace("-", "_"): k for k in spec["inputs"]}
    assert set(inputs) <= set(names), f"not inputs of the action: {set(inputs) - set(names)}"
    ctx = {f"inputs.{k}": str(v.get("default", "")) for k, v in spec["inputs"].items()}
    ctx.update({f"inputs.{names[k]}": v for k, v in inputs.items()})
    ctx["steps.install.outputs.python"] = sys.executable

    def evaluate(text: str) -> str:
        def one(m):
            assert m.group(1) in ctx, f"an expression this runner stand-in does not know: {m.group(1)}"
            return ctx[m.group(1)]

        return EXPR.sub(one, text)

    step = next(s for s in spec["runs"]["steps"] if s.get("id") == "run")
    ws, runner_temp = tmp / "workspace", tmp / "runner-temp"
    ws.mkdir()
    runner_temp.mkdir()
    for name, text in (files or {}).items():
        (ws / name).write_text(text)
    output, summary = tmp / "github_output", tmp / "step_summary.md"
    output.touch()
    summary.touch()
    env = base_env(
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_WORKSPACE=str(ws),
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_ACTION_PATH=str(ACTION.parent),
        RUNNER_TEMP=str(runner_temp),
    )
    env.update({k: evaluate(str(v)) for k, v in step["env"].items()})
    script = runner_temp / "step.sh"
    script.write_text(step["run"])
    p = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return ActionRun(
        p.returncode, p.stdout, p.stderr, parse_github_output(output.read_text()), summary.read_text(), tmp
    )


def test_action_inputs_reach_scripts_only_through_env():
    spec = action()
    steps = spec["runs"]["steps"]
    for s in steps:
        assert "${{" not in s.get("run", ""), "an expression in a script is shell injection"
    run = next(s for s in steps if s.get("id") == "run")
    passed = {m for v in run["env"].values() for m in EXPR.findall(str(v))}
    # Every input reaches run.py, except those the earlier steps consume.
    assert passed == {f"inputs.{k}" for k in spec["inputs"]} - {"inputs.install", "inputs.python-version"} | {
        "steps.install.outputs.python"
    }
    assert run["env"]["INPUT_API_KEY"] == "${{ inputs.api-key }}"
    assert all("api-key" not in str(s.get("with", "")) for s in steps), "the key goes to no other action"
    for name, out in spec["outputs"].items():
        assert out["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_action_on_embedded_reference_passes(tmp_path):
    r = run_action(tmp_path, budget="smoke", api_key=KEY)
    assert r.rc == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert r.outputs["exit-code"] == "0" and r.outputs["verdict"] == "pass"
    data = check_artifacts(pathlib.Path(r.outputs["results"]), pathlib.Path(r.outputs["junit"]))
    assert data["target"]["name"] == "reference"
    assert r.summary.startswith("## chatconform: ✅ PASS on reference")
    assert r.summary == pathlib.Path(r.outputs["summary"]).read_text()
    assert "### Profiles" in r.summary and "### Failing rules" not in r.summary
    assert f"{data['spend']['requests']} requests" in r.summary
    assert pathlib.Path(r.outputs["log"]).read_text().count("chatconform verdict") == 1
    assert r.stdout.splitlines()[0] == f"::add-mask::{KEY}", "masked before anything else is printed"
    assert_no_key(tmp_path, r.stdout, r.stderr)


def test_action_on_failing_server_fails_and_keeps_the_key_secret(tmp_path, server):
    r = run_action(
        tmp_path, base_url=server, model="chatconform-reference", api_key=KEY, capabilities="all", args=SELECT
    )
    assert r.rc == 1, r.stdout[-3000:] + r.stderr[-2000:]
    assert r.outputs["exit-code"] == "1" and r.outputs["verdict"] == "fail"
    data = check_artifacts(pathlib.Path(r.outputs["results"]), pathlib.Path(r.outputs["junit"]))
    assert data["rules"]["AUTH-001"]["outcome"] == "pass", "the key reached the server"
    assert {rid for rid, x in data["rules"].items() if x["outcome"] == "fail"} == FAILING
    assert r.summary.startswith("## chatconform: ❌ FAIL") and "3 rules failed" in r.summary
    for rid in FAILING:
        assert f"| **{rid}** | SHOULD |" in r.summary
    # Workflow commands are off while chatconform prints server-controlled text.
    lines = r.stdout.splitlines()
    assert lines[0] == f"::add-mask::{KEY}"
    token = lines[1].removeprefix("::stop-commands::")
    assert lines[1] != token and f"::{token}::" in lines
    assert lines.index(f"::{token}::") > max(i for i, x in enumerate(lines) if "chatconform verdict" in x)
    assert_no_key(tmp_path, r.stdout, r.stderr)


def test_action_level_must_reports_should_rules_as_warnings(tmp_path, server):
    r = run_action(
        tmp_path,
        base_url=server,
        model="chatconform-reference",
        api_key=KEY,
        capabilities="all",
        args=SELECT,
        level="must",
    )
    assert r.rc == 0 and r.outputs["verdict"] == "pass", r.stdout[-3000:]
    line = next(x for x in r.summary.splitlines() if "warnings (SHOULD rules at level must)" in x)
    assert all(rid in line for rid in FAILING) and "with warnings)" in r.summary
    assert_no_key(tmp_path, r.stdout, r.stderr)


TARGETS = """\
targets:
  ci-reference:
    embedded: reference
    model: chatconform-reference
    capabilities: all
    api_key: ${MY_TARGET_KEY}
"""
STALE = """\
    expectations:
      - rule: PARAM-002
        reason: declared here to see a stale deviation fail the run
        link: https://example.invalid/chatconform/1
        expires: 2099-12-31
"""


@pytest.mark.parametrize("stale", [False, True], ids=["clean", "stale-expectation"])
def test_action_with_target_file(tmp_path, stale):
    r = run_action(
        tmp_path,
        files={"targets.yaml": TARGETS + (STALE if stale else "")},
        target_file="targets.yaml",
        target="ci-reference",
        api_key=KEY,
        api_key_env="MY_TARGET_KEY",
        budget="smoke",
    )
    assert r.rc == (1 if stale else 0), r.stdout[-3000:] + r.stderr[-2000:]
    assert r.outputs["verdict"] == ("fail" if stale else "pass")
    data = check_artifacts(pathlib.Path(r.outputs["results"]), pathlib.Path(r.outputs["junit"]))
    assert data["target"]["name"] == "ci-reference" and data["target"]["api_key"] != KEY
    if stale:
        assert "1 declared deviation stale or expired" in r.summary
        assert "declared deviation **PARAM-002** no longer occurs" in r.summary
    assert_no_key(tmp_path, r.stdout, r.stderr)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"level": "sometimes"}, "level: 'sometimes' is not one of must, should"),
        ({"base_url": "http://127.0.0.1:9/v1", "model": "m", "target": "reference"}, "not both"),
        ({"api_key_env": "NOT A NAME"}, "is not an environment variable name"),
        ({"target_file": "targets.yaml", "target": "ci-reference"}, "unknown key 'bogus'"),  # chatconform's own
    ],
    ids=["bad-level", "url-and-target", "bad-env-name", "bad-targets-file"],
)
def test_action_usage_errors_exit_4(tmp_path, inputs, message):
    r = run_action(tmp_path, files={"targets.yaml": TARGETS + "    bogus: 1\n"}, api_key=KEY, **inputs)
    assert r.rc == 4, r.stdout[-3000:] + r.stderr[-2000:]
    assert r.outputs["exit-code"] == "4" and r.outputs["verdict"] == "usage-error"
    assert r.outputs["results"] == "" and r.outputs["junit"] == ""
    assert r.summary.startswith("## chatconform: ⚠️ no verdict") and message in r.summary
    assert message in r.stdout
    assert_no_key(tmp_path, r.stdout, r.stderr)


def action_module():
    spec = importlib.util.spec_from_file_location("gha_run", ACTION.parent / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_action_command_line_never_holds_the_key(tmp_path, monkeypatch):
    mod = action_module()
    for k, v in {
        "INPUT_BASE_URL": "http://127.0.0.1:9/v1",
        "INPUT_MODEL": "m",
        "INPUT_API_KEY": KEY,
        "INPUT_ARGS": "-k 'a or b' --hypothesis-seed 3",
        "INPUT_BUDGET": "Smoke",
    }.items():
        monkeypatch.setenv(k, v)
    cmd, key_env = mod.build_command(tmp_path, tmp_path / "out", KEY)
    assert key_env == "CHATCONFORM_API_KEY" and not any(KEY in a for a in cmd)
    assert cmd[-4:] == ["-k", "a or b", "--hypothesis-seed", "3"]
    assert "--api-key-env=CHATCONFORM_API_KEY" in cmd and "--budget=smoke" in cmd
    assert mod.Scrub("line1\nline2-secret")("x line2-secret line1 y") == "x *** *** y"


# -- the Markdown verdict --------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(server, tmp_path_factory) -> dict[str, pathlib.Path]:
    """results.json of a passing run (embedded reference, smoke) and a failing one (the server)."""
    d = tmp_path_factory.mktemp("md")
    out = {"pass": d / "pass.json", "fail": d / "fail.json"}
    cmds = {
        "pass": ["--budget", "smoke"],
        "fail": [
            "--base-url",
            server,
            "--model",
            "chatconform-reference",
            "--api-key-env",
            SERVER_KEY_ENV,
            "--capabilities",
            "all",
            *shlex.split(SELECT),
        ],
    }
    for name, args in cmds.items():
        subprocess.run(
            [str(BIN / "chatconform"), "run", f"--results={out[name]}", *args],
            cwd=d,
            env=base_env(**{SERVER_KEY_ENV: KEY}),
            capture_output=True,
            timeout=600,
            check=False,
        )
        assert out[name].exists(), name
    return out


def test_md_verdict_of_a_passing_run(runs):
    data = load(runs["pass"])
    assert verdict_md.headline(data) == ("pass", f"every check that ran passed ({len(data['tests'])} tests passed)")
    md = verdict_md.render(data)
    for name, p in data["profiles"].items():
        assert f"| {name} | {compare_md._verdict(p)} |" in md
    sp = data["spend"]
    assert f"{sp['requests']} requests, {sp['completion_tokens']} completion tokens" in md
    assert "Failing rules" not in md and "Could not be judged" not in md


def test_md_verdict_of_a_failing_run(runs):
    data = load(runs["fail"])
    verdict, why = verdict_md.headline(data)
    assert (verdict, why) == ("fail", "3 rules failed")
    md = verdict_md.render(data, source="fail.json")
    rows = [line for line in md.splitlines() if line.startswith("| **")]
    assert [r.split(" | ")[0][4:-2] for r in rows] == sorted(FAILING)
    for rid, row in zip(sorted(FAILING), rows, strict=True):
        first = next(v for t in data["tests"] for v in t["violations"] if v["rule"] == rid)
        assert f"| {data['rules'][rid]['level']} |" in row
        assert compare_md.cell(compare_md._short(first["actual"], 100)) in row
    assert "```" not in md, "a fenced actual is escaped, not rendered as a code block"
    assert md.rstrip().endswith("from fail.json</sub>")
    assert "auth | ✅ met" in md


def test_md_verdict_escapes_server_text_and_caps_rows(runs):
    data = copy.deepcopy(load(runs["fail"]))
    hostile = "a|b\n<script>alert(1)</script> ``` | end"
    for t in data["tests"]:
        for v in t["violations"]:
            v["actual"] = hostile
    md = verdict_md.render(data)
    assert "<script>" not in md and "&lt;script&gt;" in md
    for line in md.splitlines():
        if line.startswith("| **"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line  # four cells, no cell broken
    ids = sorted(data["rules"])[: verdict_md.MAX_ROWS + 7]
    for rid in ids:
        data["rules"][rid]["outcome"] = "fail"
    failing = sum(1 for x in data["rules"].values() if x["outcome"] == "fail")
    md = verdict_md.render(data)
    assert sum(line.startswith("| **") for line in md.splitlines()) == verdict_md.MAX_ROWS
    assert f"… and {failing - verdict_md.MAX_ROWS} more in results.json" in md


def test_md_verdict_errors_lapsed_expectations_warnings(runs):
    data = copy.deepcopy(load(runs["pass"]))
    data["tests"][0].update(outcome="error", reason="connection refused (127.0.0.1:9)")
    data["tests"][1]["outcome"] = "warning"
    rid = data["tests"][1]["rules"][0]
    data["rules"][rid]["outcome"] = "warning"
    data["expectations"] = [
        {
            "rule": "STREAM-017",
            "reason": "r",
            "link": "https://example.invalid/1",
            "expires": "2020-01-01",
            "status": "expired",
        }
    ]
    verdict, why = verdict_md.headline(data)
    assert verdict == "fail" and why == "1 test could not be judged; 1 declared deviation stale or expired"
    md = verdict_md.render(data)
    assert "### Could not be judged (1 tests)" in md and "connection refused (127.0.0.1:9)" in md
    assert "**STREAM-017** expired on 2020-01-01 (fails the run)" in md
    assert f"1 warnings (SHOULD rules at level must): {rid}" in md


def test_report_format_md_command(runs, tmp_path, capsys, monkeypatch):
    path = str(runs["fail"])
    assert main_report([path, "--format", "md"]) == 0
    assert capsys.readouterr().out == verdict_md.render(load(path), source=path)
    assert main_report([path, "--format", "md", "-o", str(tmp_path / "v.md")]) == 0
    assert (tmp_path / "v.md").read_text() == verdict_md.render(load(path), source=path)
    monkeypatch.chdir(tmp_path)
    assert main_report([path]) == 0 and (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert main_report([str(tmp_path / "absent.json"), "--format", "md"]) == 4
    assert "no such file" in capsys.readouterr().err


# -- container image -------------------------------------------------------------------------
DOCKERFILE = INTEG / "container" / "Dockerfile"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """[(INSTRUCTION, arguments)] per build stage; continuations joined, comments dropped."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if line.strip():
            instr, _, args = line.strip().partition(" ")
            if instr.upper() == "FROM":
                stages.append([])
            stages[-1].append((instr.upper(), args.strip()))
    return stages


def image() -> dict:
    final = dockerfile_stages()[-1]
    env: dict[str, str] = {}
    for instr, args in final:
        if instr == "ENV":
            env.update(kv.split("=", 1) for kv in shlex.split(args))
    one = {instr: args for instr, args in final}  # the last of each, as docker takes it
    return {
        "from": one["FROM"],
        "user": one["USER"],
        "workdir": one["WORKDIR"],
        "env": env,
        "volume": json.loads(one["VOLUME"]),
        "entrypoint": json.loads(one["ENTRYPOINT"]),
        "cmd": json.loads(one["CMD"]),
        "run": [a for i, a in final if i == "RUN"],
    }


def test_dockerfile_shape():
    img = image()
    assert re.fullmatch(r"python:3\.\d+-slim", img["from"])
    assert img["entrypoint"] == ["chatconform", "run"]
    assert img["user"] not in ("root", "0") and any("useradd" in r and img["user"] in r for r in img["run"])
    assert "/out" in img["volume"] and img["workdir"] == "/out"
    assert "--results=/out/results.json" in img["env"]["PYTEST_ADDOPTS"]
    assert "--junitxml=/out/junit.xml" in img["env"]["PYTEST_ADDOPTS"]
    build = dockerfile_stages()[0]
    assert ("COPY", ". /src") in build, "chatconform is installed from the build context"
    readme = (ROOT / "README.md").read_text()
    assert "docker build -f integrations/container/Dockerfile" in readme and ':/out"' in readme


@pytest.mark.parametrize("args", [None, ["--budget", "smoke", "--level", "must"]], ids=["default-cmd", "own-args"])
def test_container_command_writes_results_to_out(tmp_path, args):
    """ENTRYPOINT + CMD (or arguments given after the image name, which replace CMD), with
    the image's ENV, /out and /cache mapped to directories here as volumes would be."""
    img = image()
    mounts = {"/out": tmp_path / "out", "/cache": tmp_path / "cache"}
    for d in mounts.values():
        d.mkdir()

    def mapped(s: str) -> str:
        return re.sub(r"(?<![\w.])(/out|/cache)(?![\w.-])", lambda m: str(mounts[m.group(1)]), s)

    env = base_env(**{k: mapped(v) for k, v in img["env"].items()})
    cmd = img["entrypoint"] + (img["cmd"] if args is None else args)
    p = subprocess.run(
        cmd, cwd=mapped(img["workdir"]), env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    check_artifacts(mounts["/out"] / "results.json", mounts["/out"] / "junit.xml")


# -- GitLab CI -------------------------------------------------------------------------------
GITLAB = INTEG / "gitlab" / "chatconform.gitlab-ci.yml"


def gitlab_job() -> dict:
    return yaml.safe_load(GITLAB.read_text())[".chatconform"]


def documented_options(*command: str) -> set[str]:
    out = subprocess.run(
        [str(BIN / "chatconform"), *command, "--help"],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=60,
        check=False,
    ).stdout
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", out))


def test_gitlab_template_shape():
    job = gitlab_job()
    assert job["artifacts"]["reports"]["junit"] == "chatconform-results/junit.xml"
    assert job["artifacts"]["paths"] == ["chatconform-results/"] and job["artifacts"]["when"] == "always"
    assert "CHATCONFORM_API_KEY" not in job["variables"], "the key comes from a masked CI/CD variable"
    script = "\n".join(job["script"])
    uses = re.findall(r"\S*CHATCONFORM_API_KEY\S*", script)
    assert uses == ["${CHATCONFORM_API_KEY:+--api-key-env=CHATCONFORM_API_KEY}"], "the key by name only"


def test_gitlab_script_uses_only_documented_options():
    documented = {"run": documented_options("run"), "report": documented_options("report")}
    assert {"--results", "--junitxml", "--budget"} <= documented["run"]
    used = 0
    for line in gitlab_job()["script"]:
        m = re.search(r"\bchatconform (run|report)\b", line)
        if m:
            options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", line))
            assert options <= documented[m.group(1)], options - documented[m.group(1)]
            used += 1
    assert used == 2


@pytest.mark.parametrize("failing", [False, True], ids=["embedded-reference", "failing-server"])
def test_gitlab_script_runs(tmp_path, server, failing):
    """Every script line in one shell (as the runner does, errexit on), with the template's
    variables; CHATCONFORM_INSTALL="" (the documented setting for an image that has chatconform)."""
    job = gitlab_job()
    variables = {**job["variables"], "CHATCONFORM_INSTALL": "", "CHATCONFORM_BUDGET": "smoke"}
    if failing:
        variables.update(
            CHATCONFORM_BASE_URL=server,
            CHATCONFORM_MODEL="chatconform-reference",
            CHATCONFORM_CAPABILITIES="all",
            CHATCONFORM_API_KEY=KEY,
        )
    script = "set -eo pipefail\n" + "\n".join(job["script"]) + "\n"
    p = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=tmp_path,
        env=base_env(CI="true", **variables),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert p.returncode == (1 if failing else 0), p.stdout[-3000:] + p.stderr[-2000:]
    out = tmp_path / "chatconform-results"
    data = check_artifacts(out / "results.json", out / job["artifacts"]["reports"]["junit"].split("/")[-1])
    verdict = (out / "verdict.md").read_text()
    assert verdict.startswith("## chatconform: ❌ FAIL" if failing else "## chatconform: ✅ PASS")
    if failing:
        # The smoke budget's refusal probes (a wrong key, invalid values, an unknown model)
        # are refused on purpose; every other request carried the key and was answered.
        refused_on_purpose = ("test_wrong_key", "test_error_envelope", "test_unknown_model")
        statuses = {
            ex["response"]["status"]
            for t in data["tests"]
            for ex in t["exchanges"]
            if ex.get("response") and not t["nodeid"].split("::")[-1].startswith(refused_on_purpose)
        }
        assert statuses == {200}, "the key reached the server"
        assert {rid for rid, x in data["rules"].items() if x["outcome"] == "fail"} == FAILING  # smoke reaches all three
    assert_no_key(tmp_path, p.stdout, p.stderr)


# -- the README's snippets -------------------------------------------------------------------
def readme_yaml_blocks(section: str) -> list:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"### {section}\n")
    end = re.compile(r"\n##+ ").search(text, start + 4)
    body = text[start : end.start() if end else len(text)]
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", body, re.DOTALL)]


def test_readme_snippets_use_real_inputs_and_variables():
    inputs = set(action()["inputs"])
    withs = [
        step["with"]
        for block in readme_yaml_blocks("GitHub Actions")
        for step in (block["jobs"]["conformance"]["steps"] if isinstance(block, dict) else block)
        if "integrations/github@" in step.get("uses", "")
    ]
    assert len(withs) == 2 and all(set(w) <= inputs for w in withs), [set(w) - inputs for w in withs]
    [gitlab] = readme_yaml_blocks("GitLab CI")
    assert gitlab["conformance"]["extends"] == ".chatconform"
    assert set(gitlab["conformance"]["variables"]) <= set(gitlab_job()["variables"])
