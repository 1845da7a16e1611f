"""Small state shared by the processes of one run (pytest-xdist workers): one file,
read, changed and written back atomically under `fcntl.flock`, so concurrent
processes and threads never lose an update.  Used by the rate limit (the next free
slot) and the budget ledger (what the run has spent); `write_atomic` for files written
whole (caches, the drawn examples)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
import threading
from typing import Callable

try:
    import fcntl
except ImportError:  # not POSIX: the state then holds within one process only
    fcntl = None

_THREADS = threading.Lock()  # stands in for flock where fcntl is missing


def write_atomic(path: pathlib.Path, data: bytes) -> None:
    """Write `path` so that a reader sees the old content or the new, never a part:
    written aside (a name of this process'), then renamed over it."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def state_dir() -> pathlib.Path:
    # Per user, so two users on one host neither share nor fight over the files.
    base = os.environ.get("CHATCONFORM_RATELIMIT_DIR") or os.path.join(
        tempfile.gettempdir(), f"chatconform-ratelimit-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    )
    path = pathlib.Path(base)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(fd: int):
    """Hold an exclusive lock on the open file `fd` (flock; a thread lock where fcntl is missing)."""
    if fcntl:
        fcntl.flock(fd, fcntl.LOCK_EX)
    else:
        _THREADS.acquire()
    try:
        yield
    finally:
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            _THREADS.release()


def update(path: pathlib.Path, change: Callable[[bytes], bytes], size: int = 4096) -> bytes:
    """Replace the file's content (at most `size` bytes read; b"" when new) by
    change(content), atomically; returns the content now.  Nothing is written when the
    change leaves the content as it was (a read, e.g. the budget ledger's totals)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with locked(fd):
            raw = os.pread(fd, size, 0) if hasattr(os, "pread") else os.read(fd, size)
            data = change(raw)
            if data != raw:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, data)
            return data
    finally:
        os.close(fd)
