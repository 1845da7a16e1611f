"""Answers fetched ahead: the property tests' requests sent by a process of their own
while the other tests run.

Once the property tests' examples are drawn (pregen.py, or read from its cache), what is
left of a property test is sending ~30 requests and judging the answers.  The pytest
process does the other tests one request at a time and mostly waits; a second core is
idle.  This process sends the property cases' requests (boundary examples and drawn
ones, in the order the tests run, `concurrency` at a time) with a Client of the same
target, and hands each answer back through a pipe; the test then takes the answer
instead of sending (Client.adopt: the request side it would have sent, the breaker, the
observer's checks), so its first pass costs the judging only.

What must not change does not: the same requests, byte for byte, each sent once and
judged in the test that owns it.  A test waits for its case's answers (the process
works in the tests' order; waiting costs no more than sending).  An answer that is a
transport error, a 429 or a 503, or larger than MAX_ANSWER_BYTES, is not handed back:
the test sends that request itself, with its retries and its breaker.  Answers the test
does not need (its first pass stops at the first failure) are recorded on it all the
same, unjudged: they were sent, and count in its spend.

The process stops after BREAKER consecutive transport errors (an unresponsive target is
the test's to report), after handing back MAX_TOTAL_BYTES, and when the run ends.  No
credential leaves it: the request side of what it hands back is emptied (the test's
Client fills its own in), and nothing is written to disk.  Not used when spend is capped
or paced (targets.yaml `budget`, `rate_limit.requests_per_minute`): requests sent ahead
would escape the caps and the pacing; nor under pytest-xdist.

    python -m chatconform.strategies.fetch < spec.pickle > frames.pickle
"""
from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .cases import Case, build
from .harness import prepared, request_key as key_of

BREAKER = 3
MAX_ANSWER_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024


def allowed(target) -> bool:
    return not target.budget and not (target.rate_limit or {}).get("requests_per_minute")


# -- the fetching process -----------------------------------------------------------------------
def _bodies(case: Case, profile, pregen) -> list[tuple[str, Any]]:
    built = build(case, profile)
    out: dict[str, Any] = {}
    for _, body in prepared(built.explicit, built.prepare) + (pregen.values(case) or []):
        out.setdefault(key_of(body), body)
    return list(out.items())


def main() -> int:
    from ..client import Client
    from ..violations import CannotJudge
    from .pregen import Pregenerator

    spec = pickle.load(sys.stdin.buffer)
    out, lock = sys.stdout.buffer, threading.Lock()
    client = Client(spec["target"])
    pregen = Pregenerator.attach(spec["pregen"])
    state = {"errors": 0, "bytes": 0, "stop": False}

    def frame(obj) -> None:
        with lock:
            pickle.dump(obj, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    def fetch(case: Case, k: str, body: Any) -> None:
        if state["stop"]:
            return
        try:
            ex = client.chat(body)
        except CannotJudge as exc:
            ex = exc.exchange
        failed = ex is None or bool(ex.transport_error) or ex.timed_out
        with lock:
            state["errors"] = state["errors"] + 1 if failed else 0
            if state["errors"] >= BREAKER:
                state["stop"] = True
        if ex is None:
            return
        ex.request_headers = {}                   # the credentials stay here
        with lock:
            usable = (not failed and ex.status not in (429, 503) and len(ex.body) <= MAX_ANSWER_BYTES
                      and state["bytes"] + len(ex.body) <= MAX_TOTAL_BYTES)
            if usable:
                state["bytes"] += len(ex.body)
        if not usable:
            # Sent, but the test sends it itself: handed back only to be recorded (spend).
            ex.body, ex.sse, ex.json = ex.body[:4096], None, None
        frame(("answer" if usable else "dropped", case, k, ex))

    with ThreadPoolExecutor(max_workers=max(1, spec["concurrency"])) as pool:
        for case in spec["cases"]:
            if state["stop"]:
                break
            list(pool.map(lambda kb: fetch(case, *kb), _bodies(case, spec["profile"], pregen)))
            frame(("end", case))
    client.close()
    return 0


# -- the pytest process' side ------------------------------------------------------------------
class Fetcher:
    """Starts the fetching process (its PID via Popen), reads its answers, hands them to
    the tests, stops it."""

    def __init__(self, target, pregen, profile, concurrency: int):
        self._cond = threading.Condition()
        self._held: dict[Case, dict[str, Any]] = {}
        self._dropped: dict[Case, list] = {}
        self._ended: set[Case] = set()
        self._over = False
        self.proc = subprocess.Popen([sys.executable, "-m", "chatconform.strategies.fetch"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, name="chatconform-fetch-reader", daemon=True)
        self._reader.start()
        try:
            self.proc.stdin.write(pickle.dumps({"target": target, "pregen": pregen.shared(), "profile": profile,
                                                "cases": list(pregen.needed), "concurrency": concurrency},
                                               protocol=pickle.HIGHEST_PROTOCOL))
            self.proc.stdin.close()
        except OSError:
            pass                                  # it died at once: the reader ends, the tests send themselves

    def _read(self) -> None:
        try:
            while True:
                item = pickle.load(self.proc.stdout)
                with self._cond:
                    if item[0] == "answer":
                        self._held.setdefault(item[1], {})[item[2]] = item[3]
                    elif item[0] == "dropped":
                        self._dropped.setdefault(item[1], []).append(item[3])
                    elif item[0] == "end":
                        self._ended.add(item[1])
                    self._cond.notify_all()
        except Exception:                         # noqa: BLE001 - EOF (done or stopped) or a torn frame
            pass
        with self._cond:
            self._over = True
            self._cond.notify_all()

    def _wait(self, case: Case) -> None:
        self._cond.wait_for(lambda: case in self._ended or self._over)

    def take(self, case: Case, body: Any):
        """The answer fetched for this request of `case` (after the process is done with
        the case), or None: the test sends it itself."""
        with self._cond:
            self._wait(case)
            return self._held.get(case, {}).pop(key_of(body), None)

    def release(self, case: Case) -> list:
        """The test of `case` is over: the answers it did not take and those not handed
        back (sent all the same: recorded, unjudged)."""
        with self._cond:
            self._wait(case)
            return list(self._held.pop(case, {}).values()) + self._dropped.pop(case, [])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
