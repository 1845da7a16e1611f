"""The standard probe requests (RULES.md "Probe requests"), built for a target's model.

Prompts never matter for a verdict: every check judges what the server must enforce.
Small `max_tokens` keeps the cost of a run low on paid targets.
"""
from __future__ import annotations

import copy

SHORT = 16          # enough for a few words; any check that needs a cut uses less


def minimal(model: str, **extra) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "Reply with the single word OK."}],
            "max_tokens": SHORT}
    body.update(extra)
    return body


def bare(model: str) -> dict:
    """P-MIN exactly: only the two required fields (REQ-001)."""
    return {"model": model, "messages": [{"role": "user", "content": "Reply with the single word OK."}]}


def stream(model: str, **extra) -> dict:
    return minimal(model, stream=True, **extra)


def stream_usage(model: str, **extra) -> dict:
    return minimal(model, stream=True, stream_options={"include_usage": True}, **extra)


def long(model: str, **extra) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "Write a 300-word story about the sea."}]}
    body.update(extra)
    return body


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
    "function": {"name": "get_time", "description": "Get the current time in a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}


def tool(model: str, tool_choice="required", tools=None, **extra) -> dict:
    body = {"model": model,
            "messages": [{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
            "tools": copy.deepcopy(tools or [WEATHER_TOOL]), "tool_choice": tool_choice, "max_tokens": 128}
    body.update(extra)
    return body


def with_messages(model: str, messages: list, **extra) -> dict:
    body = {"model": model, "messages": messages, "max_tokens": SHORT}
    body.update(extra)
    return body
