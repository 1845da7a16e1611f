"""The run's own deadline: `--max-time SECONDS` (targets.yaml `max_time`; 1800 s by
default for an ad hoc target).

Per-request timeouts bound one exchange; nothing else bounds a run whose server
answers every request slowly, just inside them.  When the run's time is up, the
request in flight is cut (Client._once bounds its deadline by the run's), no request
is sent any more (Client._send), and every test not yet run ends at once as not
judged (`error`, never `pass`): the run ends cleanly with the verdict so far, and
the summary says why.

The deadline is a wall-clock time, so that the processes of one run (pytest-xdist
workers) share it: the controller sets it once (plugin/guard.py) and the workers read it.
Within a process it is kept as a monotonic time, immune to clock steps.
"""

from __future__ import annotations

import time

from .violations import CannotJudge

_state: dict = {}


def start(max_time: float | None, source: str = "--max-time", deadline: float | None = None) -> None:
    """Start this process' clock: `max_time` seconds from now, or until the wall-clock
    `deadline` another process of the run set.  None: no limit."""
    _state.clear()
    if max_time is None:
        return
    wall = deadline if deadline is not None else time.time() + float(max_time)
    _state.update(max_time=float(max_time), source=source, wall=wall, mono=time.monotonic() + (wall - time.time()))


def stop() -> None:
    _state.clear()


def wall_deadline() -> float | None:
    return _state.get("wall")


def deadline() -> float | None:
    """The run's deadline as a time.monotonic() value, or None without a limit."""
    return _state.get("mono")


def left() -> float | None:
    d = deadline()
    return None if d is None else d - time.monotonic()


def expired() -> bool:
    d = deadline()
    return d is not None and time.monotonic() >= d


def reason() -> str:
    return f"the run reached its time limit ({_state.get('source', '--max-time')} {_state.get('max_time', 0):g}s)"


def check() -> None:
    """Raise CannotJudge once the run's time is up (before a test, before a request)."""
    if expired():
        raise CannotJudge(f"not judged: {reason()}; the remaining tests were not run")
