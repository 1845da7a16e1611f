"""The preflight (chatconform/preflight.py): a target that cannot be judged stops the run
before any test with one message of at most 20 lines naming the cause and the fix, and
exit status 6; a target that can be judged (whatever its conformance faults) is judged.

One test per cause, as a user meets it: `pytest --base-url ...` in a subprocess against
a loopback server (the reference, or a hostile one), checking the exit status, what
the message says, its length, how long it took, and that no key is ever printed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatconform import preflight
from chatconform.reference import start
from chatconform.reference.defects import DEFECTS
from chatconform.targets import Target

from .hostile import HostileServer
from .proxy import LoopbackProxy

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-preflight-" + "9c2e7d" * 4  # recognizable: must appear in no output
ONE_TEST = "suites/test_response.py::test_usage"
DEAD_BOUND = 10.0  # seconds: a dead target is diagnosed within this


def run(
    tmp_path, base_url: str, *extra, env: dict | None = None, model: str = "chatconform-reference", paths=(ONE_TEST,)
) -> tuple[int, str, float, dict]:
    """pytest against an ad hoc target: (exit status, all output, seconds, results.json)."""
    results = tmp_path / "r.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "-q",
        "-p",
        "no:cacheprovider",
        "--base-url",
        base_url,
        "--model",
        model,
        "--capabilities",
        "all",
        "--results",
        str(results),
        *extra,
    ]
    full_env = {**os.environ, "CHATCONFORM_RATELIMIT_DIR": str(tmp_path / "state"), **(env or {})}
    for name in [k for k, v in full_env.items() if v is None]:
        del full_env[name]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert KEY not in out
    data = json.loads(results.read_text()) if results.exists() else {}
    return proc.returncode, out, time.monotonic() - t0, data


def unusable(rc: int, out: str, *needles: str) -> None:
    assert rc == 6, f"exit {rc}\n{out[-3000:]}"
    lines = out.strip().splitlines()
    assert len(lines) <= 20, f"{len(lines)} lines:\n{out}"
    assert "cannot be judged" in lines[0] and "exit status 6" in out, out
    assert "Traceback" not in out and "FAILED" not in out and "PASSED" not in out, out
    for n in needles:
        assert n in out, f"{n!r} not in:\n{out}"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- causes: nothing there, something else there ----------------------------------------------
def test_connection_refused(tmp_path):
    port = free_port()
    rc, out, took, data = run(tmp_path, f"http://127.0.0.1:{port}/v1")
    unusable(rc, out, "connection refused", f"127.0.0.1:{port}", "start the server", "--base-url")
    assert took < DEAD_BOUND and not data


def test_port_that_does_not_speak_http(tmp_path):
    with HostileServer("not-http") as srv:
        rc, out, took, _ = run(tmp_path, srv.base_url)
    unusable(rc, out, "does not speak HTTP", f"127.0.0.1:{srv.port}", "the server's HTTP port")
    assert took < DEAD_BOUND and len(srv.stats.requests) == 1


def test_no_answer_within_the_read_timeout(tmp_path):
    with HostileServer("hang") as srv:
        rc, out, took, _ = run(tmp_path, srv.base_url, "--timeout", "2")
    unusable(rc, out, "unresponsive: no answer within 2s", "--timeout SECONDS")
    assert 2 <= took < 2 + DEAD_BOUND and len(srv.stats.requests) == 1


def test_headers_then_nothing(tmp_path):
    with HostileServer("headers-only") as srv:
        rc, out, took, _ = run(tmp_path, srv.base_url, "--timeout", "2")
    unusable(rc, out, "headers arrived, then the body stalled", "-> HTTP 200")
    assert took < 2 + DEAD_BOUND


def test_connect_timeout(tmp_path):
    """A listener whose accept queue is full drops the SYN: the connection never comes.
    With the default timeouts (connect 5 s) it is diagnosed within DEAD_BOUND."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fill = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    try:
        rc, out, took, _ = run(tmp_path, f"http://127.0.0.1:{port}/v1")
    finally:
        for c in fill:
            c.close()
        lsock.close()
    unusable(rc, out, "no connection within 5s", "--connect-timeout")
    assert 5 <= took < DEAD_BOUND


# -- TLS ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made for this run (openssl CLI)."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return str(d / "cert.pem"), str(d / "key.pem")


def test_tls_certificate_problem_names_the_ca_bundle(tmp_path, cert):
    with HostileServer("ok", tls=cert) as srv:
        rc, out, took, _ = run(tmp_path, srv.base_url)
        assert srv.base_url.startswith("https://")
        unusable(rc, out, "TLS: a certificate problem (self-signed certificate)", "--ca-bundle FILE", "SSL_CERT_FILE")
        assert took < DEAD_BOUND
        # The fix works, both ways it names.
        for extra, env in ((("--ca-bundle", cert[0]), None), ((), {"SSL_CERT_FILE": cert[0], "SSL_CERT_DIR": None})):
            rc, out, _, data = run(tmp_path, srv.base_url, *extra, env=env)
            assert rc in (0, 1) and "cannot be judged" not in out, out[-2000:]
            assert data["run"]["preflight"]["usable"] and data["tests"], out[-2000:]


def test_https_through_a_connect_proxy(tmp_path, cert):
    with HostileServer("ok", tls=cert) as srv, LoopbackProxy() as proxy:
        rc, out, _, data = run(
            tmp_path,
            srv.base_url,
            "--ca-bundle",
            cert[0],
            env={"HTTPS_PROXY": proxy.url, "NO_PROXY": None, "no_proxy": None},
        )
    assert rc in (0, 1) and data["run"]["preflight"]["usable"], out[-2000:]
    assert proxy.seen and all(s == f"CONNECT 127.0.0.1:{srv.port}" for s in proxy.seen), proxy.seen


def test_http_to_a_tls_port(tmp_path, cert):
    with HostileServer("ok", tls=cert) as srv:
        rc, out, took, _ = run(tmp_path, srv.base_url.replace("https://", "http://"))
    unusable(rc, out, "does not speak HTTP", "use https://")
    assert took < DEAD_BOUND


# -- the key ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["wrong", "empty", "unset", "none"])
def test_refused_key_names_the_variable_never_the_value(tmp_path, case):
    with start(api_key=KEY[::-1]) as srv:  # the server wants another key
        if case == "unset":
            # Only a targets file can name a variable that is unset (with a default).
            f = tmp_path / "t.yaml"
            f.write_text(
                json.dumps(
                    {
                        "targets": {
                            "x": {
                                "base_url": srv.base_url,
                                "model": "chatconform-reference",
                                "api_key": "${PREFLIGHT_KEY:-}",
                                "capabilities": "all",
                            }
                        }
                    }
                )
            )
            t0 = time.monotonic()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    ONE_TEST,
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--targets",
                    str(f),
                    "--target",
                    "x",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={k: v for k, v in os.environ.items() if k != "PREFLIGHT_KEY"},
                timeout=120,
            )
            rc, out, took = proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0
        elif case == "none":
            rc, out, took, _ = run(tmp_path, srv.base_url)
        else:
            rc, out, took, _ = run(
                tmp_path,
                srv.base_url,
                "--api-key-env",
                "PREFLIGHT_KEY",
                env={"PREFLIGHT_KEY": KEY if case == "wrong" else ""},
            )
    assert KEY not in out and KEY[::-1] not in out
    said = {
        "wrong": [
            "the key from the environment variable PREFLIGHT_KEY was sent, and refused",
            "put a valid key for this server in PREFLIGHT_KEY",
        ],
        "empty": ["PREFLIGHT_KEY is set but empty: no key was sent", "export PREFLIGHT_KEY="],
        "unset": ["PREFLIGHT_KEY is unset: no key was sent", "export PREFLIGHT_KEY="],
        "none": ["no API key is configured", "--api-key-env"],
    }[case]
    unusable(rc, out, "HTTP 401 (unauthorized)", *said)
    assert took < DEAD_BOUND


# -- the path and the model ----------------------------------------------------------------------------
def test_404_without_v1_tries_v1(tmp_path):
    with start() as srv:
        bare = srv.base_url.removesuffix("/v1")
        rc, out, took, _ = run(tmp_path, bare)
        unusable(
            rc,
            out,
            f"HTTP 404: no chat completions at {bare}/chat/completions",
            f"{bare}/v1/chat/completions answers (HTTP 200)",
            f"use {bare}/v1 as the base URL",
        )
        assert took < DEAD_BOUND
        rc, out, _, _ = run(tmp_path, bare + "/api")
        unusable(rc, out, f"{bare}/api/v1/chat/completions does not answer either (HTTP 404)", "/api/v1")


def test_unknown_model_lists_what_the_target_offers(tmp_path):
    with start() as srv:
        rc, out, took, _ = run(tmp_path, srv.base_url, model="gpt-nonexistent")
    unusable(
        rc, out, "does not know the model 'gpt-nonexistent'", "/models offers: chatconform-reference", "--model ID"
    )
    assert took < DEAD_BOUND


def test_proxy_is_used_and_a_dead_proxy_is_named(tmp_path):
    with start() as srv, LoopbackProxy() as proxy:
        rc, out, _, data = run(
            tmp_path, srv.base_url, env={"HTTP_PROXY": proxy.url, "NO_PROXY": None, "no_proxy": None}
        )
        assert rc == 0 and data["run"]["preflight"]["requests"][0]["proxy"] == proxy.url, out[-2000:]
        assert any(s.startswith(f"POST {srv.base_url}/chat/completions") for s in proxy.seen), proxy.seen
        dead = f"http://127.0.0.1:{free_port()}"
        rc, out, _, _ = run(tmp_path, srv.base_url, env={"HTTP_PROXY": dead, "NO_PROXY": None, "no_proxy": None})
        unusable(rc, out, f"the proxy {dead} failed", "NO_PROXY")
        rc, out, _, _ = run(tmp_path, srv.base_url, env={"HTTP_PROXY": dead, "NO_PROXY": "127.0.0.1"})
        assert rc == 0, out[-2000:]


# -- what a usable target learns, and what is never unusable --------------------------------------------
def _target(base_url: str, **kw) -> Target:
    return Target(
        name="t",
        base_url=base_url,
        model="chatconform-reference",
        capabilities=frozenset(),
        timeouts={"connect": 2, "read": 3, "total": 6},
        **kw,
    )


def test_token_field_falls_back_to_max_tokens(tmp_path):
    with HostileServer("refuses-max-completion-tokens") as srv:
        r = preflight.run(_target(srv.base_url))
        assert r.usable and r.token_field == "max_tokens" and len(r.requests) == 2, r
        assert "refused max_completion_tokens" in r.notes[0]
        # As the suite sees it: on the Target and in results.json.
        rc, out, _, data = run(tmp_path, srv.base_url)
    assert rc in (0, 1) and data["target"]["token_field"] == "max_tokens", out[-2000:]
    assert data["run"]["preflight"]["token_field"] == "max_tokens"
    with HostileServer("ok") as srv:
        r = preflight.run(_target(srv.base_url))
    assert r.usable and r.token_field == "max_completion_tokens" and len(r.requests) == 1
    assert json.loads(srv.stats.requests[0].body)["max_completion_tokens"] == 1


@pytest.mark.parametrize("mode", ["huge-body", "invalid-utf8", "bad-chunked", "reset-mid-stream", "gzip-anyway"])
def test_conformance_faults_are_not_unusable(mode):
    with HostileServer(mode, huge_bytes=16 * 1024 * 1024) as srv:
        r = preflight.run(_target(srv.base_url))
    assert r.usable, r.message(_target(srv.base_url))


# Defects that look exactly like a set-up mistake, and so are the preflight's to name:
# no chat route at the path (a base URL without /v1 looks the same), the key refused.
LOOK_LIKE_SETUP = {"chat-route-404": "404", "auth-bearer-ignored": "401"}


def test_no_reference_defect_makes_the_target_unusable():
    """Every other way to break the rules: the preflight finds the target judgeable."""
    key = "sk-defects-" + "5a" * 8
    bad = []
    for name in sorted(DEFECTS):
        with start(api_key=key, defects=[name]) as srv:
            r = preflight.run(_target(srv.base_url, api_key=key))
        if name in LOOK_LIKE_SETUP:
            assert not r.usable and LOOK_LIKE_SETUP[name] in r.message(_target(srv.base_url, api_key=key)), name
        elif not r.usable:
            bad.append(f"{name}: {r.summary}")
    assert not bad, bad


def test_embedded_reference_needs_no_preflight(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", ONE_TEST, "-q", "-p", "no:cacheprovider", "--results", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "preflight" not in json.loads(out.read_text()).get("run", {})


def test_no_preflight_skips_it(tmp_path):
    rc, out, _, data = run(tmp_path, f"http://127.0.0.1:{free_port()}/v1", "--no-preflight")
    assert rc == 1 and "cannot be judged" not in out and data["counts"] == {"error": 1}, out[-2000:]


def test_a_server_echoing_the_key_never_gets_it_printed(tmp_path):
    """Every answer a 401 quoting the key it got: the preflight's message quotes the
    server's error, masked (run() checks every output for the key)."""
    with HostileServer("echo-key") as srv:
        rc, out, _, _ = run(tmp_path, srv.base_url, "--api-key-env", "PREFLIGHT_KEY", env={"PREFLIGHT_KEY": KEY})
        assert srv.stats.requests[0].headers["authorization"] == f"Bearer {KEY}"
    unusable(
        rc,
        out,
        "HTTP 401 (unauthorized): the key was refused",
        "the server said: Incorrect API key provided",
        "REDACTED",
    )


def test_targets_yaml_keys(tmp_path):
    from chatconform.targets import ADHOC_MAX_TIME, ADHOC_TIMEOUTS, adhoc, override, resolve

    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "corp.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    f = tmp_path / "t.yaml"
    f.write_text("targets:\n  x: {base_url: 'https://h.example/v1', model: m, max_time: 90, ca_bundle: ca/corp.pem}\n")
    t = resolve("x", f)
    assert t.max_time == 90 and t.ca_bundle == str(tmp_path / "ca" / "corp.pem")
    assert t.timeouts == {"connect": 5.0, "read": 30.0, "total": 120.0}  # a named target's defaults
    override(t, read=50, max_time=20)
    assert t.timeouts["read"] == 50 and t.timeouts["total"] == 120 and t.max_time == 20
    a = adhoc("http://127.0.0.1:1/v1", "m", None, None)
    assert a.timeouts == ADHOC_TIMEOUTS and a.max_time == ADHOC_MAX_TIME
    override(a, read=45, connect=2)
    assert a.timeouts == {"connect": 2.0, "read": 45.0, "total": 90.0}
