"""Builders shared by the self-tests: recorded exchanges without a server, and the suite
run in a subprocess as a user runs it."""

from __future__ import annotations

import functools
import json
import os
import pathlib
import subprocess
import sys

from chatconform.client import Exchange
from chatconform.sse import parse


def stream_exchange(raw: bytes, request: dict | None = None) -> Exchange:
    body = request or {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    ex = Exchange(
        method="POST",
        url="http://127.0.0.1:1/v1/chat/completions",
        request_headers={},
        request_body=json.dumps(body).encode(),
        request_json=body,
        status=200,
        headers={"content-type": "text/event-stream"},
        body=raw,
    )
    ex.sse = parse(raw)
    return ex


def json_exchange(
    payload, request: dict | None = None, status: int = 200, content_type: str = "application/json"
) -> Exchange:
    body = request or {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ex = Exchange(
        method="POST",
        url="http://127.0.0.1:1/v1/chat/completions",
        request_headers={},
        request_body=json.dumps(body).encode(),
        request_json=body,
        status=status,
        headers={"content-type": content_type},
        body=raw,
    )
    try:
        ex.json = json.loads(raw)
    except ValueError as exc:
        ex.json_error = str(exc)
    return ex


def sse_of(chunks, done: bool = True, sep: str = "\n\n") -> bytes:
    out = "".join(f"data: {json.dumps(c)}{sep}" for c in chunks)
    if done:
        out += f"data: [DONE]{sep}"
    return out.encode()


def chunk(i=0, delta=None, finish=None, **top):
    c = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": i, "delta": delta if delta is not None else {}, "finish_reason": finish}],
    }
    c.update(top)
    return c


def good_stream_chunks():
    return [
        chunk(delta={"role": "assistant", "content": ""}),
        chunk(delta={"content": "Hel"}),
        chunk(delta={"content": "lo"}),
        chunk(delta={}, finish="stop"),
    ]


def good_response():
    import time

    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


SUITES = pathlib.Path(__file__).resolve().parents[1] / "suites"


@functools.lru_cache(maxsize=1)
def suite_tests():
    """(module, test name, cited rule ids) for every collected test of suites/ (all its
    parametrized cases, rules from decorators and parametrize marks alike)."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "rules.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.collect_rules",
                "--budget",
                "thorough",
            ],
            cwd=SUITES.parent,
            env={**os.environ, "CHATCONFORM_COLLECT_RULES": str(out)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if not out.exists():
            raise RuntimeError(f"collecting suites/ failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        rows = json.loads(out.read_text())
    return tuple((r["module"], r["name"], tuple(r["rules"])) for r in rows)


ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_suite(
    args: list[str], out: pathlib.Path, paths=("suites",), env: dict | None = None, timeout: int = 600
) -> tuple[int, dict, str]:
    """Run the suite (`paths`) in a subprocess with `args`; its exit status, results.json
    (empty when none was written) and the end of what it printed.

    --assert=plain as `chatconform run` does (chatconform/pytest.ini): the self-tests run
    the suite hundreds of times, and rewriting chatconform's and hypothesis's modules in
    each process would cost 0.7 s a run wherever bytecode is not written."""
    cmd = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    cmd += ["--assert=plain", *args, "--results", str(out)]
    proc = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    data = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, data, proc.stdout[-4000:] + proc.stderr[-2000:]
