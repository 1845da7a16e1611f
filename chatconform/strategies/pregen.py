"""Drawing the property tests' examples ahead, in a process of their own.

Hypothesis spends 5-20 ms drawing one request (a few hundred choices, each with its
bookkeeping), longer than the embedded reference takes to answer it.  Drawn in the
pytest process, that time adds to every property example; drawn here, on another
core, while the other tests run, it mostly disappears from the run's wall time.

What is drawn is exactly what the property test itself would draw first: the same case
(cases.py), profile, seed and hypothesis settings (harness.generation_settings), with a
test function that only keeps what it is called with.  Hypothesis' choices depend on
the seed and on how earlier examples ended; until the first failure every example ends
the same way in both processes (it passes, or `prepare` rejects it), so the values match
one for one.  The property harness sends these values first (pass 1, several in
flight); only if one of them fails does hypothesis run in the pytest process, replaying
them from the answer cache up to the failure, then shrinking it (pass 2).

    python -m chatconform.strategies.pregen OUTDIR < jobs.pickle
writes OUTDIR/<i>.pickle (the values of job i) or OUTDIR/<i>.error, one job after the
other, each atomically (written aside, then renamed).
"""
from __future__ import annotations

import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, given
from hypothesis import seed as hypothesis_seed

from .cases import Case, build
from .requests import Profile

GIVE_UP_S = 300.0          # one job taking longer than this: draw in the pytest process instead
POLL_S = 0.005


@dataclass(frozen=True)
class Job:
    nodeid: str
    case: Case
    profile: Profile
    examples: int
    seed: Any


def draw_values(case: Case, profile: Profile, examples: int, seed: Any) -> list:
    """The values hypothesis calls a passing property test with, in order (those that
    `prepare` rejects left out: the test never sends them either)."""
    from .harness import fixed_constants, generation_settings

    built = build(case, profile)
    if built.strategy is None:
        return []
    out: list = []

    def keep(value):
        if built.prepare is not None:
            assume(built.prepare(value) is not None)      # rejected exactly as in the test
        out.append(value)

    inner = generation_settings(examples)(hypothesis_seed(seed)(given(built.strategy)(keep)))
    with fixed_constants():
        inner()
    return out


def _write(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-3].strip(), file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    jobs: list[Job] = pickle.load(sys.stdin.buffer)
    for i, job in enumerate(jobs):
        try:
            values = draw_values(job.case, job.profile, job.examples, job.seed)
        except Exception as exc:                  # noqa: BLE001 - the test draws for itself then
            _write(out / f"{i}.error", f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
            continue
        _write(out / f"{i}.pickle", pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


class Pregenerator:
    """The parent's side: starts the drawing process, hands each test its values, stops
    it (by its PID, via Popen) and removes its directory."""

    def __init__(self, jobs: list[Job]):
        self.index = {job.nodeid: i for i, job in enumerate(jobs)}
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chatconform-pregen-"))
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith(("_KEY", "_TOKEN", "_SECRET"))}
        self.proc = subprocess.Popen([sys.executable, "-m", "chatconform.strategies.pregen", str(self.dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env)
        try:
            self.proc.stdin.write(pickle.dumps(jobs, protocol=pickle.HIGHEST_PROTOCOL))
            self.proc.stdin.close()
        except OSError:
            pass                                  # it died at once: values() says None, the tests draw themselves

    def values(self, nodeid: str) -> list | None:
        """The values drawn for this test, waiting for them while the process works on
        them; None when it has none (not a job, failed, gone): the test draws itself."""
        i = self.index.get(nodeid)
        if i is None:
            return None
        done, failed = self.dir / f"{i}.pickle", self.dir / f"{i}.error"
        start = time.monotonic()
        while True:
            if done.exists():
                try:
                    return pickle.loads(done.read_bytes())
                except Exception:                 # noqa: BLE001 - a torn file: draw in-process
                    return None
            if failed.exists() or time.monotonic() - start > GIVE_UP_S:
                return None
            if self.proc.poll() is not None and not done.exists():
                return None
            time.sleep(POLL_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
