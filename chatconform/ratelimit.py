"""Client-side rate limit per target (targets.yaml `rate_limit: {requests_per_minute: N}`).

The limit must hold for the whole run, and a run may be several processes
(pytest-xdist workers), so the state cannot live in memory: one small file per
target in the temp directory holds the earliest time the next request may start,
and `fcntl.flock` makes read-reserve-write atomic across processes and threads.
Requests are spaced evenly (60/N seconds apart), so no 60-second window ever
holds more than N.  A request reserves its slot under the lock and sleeps outside
it, so waiting processes never hold the lock.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import time

from .sharedfile import state_dir, update

MAX_QUEUE = 256  # more waiters than this at once means the clock jumped, not a queue


class RateLimiter:
    def __init__(
        self,
        key: str,
        requests_per_minute: float,
        directory: pathlib.Path | None = None,
        sleep=time.sleep,
        clock=time.time,
    ):
        self.interval = 60.0 / float(requests_per_minute)
        # Keyed by target name and URL: every ad hoc target is named "adhoc".
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key.split("|")[0])[:40]
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        self.path = (directory or state_dir()) / f"{safe}-{digest}.next"
        self._sleep, self._clock = sleep, clock
        self.last_slot: float | None = None  # the start time reserved by the last acquire()

    def acquire(self) -> float:
        """Block until this request may start; returns the seconds waited."""
        now, self.last_slot = self._reserve()
        wait = self.last_slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self) -> tuple[float, float]:
        times: list[float] = []

        def take_slot(raw: bytes) -> bytes:
            now = self._clock()
            try:
                nxt = float(raw.decode() or 0)
            except ValueError:
                nxt = 0.0  # a torn or foreign file: start afresh
            if nxt > now + MAX_QUEUE * self.interval + 60:
                nxt = now  # the wall clock went back: do not wait for ever
            slot = max(now, nxt)
            times[:] = [now, slot]
            return repr(slot + self.interval).encode()

        update(self.path, take_slot, size=64)
        return times[0], times[1]


def for_target(target) -> RateLimiter | None:
    rpm = (getattr(target, "rate_limit", None) or {}).get("requests_per_minute")
    if not rpm:
        return None
    return RateLimiter(f"{target.name}|{target.base_url}", rpm)
