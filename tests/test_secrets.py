"""The API key never reaches any output: terminal, JUnit XML, Allure results, results.json,
log files, exception messages, curl reproductions.

The whole suite runs in a subprocess, as a user runs it, with a distinctive key and
every artefact switched on; then every byte it wrote is searched for the key, raw
and base64-encoded (at any alignment, as it would sit inside a larger encoded blob).
Three servers: the clean reference, the reference mutant that echoes the submitted
key in its 401, and a hostile server that answers every request with a 401 echoing
the Authorization header it received (the real key) in its body and headers.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from chatconform.reference import DEFECTS, start

from .hostile import HostileServer

ROOT = Path(__file__).resolve().parents[1]
ECHO_DEFECTS = sorted(n for n, d in DEFECTS.items() if d.area == "auth" and "echo" in n)


def forms(key: str) -> dict[str, bytes]:
    """The key as bytes, and base64 fragments that any encoding of a text containing it holds."""
    raw = key.encode()
    out = {"raw": raw}
    for pad in range(3):
        for name, enc in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            text = enc(b"\0" * pad + raw)
            # Drop the characters that mix in bytes before and after the key.
            out[f"{name}+{pad}"] = text[{0: 0, 1: 2, 2: 3}[pad] : -4]
    return out


def leaks(key: str, tmp: Path, streams: dict[str, bytes]) -> list[str]:
    found = []
    blobs = dict(streams)
    for p in sorted(tmp.rglob("*")):
        if p.is_file():
            blobs[str(p.relative_to(tmp))] = p.read_bytes()
    for where, blob in blobs.items():
        for form, needle in forms(key).items():
            if needle in blob:
                found.append(f"{where}: {form}")
    return found


def run_everything(
    base_url: str, key: str, tmp: Path, capabilities: str = "all", extra=()
) -> subprocess.CompletedProcess:
    out = tmp / "artefacts"
    out.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "-rA",
        "-v",
        "--base-url",
        base_url,
        "--model",
        "chatconform-reference",
        "--api-key-env",
        "CC_SECRET_KEY",
        "--capabilities",
        capabilities,
        "--junitxml",
        str(out / "junit.xml"),
        "-o",
        "junit_logging=all",
        "--alluredir",
        str(out / "allure"),
        "--results",
        str(out / "results.json"),
        "--log-level",
        "DEBUG",
        "--log-file",
        str(out / "run.log"),
        "--log-file-level",
        "DEBUG",
        *extra,
    ]
    env = {**os.environ, "CC_SECRET_KEY": key}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=900)


def _key() -> str:
    # Distinctive, and in the alphabet of real keys.
    return "sk-proj-LEAKCANARY" + secrets.token_hex(20)


def _check(proc, key: str, tmp: Path) -> None:
    tail = proc.stdout[-3000:].decode(errors="replace") + proc.stderr[-2000:].decode(errors="replace")
    assert proc.returncode in (0, 1), tail  # the run itself worked
    assert (tmp / "artefacts" / "junit.xml").exists() and (tmp / "artefacts" / "results.json").exists(), tail
    assert any((tmp / "artefacts" / "allure").glob("*-attachment*")), "no Allure attachments were written"
    found = leaks(key, tmp, {"stdout": proc.stdout, "stderr": proc.stderr})
    assert not found, f"the key leaked into {len(found)} places, e.g. {found[:12]}"


@pytest.mark.selftest_slow
def test_key_absent_from_every_output_clean_reference(tmp_path):
    key = _key()
    with start(api_key=key) as srv:
        proc = run_everything(srv.base_url, key, tmp_path)
    _check(proc, key, tmp_path)  # its verdict is the mutant harness's business, not this test's


@pytest.mark.selftest_slow
@pytest.mark.parametrize(
    "defect",
    ECHO_DEFECTS or [pytest.param("auth-key-echoed", marks=pytest.mark.skip("no auth echo defect in the reference"))],
)
def test_key_absent_from_every_output_echo_mutant(defect, tmp_path):
    key = _key()
    with start(api_key=key, defects=[defect]) as srv:
        proc = run_everything(srv.base_url, key, tmp_path)
    _check(proc, key, tmp_path)
    assert proc.returncode == 1  # AUTH-005 is caught


@pytest.mark.selftest_slow
def test_key_absent_when_every_answer_echoes_it(tmp_path):
    # Every answer carries the real key: in the 401 message (body, terminal, results,
    # JUnit, Allure) and in response headers (transcripts).
    key = _key()
    with HostileServer("echo-key") as srv:
        # Past the preflight (which ends a run whose every answer is a 401): every test's outputs.
        proc = run_everything(srv.base_url, key, tmp_path, capabilities="streaming,auth", extra=("--no-preflight",))
        echoed = [r for r in srv.stats.requests if r.headers.get("authorization") == f"Bearer {key}"]
    assert echoed, "the server never saw the key: the test proves nothing"
    _check(proc, key, tmp_path)
    assert proc.returncode == 1


def test_key_absent_from_tracebacks_with_locals(tmp_path):
    # --showlocals prints every frame's variables; a timeout raised inside the client
    # passes through the frames that hold the request headers.
    key = _key()
    targets = tmp_path / "targets.yaml"
    with HostileServer("hang") as srv:
        targets.write_text(f"""targets:
  hang:
    base_url: {srv.base_url}
    model: m
    api_key: ${{CC_SECRET_KEY}}
    capabilities: [streaming]
    headers: {{api-key: "${{CC_SECRET_KEY}}"}}
    timeouts: {{connect: 1, read: 1, total: 2}}
""")
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_response.py",
            "-p",
            "no:cacheprovider",
            "-l",
            "--tb=long",
            "-rA",
            "--targets",
            str(targets),
            "--target",
            "hang",
            "--no-preflight",
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "CC_SECRET_KEY": key}, capture_output=True, timeout=300)
    assert proc.returncode == 1 and b"timed out" in proc.stdout, proc.stdout[-3000:].decode(errors="replace")
    assert not leaks(key, tmp_path / "none", {"stdout": proc.stdout, "stderr": proc.stderr})


def test_key_absent_from_client_frame_locals():
    # Whatever renders a traceback with locals (pytest -l on a non-suite path,
    # hypothesis, a debugger dump) sees the request headers masked.
    from chatconform.client import Client
    from chatconform.targets import Target
    from chatconform.violations import CannotJudge

    key = _key()
    with HostileServer("hang") as srv:
        t = Target(
            name="h",
            base_url=srv.base_url,
            model="m",
            capabilities=frozenset(),
            api_key=key,
            headers={"api-key": key},
            timeouts={"connect": 1, "read": 0.3, "total": 1},
        )
        c = Client(t)
        with pytest.raises(CannotJudge) as info:
            c.chat({"model": "m", "messages": []}, label="x")
        with pytest.raises(CannotJudge) as info2:
            c.chat({"model": "m", "messages": []}, auth=f"bearer {key}")
        c.close()
    for exc in (info, info2):
        # The client's frames only: this test's own frame holds the key, of course.
        exc.traceback = exc.traceback.filter(lambda entry: "chatconform" in str(entry.path))
        text = str(exc.getrepr(showlocals=True, style="long"))
        assert "hdrs" in text and "REDACTED" in text
        assert key not in text
        assert key not in repr(exc.value.exchange) and key not in str(exc.value)


def test_forms_find_an_encoded_key():
    key = _key()
    blob = b"junk" + base64.b64encode(b'{"h": "Authorization: Bearer ' + key.encode() + b'"}') + b"junk"
    assert any(f.startswith("b64") and n in blob for f, n in forms(key).items())
