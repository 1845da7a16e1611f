"""Real results files for the report self-tests, made by running the suite.

Shared by tests/test_reporting.py and tests/browser/: rendering real runs (not only
hand-written fixtures) is what keeps the renderers in step with results.py.  Each run
takes ~15 s, so a process makes each sample once (cached in a temp directory), and
`make()` runs the suites in parallel.

Samples:
  reference   the embedded reference (plain `pytest suites`), target name "reference"
  faulty-a    the reference with several defects, an ad hoc target ("adhoc"), API key set
  faulty-b    other defects, one shared with faulty-a; also named "adhoc", so the
              comparison must disambiguate the two by file name
"""

from __future__ import annotations

import functools
import os
import pathlib
import subprocess
import sys
import tempfile

from chatconform import sharedfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The key the faulty servers require; `auth-key-echoed` makes the server send it back,
# so a renderer that leaked anything unredacted would show it.
KEY_ENV = "CC_REPORT_SAMPLE_KEY"
KEY = "sk-report-sample-5f1c9e0d7b3a4e21"
DEFECTS = {
    "faulty-a": ["usage-total-wrong", "stream-missing-done", "auth-key-echoed", "response-finish-reason-eos"],
    "faulty-b": ["usage-total-wrong", "stream-id-changes", "rejects-developer-role"],
}


def _cmd(out: pathlib.Path, args: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--results",
        str(out),
        # Reports render outcomes, not how many examples found them: 5 a property keep
        # every test (and a failing property's minimal request) at a third of the cost.
        "--examples",
        "5",
        *args,
    ]


@functools.lru_cache(maxsize=None)
def sample_dir() -> pathlib.Path:
    """Per self-test session: the pytest-xdist workers of one run share it (the report tests
    and the browser test run on different workers and need the same samples), so the
    samples are made once a run, not once a worker."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run or sharedfile.fcntl is None:  # not POSIX: each worker makes its own samples
        return pathlib.Path(tempfile.mkdtemp(prefix="chatconform-report-samples-"))
    path = pathlib.Path(tempfile.gettempdir()) / f"chatconform-report-samples-{os.getuid()}-{run}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


_made: dict[str, pathlib.Path] = {}


def make(names=("reference", *DEFECTS)) -> dict[str, pathlib.Path]:
    """Make the named samples (those not made yet, by this process or another worker of the
    run), the suite runs in parallel; {name: path}."""
    lock = os.open(sample_dir() / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        with sharedfile.locked(lock):  # another worker making them: wait, then reuse
            for name in names:
                if name not in _made and (sample_dir() / f"{name}.json").exists():
                    _made[name] = sample_dir() / f"{name}.json"
            return _make(names)
    finally:
        os.close(lock)


def _make(names) -> dict[str, pathlib.Path]:
    from chatconform.reference import start

    todo = [n for n in names if n not in _made]
    servers, procs = [], {}
    try:
        for name in todo:
            out = sample_dir() / f"{name}.json"
            if name == "reference":
                cmd, env = _cmd(out, []), {}
            else:
                srv = start(api_key=KEY, defects=DEFECTS[name])
                servers.append(srv)
                cmd = _cmd(
                    out,
                    [
                        "--base-url",
                        srv.base_url,
                        "--model",
                        "chatconform-reference",
                        "--capabilities",
                        "all",
                        "--api-key-env",
                        KEY_ENV,
                    ],
                )
                env = {KEY_ENV: KEY}
            # Output to a file, not a pipe: a failing run prints more than a pipe buffers, and
            # waiting on one run while another blocks on a full pipe serialises them.
            log = out.with_suffix(".log")
            with open(log, "w") as fh:
                procs[name] = (
                    out,
                    subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT),
                )
        for name, (out, proc) in procs.items():
            proc.wait(timeout=600)
            if not out.exists():
                tail = out.with_suffix(".log").read_text()[-3000:]
                raise RuntimeError(f"sample {name}: suite run wrote no results (rc {proc.returncode}):\n{tail}")
            _made[name] = out
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        for srv in servers:
            srv.stop()
    return {n: _made[n] for n in names}


def sample(name: str) -> pathlib.Path:
    """Path of results.json for one named sample (made on first use)."""
    return make((name,))[name]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere
    for n, path in make().items():
        print(n, path)
