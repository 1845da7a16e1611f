"""Vision, audio, auth and dialect judging: the checks on recorded exchanges, the target
keys they depend on (`lacks`, `restricted_key`), and the suite run against the reference
with the defects the ad hoc kill matrix cannot reach (a model without vision, a restricted key).
"""

from __future__ import annotations

import pathlib
import secrets
import subprocess
import sys
import textwrap

import httpx
import pytest

from chatconform import checks, cli, redact, targets
from chatconform.checks import extensions
from chatconform.observer import Recorder
from chatconform.reference import start
from chatconform.reference.auth import restricted_key_for
from chatconform.reference.defects import auth as auth_defects, vision as vision_defects
from chatconform.verdict import set_aside_unclaimed
from chatconform.violations import Intent, UsageError
from tests import helpers
from tests.helpers import good_response, json_exchange

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_REQUEST = {
    "model": "m",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What colour?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ],
}
FILE_REQUEST = {
    "model": "m",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read it."},
                {"type": "file", "file": {"filename": "a.txt", "file_data": "data:text/plain;base64,YQ=="}},
            ],
        }
    ],
}


def write(tmp_path, text: str) -> pathlib.Path:
    p = tmp_path / "targets.yaml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def error(status: int, message: str = "no", code=None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def with_key(ex, key: str):
    ex.request_headers = {"Authorization": f"Bearer {key}"}
    return ex


def run_suite(args: list[str], out: pathlib.Path, env=None) -> tuple[int, dict, str]:
    return helpers.run_suite(args, out, paths=(), env=env, timeout=300)  # args name the tests


def outcome(data: dict, rule: str) -> str:
    return data["rules"][rule]["outcome"]


# -- item 1: `lacks` is a declaration, distinct from not claiming ---------------------------------
def test_lacks_is_declared_apart_from_not_claiming(tmp_path):
    p = write(
        tmp_path,
        """
        targets:
          text-only: {base_url: http://127.0.0.1:9/v1, model: m, capabilities: [streaming], lacks: [vision, audio]}
          silent:    {base_url: http://127.0.0.1:9/v1, model: m, capabilities: [streaming]}
    """,
    )
    t = targets.resolve("text-only", p)
    assert t.lacks("vision") and t.lacks("audio") and not t.claims("vision")
    assert t.redacted()["lacks"] == ["audio", "vision"]
    silent = targets.resolve("silent", p)
    assert not silent.claims("vision") and not silent.lacks("vision"), "not claiming is not lacking"
    adhoc = targets.adhoc("http://127.0.0.1:9/v1", "m", None, "streaming,tools", "vision")
    assert adhoc.lacks("vision") and not adhoc.lacks("tools")


@pytest.mark.parametrize(
    "entry,needle",
    [
        (
            "{base_url: http://x/v1, model: m, capabilities: [vision, tools], lacks: [vision]}",
            "targets.a.lacks: vision also claimed",
        ),
        ("{base_url: http://x/v1, model: m, capabilities: all, lacks: [audio]}", "targets.a.lacks: audio also claimed"),
        ("{base_url: http://x/v1, model: m, lacks: [telepathy]}", "lacks"),
        ("{base_url: http://x/v1, model: m, lacks: all}", "lacks"),
    ],
)
def test_claimed_and_lacked_is_a_usage_error_naming_the_field(tmp_path, entry, needle):
    p = write(tmp_path, f"targets:\n  a: {entry}\n")
    with pytest.raises(UsageError) as exc:
        targets.resolve("a", p)
    assert needle in str(exc.value) and str(p) in str(exc.value)


def test_lacks_option_is_validated_like_the_file():
    with pytest.raises(UsageError, match="--lacks: vision also claimed"):
        targets.adhoc("http://127.0.0.1:9/v1", "m", None, "all", "vision")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "suites",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--capabilities",
            "vision",
            "--lacks",
            "vision",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 4 and "--lacks: vision also claimed" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_vision_006_needs_a_declared_lack(tmp_path):
    """The README's own example (vision not claimed) against a server that reads images:
    VISION-006 is not applicable, not failed; declared lacking vision, the same server
    fails it (it answered the image), and a model without vision passes it."""
    some = [
        "suites/test_vision_audio.py",
        "-k",
        "text_only_model",
        "--model",
        "chatconform-reference",
        "--capabilities",
        "streaming,stream_usage,tools,n",
    ]
    with start() as srv:
        rc, data, tail = run_suite([*some, "--base-url", srv.base_url], tmp_path / "a.json")
        assert rc == 0 and outcome(data, "VISION-006") == "not-applicable", tail
        assert "lacks" in data["rules"]["VISION-006"]["reason"]
        rc, data, tail = run_suite([*some, "--base-url", srv.base_url, "--lacks", "vision"], tmp_path / "b.json")
        assert rc == 1 and outcome(data, "VISION-006") == "fail", tail
    with start(defects=[vision_defects.WITHOUT_VISION]) as srv:
        rc, data, tail = run_suite([*some, "--base-url", srv.base_url, "--lacks", "vision,audio"], tmp_path / "c.json")
        assert rc == 0 and outcome(data, "VISION-006") == "pass", tail
        assert data["target"]["lacks"] == ["audio", "vision"]
    # The image dropped before the model sees it: answered 200 as if it had not been sent.
    with start(defects=[*vision_defects.OUTSIDE_MATRIX.values(), vision_defects.WITHOUT_VISION]) as srv:
        rc, data, tail = run_suite([*some, "--base-url", srv.base_url, "--lacks", "vision"], tmp_path / "d.json")
        assert rc == 1 and outcome(data, "VISION-006") == "fail", tail


# -- item 2: AUTH-006 with a restricted key ---------------------------------------------------------
def test_restricted_key_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CC_RESTRICTED", "sk-readonly-0123456789abcdef")
    p = write(
        tmp_path,
        """
        targets:
          a: {base_url: http://127.0.0.1:9/v1, model: m, capabilities: [auth], restricted_key: '${CC_RESTRICTED}'}
    """,
    )
    t = targets.resolve("a", p)
    assert t.restricted() == "sk-readonly-0123456789abcdef" and t.redacted()["restricted_key"] == "${CC_RESTRICTED}"
    assert "0123456789abcdef" not in repr(t) and "0123456789abcdef" not in redact.text(
        "key sk-readonly-0123456789abcdef"
    )
    p = write(tmp_path, "targets:\n  b: {base_url: http://127.0.0.1:9/v1, model: m, restricted_key: sk-literal-key}\n")
    with pytest.raises(UsageError, match="targets.b.restricted_key"):
        targets.resolve("b", p)
    assert targets.builtin().restricted() is None, "the embedded reference derives its key once it has one"


def test_reference_refuses_its_restricted_key_with_403():
    key = "sk-ref-" + secrets.token_hex(8)
    body = {"model": "chatconform-reference", "messages": [{"role": "user", "content": "hi"}]}
    with start(api_key=key) as srv:
        url = srv.base_url + "/chat/completions"
        ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
        denied = httpx.post(url, json=body, headers={"Authorization": f"Bearer {restricted_key_for(key)}"})
        wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer sk-wrong-0000000000"})
    assert (ok.status_code, denied.status_code, wrong.status_code) == (200, 403, 401)
    assert denied.json()["error"]["type"] == "invalid_request_error"


def restricted_profile(tmp_path, base_url: str) -> pathlib.Path:
    return write(
        tmp_path,
        f"""
        targets:
          t: {{base_url: '{base_url}', model: chatconform-reference, capabilities: [auth],
              api_key: '${{CC_K}}', restricted_key: '${{CC_R}}'}}
    """,
    )


@pytest.mark.parametrize("broken", [None, *sorted(auth_defects.OUTSIDE_MATRIX)])
def test_restricted_key_refusal_is_judged(tmp_path, broken):
    key = "sk-ref-" + secrets.token_hex(8)
    defects = [auth_defects.OUTSIDE_MATRIX[broken]] if broken else []
    with start(api_key=key, defects=defects) as srv:
        tf = restricted_profile(tmp_path, srv.base_url)
        rc, data, tail = run_suite(
            ["suites/test_auth.py", "--targets", str(tf), "--target", "t"],
            tmp_path / "out.json",
            env={"CC_K": key, "CC_R": restricted_key_for(key)},
        )
    assert outcome(data, "AUTH-006") == ("fail" if broken else "pass"), tail
    failed = {r for r, v in data["rules"].items() if v["outcome"] == "fail"}
    # ERR-011 (SHOULD: a status of the class its cause maps to) states the same fault in
    # general terms, so a wrong status for the restricted key may break it too.
    assert failed - {"ERR-011"} == ({"AUTH-006"} if broken else set()), tail
    assert rc == (1 if broken else 0)


def test_without_a_restricted_key_auth_006_says_how_to_enable_it(tmp_path):
    key = "sk-ref-" + secrets.token_hex(8)
    with start(api_key=key) as srv:
        rc, data, tail = run_suite(
            [
                "suites/test_auth.py",
                "suites/test_vision_audio.py",
                "-k",
                "restricted or https_image",
                "--base-url",
                srv.base_url,
                "--model",
                "chatconform-reference",
                "--api-key-env",
                "CC_K",
                "--capabilities",
                "all",
            ],
            tmp_path / "out.json",
            env={"CC_K": key},
        )
    assert rc == 0, tail
    assert outcome(data, "AUTH-006") == "disabled" and "restricted_key" in data["rules"]["AUTH-006"]["reason"]
    # item 3: the verdict says how to turn the remote-image test on.
    assert outcome(data, "VISION-001") == "disabled"
    assert "VISION-001 disabled: pass --allow-remote-images" in tail and "the server will fetch" in tail
    assert "AUTH-006 disabled:" in tail


# -- item 3: --allow-remote-images is documented ----------------------------------------------------
def test_remote_images_and_lacks_are_in_help_and_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for flag in ("--allow-remote-images", "--lacks"):
        assert flag in cli.HELP and flag in readme, flag


# -- the checks, on recorded exchanges --------------------------------------------------------------
def test_auth_005_judges_the_echo_of_the_submitted_key():
    key = "sk-conformance-" + "ab" * 16
    echoed = checks.run(with_key(json_exchange(error(401, f"Incorrect API key provided: {key}."), status=401), key))
    assert [v.rule for v in echoed.violations] == ["AUTH-005"]
    masked = checks.run(
        with_key(json_exchange(error(401, "Incorrect API key provided: sk-c****abab."), status=401), key)
    )
    assert "AUTH-005" in masked.judged and not masked.violations
    recorded = checks.run(with_key(json_exchange(error(401), status=401), redact.MASK))  # rejudge: the key is masked
    assert "AUTH-005" in recorded.unjudged and "AUTH-005" not in recorded.judged
    assert "AUTH-005" not in checks.run(json_exchange(error(401), status=401)).judged  # no key was sent


@pytest.mark.parametrize("status,judged", [(200, True), (401, True), (500, False)])
def test_auth_007_reports_whether_auth_is_on(status, judged):
    ex = json_exchange(good_response() if status == 200 else error(status), status=status)
    found = checks.relate("auth_disabled_reported", ex)
    assert not found.violations and ("AUTH-007" in found.judged) == judged
    if judged:
        assert ("auth disabled" in found.notes[0].message) == (status == 200)


@pytest.mark.parametrize("status,broken", [(200, False), (400, False), (415, False), (500, True), (503, True)])
def test_content_003_a_file_part_is_answered_or_refused_never_a_crash(status, broken):
    ex = json_exchange(good_response() if status == 200 else error(status), FILE_REQUEST, status=status)
    found = checks.run(ex)
    assert "CONTENT-003" in found.judged
    assert ("CONTENT-003" in {v.rule for v in found.violations}) == broken
    assert "CONTENT-003" not in checks.run(json_exchange(good_response())).judged  # no file part, nothing to judge


DECLARED = {"/usage/tokens_per_second": {"type": "number", "minimum": 0}}


def test_dialect_002_is_a_registered_check_that_counts_as_judged():
    """Before: the observer wrapper added violations but never marked DIALECT-002 judged, so
    a conformant answer left it "not exercised" (and the lint saw no check for it)."""
    rec = Recorder()
    observe = extensions.observer(rec.observe, rec, DECLARED)
    good = good_response()
    good["usage"]["tokens_per_second"] = 512.5
    observe(json_exchange(good))
    assert rec.judged.get("DIALECT-002") == 1 and not rec.violations
    bad = good_response()
    bad["usage"]["tokens_per_second"] = "512.5"
    observe(json_exchange(bad))
    assert [(v.rule, v.where) for v in rec.violations] == [("DIALECT-002", "/usage/tokens_per_second")]
    rec2 = Recorder()
    extensions.observer(rec2.observe, rec2, DECLARED)(json_exchange(good_response()))  # field absent
    assert "DIALECT-002" not in rec2.judged and "DIALECT-002" in rec2.unjudged
    assert "DIALECT-002" not in checks.run(json_exchange(bad)).judged  # nothing declared


# -- item 5: an unclaimed feature answered 200 still has its answer's format judged ----------------
def test_image_answered_by_a_target_without_vision_is_still_judged_for_format():
    malformed = good_response()
    del malformed["choices"][0]["finish_reason"]
    malformed["object"] = "chat.completion.chunk"
    ex = json_exchange(malformed, IMAGE_REQUEST)
    ex.intent = Intent("refuse", "VISION-006", "messages")
    rec = Recorder()
    rec.observe(ex)
    kept, notes = set_aside_unclaimed(rec.violations, lambda cap: False)  # claims nothing, vision included
    # The refusal rule itself, and the 200 body's format (RESP rules bind every server).
    assert {v.rule for v in kept} == {"VISION-006", "RESP-003", "RESP-008"} and not notes
