"""Request acceptance (REQ, CONTENT-001): valid conversations of every documented shape get a 200.

Each request names the rule that makes it valid (`accept=`): a refusal fails that rule.
The answers are judged by the response checks like every other answer.
"""

import pytest

from chatconform import probes

pytestmark = pytest.mark.area("request")


@pytest.mark.rules("REQ-005")
def test_roles_in_sequence(client, model):
    """REQ-005: system, user and assistant messages are accepted in a sensible order."""
    msgs = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Bye"},
    ]
    client.chat(probes.with_messages(model, msgs), label="system+user+assistant+user", accept="REQ-005")


@pytest.mark.rules("REQ-006")
def test_developer_role(client, model):
    """REQ-006: role developer is accepted."""
    msgs = [{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": "Hi"}]
    client.chat(probes.with_messages(model, msgs), label="developer message", accept="REQ-006")


@pytest.mark.rules("REQ-007", "CONTENT-001")
@pytest.mark.parametrize("role", ["system", "developer", "user"])
def test_text_part_arrays(client, model, role):
    """REQ-007/CONTENT-001: content may be an array of text parts."""
    msgs = [{"role": role, "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": " Say hi."}]}]
    if role == "user":
        client.chat(probes.with_messages(model, msgs), label="user text parts", accept="CONTENT-001")
    else:
        msgs.append({"role": "user", "content": "Hi"})
        client.chat(probes.with_messages(model, msgs), label=f"{role} text parts", accept="REQ-007")


@pytest.mark.rules("REQ-008")
def test_assistant_array_content(client, model):
    """REQ-008: assistant content may be an array of text parts."""
    msgs = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "Again"},
    ]
    client.chat(probes.with_messages(model, msgs), label="assistant text parts", accept="REQ-008")


@pytest.mark.rules("REQ-009")
def test_optional_message_fields(client, model):
    """REQ-009: name on messages; refusal null and audio null on assistant history are accepted."""
    msgs = [
        {"role": "system", "content": "Be brief.", "name": "policy"},
        {"role": "user", "content": "Hi", "name": "alice"},
        {"role": "assistant", "content": "Hello.", "name": "bot", "refusal": None, "audio": None},
        {"role": "user", "content": "Again", "name": "alice"},
    ]
    client.chat(probes.with_messages(model, msgs), label="name/refusal/audio fields", accept="REQ-009")


@pytest.mark.rules("REQ-012")
def test_multi_turn_history(client, model, recorder):
    """REQ-012: earlier turns are part of the request.  Whether the answer uses them depends on
    the model, and usage is fabricated by gateways and mocks: noted, never judged (the rule
    stays "not exercised")."""
    history = [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "Multiply that by 3."},
    ]
    full = client.chat(probes.with_messages(model, history), label="three-turn history", accept="REQ-005")
    last = client.chat(probes.with_messages(model, history[-1:]), label="last turn alone", accept="REQ-001")
    recorder.relate("history_kept", full, last)
