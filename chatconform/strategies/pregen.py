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

    python -m chatconform.strategies.pregen OUTDIR [NICE] < jobs.pickle
reads [(i, job, cache file), ...] and writes OUTDIR/<i>.pickle (the values of job i) or
OUTDIR/<i>.error, one job after the other, each atomically (written aside, then renamed),
and the values to the cache file too.  Before drawing job i it claims it (creates
OUTDIR/<i>.claim holding its PID, or skips the job if another process did).

What a job draws is a pure function of the job (case, profile, examples, seed), the
suite's own files and the hypothesis and Python versions, so it is cached per user like
__pycache__ (schemas.cache_dir()/examples, keyed by all of these: any edit to the
package, its schemas or fixtures is a miss).  A run whose jobs are all cached starts no
drawing process at all.  Entries unused for CACHE_DAYS are removed.

Two such processes share the jobs from both ends: one draws them in the order the
tests run, at nice 10 (it uses what the other tests leave idle); the other from the
last job backward, at nice 19, so on 2 cores it takes only CPU time nobody else wants:
while the pytest process waits for the server (the reference paces its streams), and
at the end, when the property tests wait for the last examples.  Drawing from the back,
it never holds a job the next test needs while it starves.  (Two processes sharing the
jobs alternately at the same priority were measured no faster on 2 cores.)
"""
from __future__ import annotations

import functools
import hashlib
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

from ..sharedfile import write_atomic
from .cases import Case, build
from .requests import Profile

CACHE_DAYS = 14
NICENESS = (10, 19)        # the drawing processes: forward from the first job, backward from the last
GIVE_UP_S = 300.0          # one job taking longer than this: draw in the pytest process instead
POLL_S = 0.005


@dataclass(frozen=True)
class Job:
    case: Case
    profile: Profile
    examples: int
    seed: Any


def draw_values(case: Case, profile: Profile, examples: int, seed: Any) -> list[tuple]:
    """(value, request body) for each value hypothesis calls a passing property test
    with, in order (those that `prepare` rejects left out: the test never sends them)."""
    from .harness import fixed_constants, generation_settings

    built = build(case, profile)
    if built.strategy is None:
        return []
    out: list = []

    def keep(value):
        body = built.prepare(value) if built.prepare is not None else value
        assume(body is not None)                  # rejected exactly as in the test
        out.append((value, body))

    inner = generation_settings(examples)(hypothesis_seed(seed)(given(built.strategy)(keep)))
    with fixed_constants():
        inner()
    return out


@functools.lru_cache(maxsize=1)
def _tree_digest() -> str:
    """A digest of everything drawing depends on besides the job: the package's code and
    data, the schemas, the fixtures, and the hypothesis and Python versions."""
    import hypothesis
    root = pathlib.Path(__file__).resolve().parents[2]
    h = hashlib.sha256(f"{hypothesis.__version__}|{sys.version}".encode())
    for top in ("chatconform", "schemas", "fixtures"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def cache_file(job: Job) -> pathlib.Path:
    from ..schemas import cache_dir
    key = repr((_tree_digest(), job.case.kind, job.case.name, job.profile.model, sorted(job.profile.capabilities),
                job.profile.max_tokens, job.profile.max_n, job.examples, repr(job.seed)))
    return cache_dir() / "examples" / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.pickle"


def _cache(path: pathlib.Path | None, data: bytes) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        old = time.time() - CACHE_DAYS * 86400
        for other in path.parent.glob("*.pickle"):
            if other.stat().st_mtime < old:
                other.unlink()
    except OSError:
        pass                                      # an unwritable cache only costs the time


def _skipped(out: pathlib.Path) -> set[int]:
    try:
        return {int(x) for x in (out / "skip").read_text().split()}
    except (OSError, ValueError):
        return set()


def _claim(out: pathlib.Path, i: int) -> bool:
    """Take job i, unless another drawing process has (O_EXCL: one of them wins)."""
    try:
        fd = os.open(out / f"{i}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print("usage: python -m chatconform.strategies.pregen OUTDIR [NICE] < jobs.pickle", file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    if hasattr(os, "nice"):
        # Low priority: drawing has slack while the other tests run (they come first, and
        # finish sooner without competing for the cores); it uses what they leave idle.
        os.nice(int(sys.argv[2]) if len(sys.argv) == 3 else NICENESS[0])
    jobs: list[tuple[int, Job, str | None]] = pickle.load(sys.stdin.buffer)
    for i, job, cached in jobs:
        if i in _skipped(out) or not _claim(out, i):
            continue
        try:
            values = draw_values(job.case, job.profile, job.examples, job.seed)
        except Exception as exc:                  # noqa: BLE001 - the test draws for itself then
            write_atomic(out / f"{i}.error", f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
            continue
        data = pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL)
        # The cache first: once a test sees its values, the next run will find them too
        # (the run may end, and stop this process, as soon as the test has them).
        _cache(pathlib.Path(cached) if cached else None, data)
        write_atomic(out / f"{i}.pickle", data)
    return 0


class Pregenerator:
    """The parent's side: starts the drawing processes, hands each test its values, stops
    them (by their PIDs, via Popen) and removes their directory.

    Under pytest-xdist the controller (idle while the workers test) starts them, and
    each worker attaches to the same directory (`shared()` / `attach()`): one drawing
    for the whole run, whatever worker runs a case."""

    def __init__(self, jobs: list[Job], drawers: int = len(NICENESS), secret_env: tuple = ()):
        self.index = {job.case: i for i, job in enumerate(jobs)}
        self.needed = [job.case for job in jobs]       # in run order; only() narrows it
        self._ready: dict[int, list] = {}               # read from the cache already
        self.pids: list[int] = []
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chatconform-pregen-"))
        # They need no credential: none reaches them.
        env = {k: v for k, v in os.environ.items()
               if k not in secret_env and not k.upper().endswith(("_KEY", "_TOKEN", "_SECRET"))}
        self.procs = []
        todo = []
        for i, job in enumerate(jobs):
            path = cache_file(job)
            try:
                data = path.read_bytes()
                self._ready[i] = pickle.loads(data)   # a torn entry is drawn again, not trusted
                write_atomic(self.dir / f"{i}.pickle", data)    # drawn by an earlier run (for -n workers)
                os.utime(path)                                          # in use: not pruned
            except Exception:                     # noqa: BLE001 - absent, unreadable or torn
                todo.append((i, job, str(path)))
        n = max(1, min(drawers, len(todo), len(NICENESS)))
        for w in range(n if todo else 0):
            proc = subprocess.Popen([sys.executable, "-m", "chatconform.strategies.pregen", str(self.dir), str(NICENESS[w])],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            self.procs.append(proc)
            self.pids.append(proc.pid)
            share = todo if w == 0 else todo[::-1]     # both ends; claims keep them apart
            try:
                proc.stdin.write(pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL))
                proc.stdin.close()
            except OSError:
                pass                              # it died at once: values() says None, the tests draw themselves

    def shared(self) -> dict:
        """What a pytest-xdist worker needs to attach (plain data: it travels to workers)."""
        return {"dir": str(self.dir), "cases": [[c.kind, c.name] for c in self.index], "pids": self.pids}

    @classmethod
    def attach(cls, info: dict) -> "Pregenerator":
        """A worker's view of the controller's drawing: reads only, stops nothing."""
        self = cls.__new__(cls)
        self.index = {Case(*c): i for i, c in enumerate(info["cases"])}
        self.needed, self._ready = list(self.index), {}
        self.pids, self.procs, self.dir = list(info["pids"]), [], pathlib.Path(info["dir"])
        return self

    def _alive(self, i: int) -> bool:
        """Whether a drawing process may still write job i's values: the one that claimed
        it works on, or none has claimed it yet and one works on."""
        try:
            claimer = int((self.dir / f"{i}.claim").read_text())
        except (OSError, ValueError):
            claimer = None                        # unclaimed (or the claim is being written)
        if self.procs:
            return any(p.poll() is None and (claimer is None or p.pid == claimer) for p in self.procs)
        return any(_exists(pid) for pid in self.pids if claimer is None or pid == claimer)

    def only(self, needed) -> None:
        """Of the cases started with, only `needed` run (known after collection): the
        drawing processes skip the others."""
        skip = [str(i) for case, i in self.index.items() if case not in needed]
        self.needed = [case for case in self.needed if case in needed]
        write_atomic(self.dir / "skip", " ".join(skip).encode())

    def values(self, case: Case) -> list | None:
        """The values drawn for this case, waiting for them while a process works on
        them; None when there are none (not a job, failed, gone): the test draws itself."""
        i = self.index.get(case)
        if i is None:
            return None
        if i in self._ready:
            return self._ready[i]
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
            if not self._alive(i) and not done.exists():
                return None
            time.sleep(POLL_S)

    def stop(self) -> None:
        if not self.procs:
            return                                # attached (a worker): the controller stops them
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)                           # signal 0: only asks whether it exists
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
