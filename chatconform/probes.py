"""The standard probe requests (RULES.md "Probe requests"), built for a target's model.

Prompts never matter for a verdict: every check judges what the server must enforce.
A small token limit keeps the cost of a run low on paid targets.  The limit is sent in
the field the target takes: `max_completion_tokens` by default (the current name;
servers for reasoning models refuse the deprecated `max_tokens`), `max_tokens` for a
target that declares `token_limit_field: max_tokens`.  Probes give it with `limit=N`;
a test about one field in particular writes that field itself.
"""

from __future__ import annotations

import copy

SHORT = 16  # enough for a few words; any check that needs a cut uses less
LIMIT_FIELDS = ("max_completion_tokens", "max_tokens")


class Model(str):
    """The target's model id as the suites get it (the `model` fixture): a plain string
    in every request body, carrying the token-limit field the target takes."""

    def __new__(cls, name: str, token_field: str = "max_completion_tokens"):
        obj = super().__new__(cls, name)
        obj.token_field = token_field
        return obj


def limit_field(model: str) -> str:
    return getattr(model, "token_field", LIMIT_FIELDS[0])


def _with_limit(model: str, body: dict, n: int | None, extra: dict) -> dict:
    """`body` with its token limit (`limit=` in extra, else n) in the target's field,
    unless the caller wrote a limit field itself; then the rest of `extra`."""
    n = extra.pop("limit", n)
    if n is not None and not any(f in extra for f in LIMIT_FIELDS):
        body[limit_field(model)] = n
    body.update(extra)
    return body


def minimal(model: str, **extra) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "Reply with the single word OK."}]}
    return _with_limit(model, body, SHORT, extra)


def bare(model: str) -> dict:
    """P-MIN exactly: only the two required fields (REQ-001)."""
    return {"model": model, "messages": [{"role": "user", "content": "Reply with the single word OK."}]}


def stream(model: str, **extra) -> dict:
    return minimal(model, stream=True, **extra)


def stream_usage(model: str, **extra) -> dict:
    return minimal(model, stream=True, stream_options={"include_usage": True}, **extra)


def long(model: str, **extra) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "Write a 300-word story about the sea."}]}
    return _with_limit(model, body, None, extra)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def tool(model: str, tool_choice="required", tools=None, **extra) -> dict:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
        "tools": copy.deepcopy(tools or [WEATHER_TOOL]),
        "tool_choice": tool_choice,
    }
    return _with_limit(model, body, 128, extra)


def with_messages(model: str, messages: list, **extra) -> dict:
    body = {"model": model, "messages": messages}
    return _with_limit(model, body, SHORT, extra)
