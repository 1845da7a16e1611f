"""Authentication (AUTH): only for targets that claim `auth`; the key itself never appears in any output."""
import secrets

import pytest

from chatconform import expect, probes
from chatconform.violations import Violation

pytestmark = [pytest.mark.area("auth")]


@pytest.mark.rules("AUTH-001")
def test_bearer_key_accepted(client, model):
    """AUTH-001: the key is accepted as Authorization: Bearer <key>."""
    expect.ok(client.chat(probes.minimal(model), label="valid key"), "AUTH-001", "the valid key")


@pytest.mark.rules("AUTH-002")
@pytest.mark.needs("auth")
def test_scheme_case_insensitive(client, model, target):
    """AUTH-002: the scheme name is case-insensitive (bearer <key>)."""
    expect.ok(client.chat(probes.minimal(model), auth=f"bearer {target.api_key}", label="lower-case bearer"), "AUTH-002", "scheme 'bearer'")


@pytest.mark.rules("AUTH-003")
def test_missing_key(client, model, recorder):
    """AUTH-003: no Authorization header → 401 + envelope."""
    ex = client.chat(probes.minimal(model), auth=None, label="no key")
    expect.rejected(ex, "AUTH-003", "a request without a key", statuses=(401,), recorder=recorder)
    expect.field(ex, "AUTH-003", ex.status, "HTTP 401", ex.status == 401, "status")


@pytest.mark.rules("AUTH-004", "AUTH-005")
def test_wrong_key(client, model, recorder):
    """AUTH-004: a wrong key → 401 + envelope; AUTH-005: the body does not echo the submitted key."""
    wrong = "sk-conformance-" + secrets.token_hex(16)
    ex = client.chat(probes.minimal(model), auth=f"Bearer {wrong}", label="wrong key")
    expect.rejected(ex, "AUTH-004", "a wrong key", statuses=(401,), recorder=recorder)
    expect.field(ex, "AUTH-004", ex.status, "HTTP 401", ex.status == 401, "status")
    if wrong.encode() in ex.body:
        raise Violation("AUTH-005", "the submitted key not echoed in full", "the full key is in the body", "body", ex)
    code = expect.error_field(ex, "code")
    recorder.note("AUTH-004", f"error.code {code!r} (api.openai.com: invalid_api_key)")


@pytest.mark.rules("AUTH-007")
def test_auth_disabled_is_reported(client, model, target, recorder):
    """AUTH-007: a server may run without authentication; the suite reports it ("auth disabled")."""
    if target.claims("auth"):
        pytest.skip("not applicable: the target claims auth; AUTH-003..005 judge it")
    ex = client.chat(probes.minimal(model), auth=None, label="no key")
    if ex.status == 200:
        recorder.note("AUTH-007", "auth disabled: a request without a key was answered")
    else:
        expect.rejected(ex, "AUTH-007", "a request without a key", statuses=(401,), recorder=recorder)
        recorder.note("AUTH-007", f"auth enabled although not claimed: HTTP {ex.status} without a key")
