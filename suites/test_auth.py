"""Authentication (AUTH): only for targets that claim `auth`; the key itself never appears in any output.

Each request says what the server owes it (`accept=` / `refuse=`, checks/intent.py, with
the statuses rules.yaml names); checks/auth.py judges what an answer's body must not do
(echo the key, AUTH-005) and reports whether a server that does not claim auth runs
without it (AUTH-007).
"""

import secrets

import pytest

from chatconform import probes

pytestmark = [pytest.mark.area("auth")]


@pytest.mark.rules("AUTH-001")
def test_bearer_key_accepted(client, model):
    """AUTH-001: the key is accepted as Authorization: Bearer <key>."""
    client.chat(probes.minimal(model), label="valid key", accept="AUTH-001")


@pytest.mark.rules("AUTH-002")
@pytest.mark.needs("auth")
def test_scheme_case_insensitive(client, model, target):
    """AUTH-002: the scheme name is case-insensitive (bearer <key>)."""
    client.chat(probes.minimal(model), auth=f"bearer {target.api_key}", label="lower-case bearer", accept="AUTH-002")


@pytest.mark.rules("AUTH-003")
def test_missing_key(client, model):
    """AUTH-003: no Authorization header → 401 + envelope."""
    client.chat(probes.minimal(model), auth=None, label="no key", refuse="AUTH-003")


@pytest.mark.smoke
@pytest.mark.rules("AUTH-004", "AUTH-005")
def test_wrong_key(client, model):
    """AUTH-004: a wrong key → 401 + envelope; AUTH-005: the body does not echo the submitted key."""
    wrong = "sk-conformance-" + secrets.token_hex(16)
    client.chat(probes.minimal(model), auth=f"Bearer {wrong}", label="wrong key", refuse="AUTH-004")


@pytest.mark.rules("AUTH-006")
def test_restricted_key(client, model, target):
    """AUTH-006: a valid key lacking permission for chat completions or the model → 403 or 404 + envelope,
    never 200 or 5xx.  Needs such a key from the operator (`restricted_key: ${ENV}` in targets.yaml; the
    embedded reference has its own)."""
    key = target.restricted()
    if key is None:
        pytest.skip(
            "disabled: needs a valid key without permission for this model: set restricted_key: ${ENV_VAR} "
            "in the target's entry in targets.yaml (an ad hoc --base-url target has none)"
        )
    client.chat(probes.minimal(model), auth=f"Bearer {key}", label="restricted key", refuse="AUTH-006")


@pytest.mark.rules("AUTH-007")
def test_auth_disabled_is_reported(client, model, target, recorder):
    """AUTH-007: a server may run without authentication; the suite reports it ("auth disabled")."""
    if target.claims("auth"):
        pytest.skip("not applicable: the target claims auth; AUTH-003..005 judge it")
    ex = client.chat(probes.minimal(model), auth=None, label="no key")
    recorder.relate("auth_disabled_reported", ex)
