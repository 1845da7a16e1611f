"""The curl a failure prints reproduces the request: run as printed, it gets the same answer."""

import base64
import os
import shutil
import subprocess

import pytest

from chatconform import curl, redact
from chatconform.client import Client
from chatconform.reference.server import start
from chatconform.targets import Target

pytestmark = pytest.mark.skipif(not shutil.which("curl") or not shutil.which("bash"), reason="needs curl and bash")
FIXTURE_PNG = base64.b64decode(curl._PNG_1X1)
KEY = "sk-curltest-" + "5" * 20


@pytest.fixture(scope="module")
def server():
    with start(api_key=KEY) as srv:
        yield srv


def client_for(srv) -> Client:
    redact.register(KEY)
    t = Target(
        name="t",
        base_url=srv.base_url,
        model="chatconform-reference",
        api_key=KEY,
        api_key_env="CURLTEST_KEY",
        capabilities=frozenset(),
    )
    return Client(t)


def status_of(command: str) -> int:
    out = subprocess.run(
        ["bash", "-c", command.replace("curl ", "curl -o /dev/null -w '%{http_code}' ", 1)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CURLTEST_KEY": KEY},
    )
    return int(out.stdout.strip()[-3:])


def test_wrong_key_curl_sends_the_wrong_key(server):
    c = client_for(server)
    ex = c.chat(
        {"model": "chatconform-reference", "messages": [{"role": "user", "content": "hi"}]},
        auth="Bearer not-a-real-key",
    )
    assert ex.status == 401
    cmd = ex.curl()
    assert "not-a-real-key" in cmd and "$CURLTEST_KEY" not in cmd
    assert status_of(cmd) == 401


def test_configured_key_is_a_variable_and_works(server):
    ex = client_for(server).chat(
        {"model": "chatconform-reference", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 2}
    )
    cmd = ex.curl()
    assert KEY not in cmd and "$CURLTEST_KEY" in cmd
    assert status_of(cmd) == 200


@pytest.mark.parametrize("media", [True, False], ids=["real-png", "not-an-image"])
def test_long_body_curl_is_whole_and_runs(server, media):
    # A 5 KB image blob and a long text: the command is not cut and gets the same status.
    # Real media is swapped for a tiny sample; a blob that is not media is kept as sent.
    blob = base64.b64encode((FIXTURE_PNG if media else b"\0" * 40) * 100).decode()
    body = {
        "model": "chatconform-reference",
        "max_completion_tokens": 2,
        "messages": [
            {"role": "user", "content": "word " * 1200},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + blob}},
                ],
            },
        ],
    }
    ex = client_for(server).chat(body)
    cmd = ex.curl()
    assert "truncated" not in cmd and "word " * 1200 in cmd
    assert ("tiny valid samples" in cmd and blob not in cmd) if media else blob in cmd
    assert status_of(cmd) == ex.status
