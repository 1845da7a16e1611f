"""targets.yaml loading: every fault is one clear message (exit status 4), never a traceback."""

import os
import subprocess
import sys
import textwrap

import pytest

from chatconform import targets
from chatconform.violations import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(tmp_path, text):
    p = tmp_path / "targets.yaml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_repository_targets_file_is_valid():
    entries = targets.load_file(os.path.join(ROOT, "targets.yaml"))
    assert "reference" in entries


def test_full_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("CC_TEST_KEY", "sk-test-123456789")
    p = write(
        tmp_path,
        """
        targets:
          srv:
            base_url: http://127.0.0.1:9/v1/
            model: m
            api_key: ${CC_TEST_KEY}
            headers: {X-Team: a}
            capabilities: [streaming, tools]
            timeouts: {read: 3}
            expectations:
              - {rule: STREAM-017, reason: usage always sent, link: https://example.invalid/1, expires: 2099-01-01}
    """,
    )
    t = targets.resolve("srv", p)
    assert t.base_url == "http://127.0.0.1:9/v1" and t.api_key == "sk-test-123456789" and t.api_key_env == "CC_TEST_KEY"
    assert t.claims("tools") and not t.claims("vision") and t.timeouts["read"] == 3 and t.timeouts["connect"] == 5.0
    assert t.expectations[0].rule == "STREAM-017" and not t.expectations[0].expired()
    assert "sk-test-123456789" not in repr(t) and "sk-test-123456789" not in str(t.redacted())


@pytest.mark.parametrize(
    "text,needle",
    [
        ("targets: [unclosed", "not valid YAML"),
        ("targets:\n  a: {model: m, base_url: http://x/v1, colour: red}\n", "unknown key 'colour'"),
        ("targets:\n  a: {base_url: http://x/v1}\n", "model is a required property"),
        ("targets:\n  a: {model: m, base_url: http://x/v1, api_key: sk-literal}\n", "api_key"),
        (
            "targets:\n  a: {model: m, base_url: http://x/v1, api_key: '${CC_NOT_SET_ANYWHERE}'}\n",
            "CC_NOT_SET_ANYWHERE, which is not set",
        ),
        ("targets:\n  a: {model: m, base_url: 'ftp://x'}\n", "base_url"),
        ("targets:\n  a: {model: m, base_url: http://x/v1, capabilities: [telepathy]}\n", "capabilities"),
        (
            "targets:\n  a: {model: m, base_url: http://x/v1, expectations: [{rule: NOPE-001, reason: r, link: l, expires: 2030-01-01}]}\n",
            "NOPE-001",
        ),
        (
            "targets:\n  a: {model: m, base_url: http://x/v1, expectations: [{rule: RESP-001, reason: r, link: l}]}\n",
            "expires",
        ),
        ("nothing: here\n", "targets"),
    ],
)
def test_malformed_files_name_the_field(tmp_path, text, needle):
    p = write(tmp_path, text)
    with pytest.raises(UsageError) as exc:
        targets.resolve("a", p)
    assert needle in str(exc.value) and str(p) in str(exc.value)


def test_unknown_target(tmp_path):
    p = write(tmp_path, "targets:\n  a: {model: m, base_url: http://x/v1}\n")
    with pytest.raises(UsageError, match="no target named 'b'"):
        targets.resolve("b", p)


def run_pytest(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--targets", "{bad}"],
        ["--target", "no-such-target"],
        ["--base-url", "ftp://x", "--model", "m"],
        ["--base-url", "http://127.0.0.1:9/v1"],
        ["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key-env", "CC_NOT_SET_ANYWHERE"],
        ["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--capabilities", "telepathy"],
    ],
)
def test_usage_errors_exit_4_without_traceback(tmp_path, args):
    bad = write(tmp_path, "targets:\n  a: {model: m, base_url: http://x/v1, colour: red}\n")
    args = [str(bad) if a == "{bad}" else a for a in args]
    r = run_pytest("suites", *args)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "ERROR:" in r.stderr


def test_unreachable_target_is_an_error_not_a_failure(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    res = tmp_path / "r.json"
    # Past the preflight (which ends this run before any test: tests/test_preflight.py).
    r = run_pytest(
        "suites/test_response.py",
        "--base-url",
        f"http://127.0.0.1:{port}/v1",
        "--model",
        "m",
        "--results",
        str(res),
        "--no-preflight",
    )
    assert r.returncode == 1 and "Traceback" not in r.stdout
    import json

    data = json.loads(res.read_text())
    assert set(data["counts"]) == {"error"}, data["counts"]
