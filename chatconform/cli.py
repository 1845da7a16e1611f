"""`chatconform`: run the suite (a thin wrapper over pytest), serve the reference, list rules."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from .paths import PACKAGE, SUITES_DIR

HELP = """\
chatconform: a conformance suite for OpenAI-compatible Chat Completions endpoints.

commands:
  chatconform run [OPTIONS] [PYTEST ARGS]   run the suites and print the verdict (wraps pytest)
  chatconform serve [--port N] [--defect NAME]...
                                            run the embedded reference server (optionally with defects)
  chatconform rules [--level MUST] [--area stream]
                                            list the rule catalogue
  chatconform defects                       list the reference server's injectable defects
  chatconform report RESULTS [-o report.html] [--format html|md]
                                            one run as a self-contained HTML page (verdicts, a card per failure);
                                            md: its verdict as Markdown (CI job summary, pull request)
  chatconform compare A.json B.json ... [-o matrix.html] [--format html|md]
                                            rules x targets matrix, with filters; Markdown for pull requests
  chatconform badge RESULTS [-o DIR]        shields.io endpoint JSON per profile
  chatconform diff --base-url A --model MA --against-base-url B --against-model MB [--examples N] [--seed S]
                                            send the same generated requests to two targets and list where
                                            the answers' shapes differ (status class, fields, chunk sequence)
  chatconform discover --base-url URL --model M [--api-key-env VAR] [-o FILE]
                                            probe a server and propose a targets.yaml entry
                                            (capabilities marked as detected, never trusted)
  chatconform rejudge RESULTS [-o NEW]      re-score a results.json's recorded exchanges with the
                                            current rules, without calling the server; shows changes

run options (the same options work with plain `pytest` in the repository root):
  --target NAME           a named target from targets.yaml (default: the embedded `reference`)
  --targets FILE          read targets from FILE instead of targets.yaml
  --base-url URL          an ad hoc target, e.g. http://127.0.0.1:8000/v1 (needs --model)
  --model MODEL           the model id to request from the ad hoc target
  --api-key-env VAR       the environment variable that holds its API key (never the key itself)
  --capabilities LIST     'all' or a comma list: streaming,stream_usage,tools,parallel_tools,vision,
                          audio,json_object,json_schema,logprobs,n,auth
  --lacks LIST            capabilities the ad hoc target declares it does NOT have (comma list; not
                          claiming one says nothing): e.g. --lacks vision makes VISION-006 judge an image
  --allow-remote-images   let the ad hoc target be sent https image URLs (VISION-001, VISION-004's
                          unreachable URL): the server will fetch them; off by default
  --level must|should     should (default): MUST and SHOULD rules fail the run;
                          must: SHOULD violations are reported as warnings
  --budget smoke|standard|thorough
                          smoke: a few core requests; standard (default): every test;
                          thorough: more property examples
  --timeout SECONDS       read timeout (default 30 for --base-url; a whole answer may take twice that)
  --connect-timeout SECONDS
                          connection timeout (default 5)
  --ca-bundle FILE        PEM bundle of the CAs to trust for https (default SSL_CERT_FILE, else certifi);
                          HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured
  --max-time SECONDS      the whole run's time limit (default 1800 for --base-url): the tests not run
                          are reported as not judged (error)
  --no-preflight          skip the check, before any test, that the target can be judged at all
  --results PATH          write results.json (every rule and test, with evidence)
  --junitxml PATH         standard JUnit XML (rule IDs in each test case's properties)
  --alluredir DIR         Allure results
  -n N                    run in N processes (pytest-xdist)

exit status: 0 every applicable check passed; 1 a check failed (or could not be judged: see
the ERROR lines); 4 usage or configuration error (bad targets.yaml, unknown target, missing key
variable); 2 interrupted; 6 target unusable (the preflight found it cannot be judged at all:
one message names the cause and the fix).
"""


def main(argv: list[str] | None = None) -> int:
    try:
        status = _main(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (`chatconform defects | head`): what it wanted was
        # printed.  Point stdout at devnull so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(HELP)
        return 0 if argv else 4
    cmd, rest = argv[0], argv[1:]
    if cmd == "run":
        return run(rest)
    if cmd == "serve":
        from .reference.__main__ import main as serve

        return serve(rest)
    if cmd == "rules":
        return list_rules(rest)
    if cmd in ("report", "compare", "badge"):
        from . import reporting

        return getattr(reporting, "main_" + cmd)(rest)
    if cmd == "diff":
        from .differential import main as diff

        return diff(rest)
    if cmd == "discover":
        from .discover import main as discover

        return discover(rest)
    if cmd == "rejudge":
        from .rejudge import main as rejudge

        return rejudge(rest)
    if cmd == "defects":
        from .reference.defects import DEFECTS

        for d in DEFECTS.values():
            print(f"{d.name:<40} {d.area:<11} breaks {', '.join(d.breaks):<24} {d.description}")
        return 0
    print(f"chatconform: unknown command {cmd!r}\n", file=sys.stderr)
    print(HELP, file=sys.stderr)
    return 4


def run(args: list[str]) -> int:
    """pytest over the packaged suites, from the current directory, with chatconform's own
    pytest configuration (chatconform/pytest.ini) rather than whatever the caller's
    project configures: an installed chatconform gives the same verdict anywhere."""
    if any(a in ("-h", "--help") for a in args):
        print(HELP)
        return 0
    chosen = bool(selected_tests(args))
    cmd = [sys.executable, "-m", "pytest", "-c", str(PACKAGE / "pytest.ini"), "--rootdir", os.getcwd()]
    cmd += [] if chosen else ["--pyargs", "chatconform.suites" if _installed_suites() else str(SUITES_DIR)]
    try:
        return subprocess.call(cmd + args)
    except KeyboardInterrupt:
        return 2


# Options whose value follows as the next argument: that value is never a test selection.
VALUE_OPTIONS = {
    "-k",
    "-m",
    "-c",
    "-o",
    "-p",
    "-n",
    "-W",
    "--junitxml",
    "--junit-xml",
    "--alluredir",
    "--rootdir",
    "--dist",
    "--tb",
    "--maxfail",
    "--hypothesis-seed",
    "--basetemp",
    "--log-file",
    "--durations",
    "--deselect",
    "--ignore",
    "--confcutdir",
    "--rule",
    "--name",
    "--timeout",
    "--connect-timeout",
    "--ca-bundle",
    "--max-time",
    "--concurrency",
}


def selected_tests(args: list[str]) -> list[str]:
    """The positional arguments that select tests (a test file, a directory, a node id,
    or chatconform.suites...), as opposed to option values such as `--targets FILE`."""
    from .plugin.options import OPTIONS

    takes_value = VALUE_OPTIONS | {
        f"--{p}{name}" for name, kw in OPTIONS if "action" not in kw for p in ("", "chatconform-")
    }
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a.startswith("-"):
            skip = a in takes_value
            continue
        path = a.split("::", 1)[0]
        if a.startswith("chatconform.suites") or (
            os.path.exists(path) and (path.endswith(".py") or os.path.isdir(path))
        ):
            out.append(a)
    return out


def _installed_suites() -> bool:
    """Whether the suites import as chatconform.suites (an installed or editable
    distribution); a bare checkout on sys.path runs them by their folder."""
    import importlib.util

    try:
        return importlib.util.find_spec("chatconform.suites") is not None
    except ImportError:
        return False


def list_rules(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="chatconform rules")
    p.add_argument("--level", choices=("MUST", "SHOULD", "MAY"))
    p.add_argument("--area")
    ns = p.parse_args(args)
    from . import rules

    for r in rules.catalogue().values():
        if (ns.level and r.level != ns.level) or (ns.area and r.area != ns.area.lower()):
            continue
        print(f"{r.id:<11} {r.level:<6} {(r.capability or '-'):<13} {r.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
