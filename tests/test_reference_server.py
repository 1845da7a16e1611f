"""Self-tests of the embedded reference server (chatconform.reference).

Two halves:
  * behaviour: the clean server is conformant on the points the suite relies on;
  * defects: every entry of DEFECTS changes at least one answer, compared with the
    clean server, for a request of its area (a smoke check, not the kill matrix).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import wave
import zlib
from pathlib import Path
from typing import Any, Callable

import httpx
import jsonschema
import pytest

from chatconform.reference import AREAS, DEFECTS, start

KEY = "sk-reference-selftest-0123456789"
M = "chatconform-reference"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPO = Path(__file__).resolve().parents[1]


# -- media fixtures (built here, so the test needs no binary files) -----------------


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return buf.getvalue()


B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
PNG_URI = "data:image/png;base64," + B64(_png())
JPEG_URI = "data:image/jpeg;base64," + B64(
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
)
WAV_B64 = B64(_wav())
MP3_B64 = B64(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + b"\x00" * 64)
HTTPS_IMAGE = "https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png"

# -- probe bodies (RULES.md names) ---------------------------------------------------

P_MIN = {"model": M, "messages": [{"role": "user", "content": "Reply with the single word OK."}]}
P_LONG = {"model": M, "messages": [{"role": "user", "content": "Write a 300-word story about the sea."}]}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}, "hour24": {"type": "boolean"}},
            "required": ["zone"],
        },
    },
}
P_TOOL = {
    "model": M,
    "messages": [{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
    "tools": [WEATHER],
    "tool_choice": "required",
}
# Asks for two tools: the fake model, like a real one, calls a tool under auto only when the
# prompt asks for it, and makes two calls only when it asks for two.
P_TOOL_2 = {
    **P_TOOL,
    "tools": [WEATHER, TIME],
    "tool_choice": "auto",
    "messages": [{"role": "user", "content": "What is the weather in Paris, and the time there? Use the tools."}],
}
P_NO_TOOL = {**P_TOOL, "messages": P_MIN["messages"]}  # asks for no tool
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5},
        "kind": {"enum": ["a", "b"]},
        "fixed": {"const": 7},
        "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "address": {"$ref": "#/$defs/address"},
        "tree": {"$ref": "#/$defs/node"},
    },
    "required": ["name", "age", "score", "tags", "kind", "fixed", "maybe", "address", "tree"],
    "additionalProperties": False,
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": ["string", "null"]}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["value", "children"],
            "additionalProperties": False,
        },
    },
}
RF_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": SCHEMA}}


def user(*parts: Any) -> dict:
    return {"model": M, "messages": [{"role": "user", "content": list(parts)}]}


def text(t: str = "Describe this.") -> dict:
    return {"type": "text", "text": t}


def image(url: str, **extra: Any) -> dict:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def audio(data: str | None, fmt: str | None = "wav") -> dict:
    payload = {k: v for k, v in (("data", data), ("format", fmt)) if v is not None}
    return {"type": "input_audio", "input_audio": payload}


def roundtrip(tool_content: Any = '{"temp_c": 21}', call_id: str = "call_abc", answer_id: str | None = None) -> dict:
    return {
        "model": M,
        "tools": [WEATHER],
        "tool_choice": "auto",
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": answer_id or call_id, "content": tool_content},
        ],
    }


# -- fixtures and helpers -------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with start(api_key=KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as c:
        yield c


def chat(client: httpx.Client, body: dict, **kw: Any) -> httpx.Response:
    return client.post("/chat/completions", json=body, **kw)


def ok(client: httpx.Client, body: dict) -> dict:
    r = chat(client, body)
    assert r.status_code == 200, r.text
    return r.json()


def sse(raw: str) -> list[str]:
    """Data payloads of a strictly framed stream (every event `data: X\\n\\n`)."""
    assert raw.endswith("\n\n")
    events = raw[:-2].split("\n\n")
    for e in events:
        assert e.startswith("data: ") and "\n" not in e, repr(e)
    return [e[len("data: ") :] for e in events]


def stream(client: httpx.Client, body: dict, **kw: Any) -> list[dict]:
    r = chat(client, {**body, "stream": True}, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == "text/event-stream"
    data = sse(r.text)
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def joined(chunks: list[dict], index: int = 0) -> str:
    return "".join((it["delta"].get("content") or "") for ch in chunks for it in ch["choices"] if it["index"] == index)


def error_of(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/json"
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"]
    return body["error"]


# =====================================================================================
# Behaviour of the clean server
# =====================================================================================


def test_success_shape(client):
    r = chat(client, P_MIN)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    b = r.json()
    assert list(b) == ["id", "object", "created", "model", "system_fingerprint", "service_tier", "choices", "usage"]
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", b["id"]) and b["object"] == "chat.completion"
    assert isinstance(b["created"], int) and abs(b["created"] - time.time()) < 5
    assert b["model"] == M and b["system_fingerprint"] == "fp_reference" and b["service_tier"] == "default"
    (ch,) = b["choices"]
    assert ch["index"] == 0 and ch["logprobs"] is None and ch["finish_reason"] == "stop"
    assert ch["message"] == {
        "role": "assistant",
        "content": ch["message"]["content"],
        "refusal": None,
        "annotations": [],
    }
    u = b["usage"]
    assert 8 <= u["completion_tokens"] <= 24 and u["prompt_tokens"] == 6
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert set(u["completion_tokens_details"]) == {
        "reasoning_tokens",
        "audio_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    }
    assert ok(client, P_MIN)["id"] != b["id"]


def test_deterministic_text_and_stop_sequences(client):
    first = ok(client, P_LONG)["choices"][0]["message"]["content"]
    assert ok(client, {**P_LONG, "temperature": 0.9})["choices"][0]["message"]["content"] == first
    assert ok(client, {**P_LONG, "seed": 7})["choices"][0]["message"]["content"] != first
    word = first.split()[4]
    for stop in (word, ["zzz", word], word[1:4]):
        b = ok(client, {**P_LONG, "stop": stop})
        content = b["choices"][0]["message"]["content"]
        s = stop[-1] if isinstance(stop, list) else stop
        assert content == first[: first.find(s)] and s not in content
        assert b["choices"][0]["finish_reason"] == "stop"


def test_token_limits(client):
    for key in ("max_tokens", "max_completion_tokens"):
        b = ok(client, {**P_LONG, key: 5})
        assert b["choices"][0]["finish_reason"] == "length" and b["usage"]["completion_tokens"] == 5
    assert ok(client, {**P_LONG, "max_tokens": 16})["usage"]["completion_tokens"] == 16
    assert ok(client, {**P_LONG, "max_tokens": 500})["choices"][0]["finish_reason"] == "stop"
    chunks = stream(client, {**P_LONG, "max_tokens": 5})
    assert [it["finish_reason"] for ch in chunks for it in ch["choices"]][-1] == "length"


def test_token_limit_leaves_no_room_for_the_end(client):
    """An answer exactly as long as the limit was cut by it: "length", not "stop"."""
    full = ok(client, {**P_MIN, "max_tokens": 500})
    n = full["usage"]["completion_tokens"]
    exact = ok(client, {**P_MIN, "max_tokens": n})["choices"][0]
    assert (
        exact["finish_reason"] == "length" and exact["message"]["content"] == full["choices"][0]["message"]["content"]
    )
    assert ok(client, {**P_MIN, "max_tokens": n + 1})["choices"][0]["finish_reason"] == "stop"


def test_token_limit_cuts_tool_calls(client):
    """A limit binds tool calls too (PARAM-001): arguments stop where the tokens run out,
    finish "length", usage within the limit; with room to spare the call is whole."""
    tool = {
        "type": "function",
        "function": {
            "name": "book",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}, "note": {"type": "string"}},
                "required": ["city", "nights", "note"],
            },
        },
    }
    body = {**P_MIN, "tools": [tool], "tool_choice": "required"}
    whole = ok(client, {**body, "max_tokens": 500})
    args = whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert whole["choices"][0]["finish_reason"] == "tool_calls" and json.loads(args)
    for limit in (1, 3):
        ch = ok(client, {**body, "max_tokens": limit})["choices"][0]
        cut = ch["message"]["tool_calls"][0]["function"]["arguments"]
        assert ch["finish_reason"] == "length" and args.startswith(cut) and len(cut) < len(args)
    assert ok(client, {**body, "max_tokens": 3})["usage"]["completion_tokens"] <= 3
    chunks = stream(client, {**body, "max_tokens": 3})
    assert [it["finish_reason"] for ch in chunks for it in ch["choices"]][-1] == "length"


def test_n_choices(client):
    b = ok(client, {**P_MIN, "n": 3})
    assert [c["index"] for c in b["choices"]] == [0, 1, 2]
    assert len({c["message"]["content"] for c in b["choices"]}) == 3
    lp = ok(client, {**P_MIN, "n": 3, "logprobs": True})
    assert lp["usage"]["completion_tokens"] == sum(len(c["logprobs"]["content"]) for c in lp["choices"])


def test_logprobs(client):
    b = ok(client, {**P_MIN, "logprobs": True, "top_logprobs": 3})
    ch = b["choices"][0]
    lp = ch["logprobs"]
    assert set(lp) == {"content", "refusal"} and lp["refusal"] is None
    assert "".join(e["token"] for e in lp["content"]) == ch["message"]["content"]
    for e in lp["content"]:
        assert e["logprob"] <= 0 and e["bytes"] == list(e["token"].encode())
        assert len(e["top_logprobs"]) == 3 and e["top_logprobs"][0]["token"] == e["token"]
        probs = [t["logprob"] for t in e["top_logprobs"]]
        assert probs == sorted(probs, reverse=True)
    assert all(
        e["top_logprobs"] == [] for e in ok(client, {**P_MIN, "logprobs": True})["choices"][0]["logprobs"]["content"]
    )
    assert (
        len(
            ok(client, {**P_MIN, "logprobs": True, "top_logprobs": 20})["choices"][0]["logprobs"]["content"][0][
                "top_logprobs"
            ]
        )
        == 20
    )


def test_stream_framing(client):
    r = chat(client, {**P_MIN, "stream": True}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers.get("transfer-encoding") == "chunked"
    data = sse(r.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == M and "usage" not in c for c in chunks)
    items = [c["choices"][0] for c in chunks]
    assert items[0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all(it["finish_reason"] is None for it in items[:-1]) and items[-1] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert sum("role" in it["delta"] for it in items) == 1
    assert joined(chunks) == ok(client, P_MIN)["choices"][0]["message"]["content"]


def test_stream_arrives_incrementally(server):
    pieces = []
    with httpx.Client(headers=AUTH, timeout=10) as c:
        with c.stream("POST", server.base_url + "/chat/completions", json={**P_LONG, "stream": True}) as r:
            for piece in r.iter_raw():
                pieces.append(time.monotonic())
    assert len(pieces) >= 3 and pieces[-1] - pieces[0] > 0.01


def test_stream_usage(client):
    chunks = stream(client, {**P_MIN, "stream_options": {"include_usage": True}})
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["total_tokens"] == ok(client, P_MIN)["usage"]["total_tokens"]


def test_stream_n_and_logprobs(client):
    chunks = stream(client, {**P_MIN, "n": 3, "logprobs": True})
    order = []
    for ch in chunks:
        assert len(ch["choices"]) == 1
        i = ch["choices"][0]["index"]
        if i not in order:
            order.append(i)
            assert ch["choices"][0]["delta"]["role"] == "assistant"
    assert order == [0, 1, 2]
    full = ok(client, {**P_MIN, "n": 3})
    for i in range(3):
        assert joined(chunks, i) == full["choices"][i]["message"]["content"]
        toks = [
            e["token"]
            for ch in chunks
            for it in ch["choices"]
            if it["index"] == i and it["logprobs"]
            for e in it["logprobs"]["content"]
        ]
        assert "".join(toks) == joined(chunks, i)
        assert sum(1 for ch in chunks for it in ch["choices"] if it["index"] == i and it["finish_reason"]) == 1


def _validate_args(call: dict, tool: dict) -> None:
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"]) and call["type"] == "function"
    assert call["function"]["name"] == tool["function"]["name"]
    jsonschema.validate(json.loads(call["function"]["arguments"]), tool["function"].get("parameters", {}))


def test_tool_calls(client):
    b = ok(client, P_TOOL)
    ch = b["choices"][0]
    assert ch["finish_reason"] == "tool_calls" and ch["message"]["content"] is None
    (call,) = ch["message"]["tool_calls"]
    _validate_args(call, WEATHER)
    two = ok(client, P_TOOL_2)["choices"][0]["message"]["tool_calls"]
    assert len(two) == 2 and two[0]["id"] != two[1]["id"]
    _validate_args(two[0], WEATHER)
    _validate_args(two[1], TIME)
    assert len(ok(client, {**P_TOOL_2, "parallel_tool_calls": False})["choices"][0]["message"]["tool_calls"]) == 1
    named = ok(client, {**P_TOOL_2, "tool_choice": {"type": "function", "function": {"name": "get_time"}}})["choices"][
        0
    ]
    assert named["finish_reason"] == "stop" and [c["function"]["name"] for c in named["message"]["tool_calls"]] == [
        "get_time"
    ]
    none = ok(client, {**P_TOOL, "tool_choice": "none"})["choices"][0]
    assert "tool_calls" not in none["message"] and isinstance(none["message"]["content"], str)
    bare = ok(client, {**P_TOOL, "tools": [{"type": "function", "function": {"name": "ping"}}]})["choices"][0]
    assert bare["message"]["tool_calls"][0]["function"]["arguments"] == "{}"
    after = ok(client, roundtrip())["choices"][0]
    assert after["finish_reason"] == "stop" and "21" in after["message"]["content"]
    assert ok(client, roundtrip([text('{"temp_c": 21}')]))["choices"][0]["finish_reason"] == "stop"


def test_stream_tool_calls(client):
    chunks = stream(client, P_TOOL_2)
    frags = [tc for ch in chunks for it in ch["choices"] for tc in it["delta"].get("tool_calls", [])]
    calls: dict[int, dict] = {}
    for f in frags:
        if f["index"] not in calls:
            assert set(f) == {"index", "id", "type", "function"} and f["function"]["arguments"] == ""
            calls[f["index"]] = {
                "id": f["id"],
                "type": "function",
                "function": {"name": f["function"]["name"], "arguments": ""},
            }
        else:
            assert set(f) == {"index", "function"} and set(f["function"]) == {"arguments"}
            calls[f["index"]]["function"]["arguments"] += f["function"]["arguments"]
    assert list(calls) == [0, 1] and 2 <= sum(1 for f in frags if f["index"] == 0) - 1 <= 3
    _validate_args(calls[0], WEATHER)
    _validate_args(calls[1], TIME)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_structured_output(client):
    content = ok(client, {**P_MIN, "response_format": {"type": "json_object"}})["choices"][0]["message"]["content"]
    assert content == json.dumps(json.loads(content), separators=(",", ":"))  # a compact JSON object
    assert isinstance(json.loads(content), dict)
    for n in range(3):
        b = ok(client, {**P_MIN, "seed": n, "n": 2, "response_format": RF_SCHEMA})
        for ch in b["choices"]:
            jsonschema.validate(json.loads(ch["message"]["content"]), SCHEMA)
    assert json.loads(joined(stream(client, {**P_MIN, "response_format": RF_SCHEMA})))
    cut = ok(client, {**P_MIN, "response_format": RF_SCHEMA, "max_tokens": 3})["choices"][0]
    assert cut["finish_reason"] == "length" and cut["message"]["content"].startswith("{")


def test_echo_non_ascii(client):
    b = ok(
        client,
        {"model": M, "messages": [{"role": "user", "content": "Repeat exactly: `héllo ✓ 你好`"}], "logprobs": True},
    )
    content = b["choices"][0]["message"]["content"]
    assert content.startswith("héllo ✓ 你好")
    assert all(e["bytes"] == list(e["token"].encode()) for e in b["choices"][0]["logprobs"]["content"])


def test_auth(server):
    url = server.base_url + "/chat/completions"
    e = error_of(httpx.post(url, json=P_MIN), 401)
    assert e["code"] is None and e["type"] == "invalid_request_error" and "API key" in e["message"]
    e = error_of(httpx.post(url, json=P_MIN, headers={"Authorization": "Bearer sk-conformance-invalid-0000"}), 401)
    assert e["code"] == "invalid_api_key" and e["message"].startswith("Incorrect API key provided: sk-c****0000.")
    long_key = "sk-" + "x1y2z3" * 7
    assert long_key not in httpx.post(url, json=P_MIN, headers={"Authorization": f"Bearer {long_key}"}).text
    assert httpx.post(url, json=P_MIN, headers={"Authorization": f"bearer {KEY}"}).status_code == 200
    with start() as open_srv:  # no key configured: auth disabled
        assert httpx.post(open_srv.base_url + "/chat/completions", json=P_MIN).status_code == 200


def test_http_errors(server, client):
    e = error_of(chat(client, {**P_MIN, "model": "conformance-no-such-model"}), 404)
    assert e == {
        "message": "The model `conformance-no-such-model` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    error_of(client.post("/chat/completions", content=b'{"model":', headers={"Content-Type": "application/json"}), 400)
    error_of(client.post("/chat/completions", content=b"[]", headers={"Content-Type": "application/json"}), 400)
    error_of(
        client.post("/chat/completions", content=b'{"model": NaN}', headers={"Content-Type": "application/json"}), 400
    )
    error_of(client.post("/chat/completion", json=P_MIN), 404)
    error_of(client.get("/nothing/here"), 404)
    assert error_of(client.get("/chat/completions"), 405) and client.get("/chat/completions").headers["allow"] == "POST"
    error_of(client.post("/chat/completions", content=json.dumps(P_MIN), headers={"Content-Type": "text/plain"}), 415)
    assert chat(client, P_MIN, headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 200
    r = chat(client, {**P_MIN, "stream": True, "temperature": 5})
    assert error_of(r, 400)["param"] == "temperature"
    models = client.get("/models").json()
    assert models == {
        "object": "list",
        "data": [{"id": M, "object": "model", "created": models["data"][0]["created"], "owned_by": "chatconform"}],
    }
    # 413 is decided from Content-Length alone; the body is never read.
    host, port = server.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {16 * 1024 * 1024 + 1}\r\n\r\n".encode()
        )
        raw = b""
        while chunk := s.recv(4096):  # the server closes after a 413: read to EOF
            raw += chunk
    head = raw.decode()
    assert head.startswith("HTTP/1.1 413") and "connection: close" in head.lower() and '"error"' in head
    long_prompt = {"model": M, "messages": [{"role": "user", "content": "word " * 33000}]}
    assert error_of(chat(client, long_prompt), 400)["code"] == "context_length_exceeded"


INVALID = [
    ({"messages": P_MIN["messages"]}, "model"),
    ({"model": M}, "messages"),
    ({"model": M, "messages": []}, "messages"),
    ({"model": M, "messages": "hi"}, "messages"),
    ({**P_MIN, "messages": [{"role": "robot", "content": "hi"}]}, "messages.[0].role"),
    ({**P_MIN, "messages": [{"content": "hi"}]}, "messages.[0].role"),
    ({**P_MIN, "messages": [{"role": "user"}]}, "messages.[0].content"),
    ({**P_MIN, "messages": [{"role": "system", "content": "x"}, {"role": "assistant"}]}, "messages.[1].content"),
    (user(), "messages.[0].content"),
    (user({"type": "video", "video": {}}), "messages.[0].content.[0].type"),
    (user({"type": "text"}), "messages.[0].content.[0].text"),
    ({**P_MIN, "messages": [{"role": "system", "content": [image(PNG_URI)]}]}, "messages.[0].content.[0].type"),
    ({**P_MIN, "temperature": 2.1}, "temperature"),
    ({**P_MIN, "temperature": -0.1}, "temperature"),
    ({**P_MIN, "temperature": "hot"}, "temperature"),
    ({**P_MIN, "top_p": 1.5}, "top_p"),
    ({**P_MIN, "presence_penalty": 2.5}, "presence_penalty"),
    ({**P_MIN, "frequency_penalty": -2.5}, "frequency_penalty"),
    ({**P_MIN, "n": 0}, "n"),
    ({**P_MIN, "n": 129}, "n"),
    ({**P_MIN, "n": "2"}, "n"),
    ({**P_MIN, "n": True}, "n"),
    ({**P_MIN, "n": 2.0}, "n"),
    ({**P_MIN, "max_tokens": 0}, "max_tokens"),
    ({**P_MIN, "max_tokens": 1.5}, "max_tokens"),
    ({**P_MIN, "max_completion_tokens": -1}, "max_completion_tokens"),
    ({**P_MIN, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({**P_MIN, "stop": []}, "stop"),
    ({**P_MIN, "stop": 7}, "stop"),
    ({**P_MIN, "logit_bias": {"1": 101}}, "logit_bias"),
    ({**P_MIN, "logprobs": "yes"}, "logprobs"),
    ({**P_MIN, "top_logprobs": 2}, "top_logprobs"),
    ({**P_MIN, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({**P_MIN, "top_logprobs": None}, "top_logprobs"),
    ({**P_MIN, "user": None}, "user"),
    ({**P_MIN, "seed": 1.5}, "seed"),
    ({**P_MIN, "stream": "yes"}, "stream"),
    ({**P_MIN, "stream_options": {"include_usage": True}}, "stream_options"),
    ({**P_MIN, "response_format": {"type": "yaml"}}, "response_format.type"),
    (
        {**P_MIN, "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
        "response_format.json_schema.name",
    ),
    (
        {**P_MIN, "response_format": {"type": "json_schema", "json_schema": {"name": "bad name!"}}},
        "response_format.json_schema.name",
    ),
    ({**P_MIN, "response_format": None}, "response_format"),
    (
        {**P_TOOL, "tools": [{"type": "function", "function": {"name": "bad name!"}}], "tool_choice": "auto"},
        "tools.[0].function.name",
    ),
    ({**P_TOOL, "tool_choice": {"type": "function", "function": {"name": "no_such_fn"}}}, "tool_choice"),
    ({**P_MIN, "tool_choice": "required"}, "tool_choice"),
    ({**P_TOOL, "tool_choice": "sometimes"}, "tool_choice"),
    ({**P_TOOL, "parallel_tool_calls": None}, "parallel_tool_calls"),
    ({**P_MIN, "tools": None}, "tools"),
    ({**P_MIN, "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    (roundtrip(answer_id="call_other"), "messages.[2].role"),
    ({**roundtrip(), "messages": roundtrip()["messages"][:2]}, "messages.[1].role"),
    ({**P_MIN, "messages": [{"role": "tool", "tool_call_id": "x", "content": "1"}]}, "messages.[0].role"),
    (user(text(), image(PNG_URI, detail="ultra")), "messages.[0].content.[1].image_url.detail"),
    (user(text(), image("data:image/png;base64")), "messages.[0].content.[1].image_url.url"),
    (user(text(), image("data:image/bmp;base64,AAAA")), "messages.[0].content.[1].image_url.url"),
    (
        user(text(), image("data:image/png;base64," + B64(b"not a png at all"))),
        "messages.[0].content.[1].image_url.url",
    ),
    (user(text(), image("data:image/png;base64,%%%")), "messages.[0].content.[1].image_url.url"),
    (user(text(), image("https://conformance.invalid/cat.png")), "messages.[0].content.[1].image_url.url"),
    (user(text(), image("ftp://example.com/cat.png")), "messages.[0].content.[1].image_url.url"),
    (user(text(), {"type": "image_url"}), "messages.[0].content.[1].image_url.url"),
    (user(text(), audio(WAV_B64, "ogg")), "messages.[0].content.[1].input_audio.format"),
    (user(text(), audio(None)), "messages.[0].content.[1].input_audio.data"),
    (user(text(), audio("!!not base64!!")), "messages.[0].content.[1].input_audio.data"),
    (user(text(), audio(MP3_B64, "wav")), "messages.[0].content.[1].input_audio.data"),
    (user(text(), {"type": "file", "file": {"filename": "a.pdf"}}), "messages.[0].content.[1].file"),
]


@pytest.mark.parametrize("body,param", INVALID, ids=[p for _, p in INVALID])
def test_invalid_requests_400(client, body, param):
    e = error_of(chat(client, body), 400)
    assert e["type"] == "invalid_request_error" and e["param"] == param, e


NULLABLE = "temperature top_p max_tokens max_completion_tokens n stop seed logprobs logit_bias frequency_penalty presence_penalty stream stream_options store metadata service_tier reasoning_effort verbosity modalities audio prediction moderation safety_identifier prompt_cache_key prompt_cache_retention".split()
VALID = [
    {**P_MIN, **{k: None for k in NULLABLE}},
    {**P_MIN, "temperature": 0, "top_p": 0, "presence_penalty": -2, "frequency_penalty": 2},
    {**P_MIN, "temperature": 2, "top_p": 1, "presence_penalty": 2, "frequency_penalty": -2},
    {
        **P_MIN,
        "stop": ["a", "b", "c", "d"],
        "seed": 42,
        "logit_bias": {"50256": -100},
        "user": "u1",
        "metadata": {"a": "b"},
    },
    {**P_MIN, "store": False, "service_tier": "auto", "reasoning_effort": "low", "x_conformance_probe": 1},
    {**P_MIN, "response_format": {"type": "text"}, "n": 128, "max_tokens": 1},
    {
        "model": M,
        "messages": [
            {"role": "developer", "content": [text("Be brief.")]},
            {"role": "system", "content": [text("Be nice.")]},
            {"role": "user", "content": "Hi", "name": "alice"},
            {"role": "assistant", "content": "Hello", "refusal": None, "name": "bot"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
            {"role": "user", "content": [text("Again")]},
        ],
    },
    user(text(), image(PNG_URI), image(JPEG_URI, detail="high"), image(HTTPS_IMAGE, detail="low"), text("and")),
    user(
        text(),
        audio(WAV_B64, "wav"),
        audio(MP3_B64, "mp3"),
        {"type": "file", "file": {"filename": "a.txt", "file_data": B64(b"hello")}},
    ),
    {
        **P_TOOL,
        "tools": [
            {"type": "function", "function": {"name": "ping", "strict": None}},
            {**WEATHER, "function": {**WEATHER["function"], "strict": True}},
        ],
    },
    {**P_TOOL, "tools": []} | {"tool_choice": "none"},
    roundtrip([text("21 degrees")]),
]


@pytest.mark.parametrize("body", VALID)
def test_valid_requests_200(client, body):
    r = chat(
        client,
        body,
        headers={"X-Stainless-Lang": "python", "OpenAI-Organization": "org-x", "X-Stainless-Retry-Count": "0"},
    )
    assert r.status_code == 200, r.text


def test_prompt_token_accounting(client):
    u = ok(client, user(text("one two three"), image(PNG_URI), audio(WAV_B64)))["usage"]
    assert u["prompt_tokens"] == 3 + 85 + 50 and u["prompt_tokens_details"]["audio_tokens"] == 50


def test_cli_runs_and_exits_cleanly(tmp_path):
    env = {**os.environ, "REF_KEY": KEY, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatconform.reference", "--api-key-env", "REF_KEY", "--defect", "usage-missing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"BASE_URL=http://127\.0\.0\.1:\d+/v1", line), line
        base = line.split("=", 1)[1]
        b = httpx.post(base + "/chat/completions", json=P_MIN, headers=AUTH).json()
        assert "usage" not in b  # the defect is active
        # A client that hangs up mid-stream must not produce a traceback.
        host, port = base.split("//")[1].split("/")[0].split(":")
        with socket.create_connection((host, int(port))) as s:
            body = json.dumps({**P_LONG, "stream": True}).encode()
            s.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            s.recv(100)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0 and err == "" and out == ""
    listing = subprocess.run(
        [sys.executable, "-m", "chatconform.reference", "--list-defects"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == len(DEFECTS)


def test_start_rejects_unknown_defect():
    with pytest.raises(ValueError, match="unknown defect 'no-such-defect'"):
        start(defects=["no-such-defect"])


# =====================================================================================
# The defect catalogue
# =====================================================================================


def test_catalogue_metadata():
    assert len(DEFECTS) >= 75
    for name, d in DEFECTS.items():
        assert d.name == name and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
        assert d.area in AREAS and d.breaks and d.description
        assert all(
            re.fullmatch(r"(HTTP|AUTH|REQ|RESP|STREAM|TOOL|PARAM|CONTENT|VISION|AUDIO|ERR)-\d{3}", r) for r in d.breaks
        )
    catalogue = REPO / "chatconform" / "rules.yaml"
    if catalogue.exists():  # the engine's catalogue, once it is there: every rule must exist
        known = catalogue.read_text()
        assert not [(d.name, r) for d in DEFECTS.values() for r in d.breaks if r not in known]


# -- smoke check: each defect changes some answer --------------------------------------

Send = Callable[..., Any]


def _normalize(text: str) -> str:
    """Replace per-answer random values by placeholders numbered by first appearance,
    so two runs compare equal exactly when their shapes (and id/time consistency) do."""
    for pattern, tag in ((r"chatcmpl-[A-Za-z0-9]{29}", "id"), (r"call_[A-Za-z0-9]{24}", "call")):
        seen: dict[str, str] = {}
        text = re.sub(pattern, lambda m: seen.setdefault(m.group(0), f"<{tag}#{len(seen)}>"), text)
    seen_t: dict[str, str] = {}
    # Quoted, so a normalized JSON body still parses.
    return re.sub(
        r'"created":(\d{10})(?=[,}])',
        lambda m: '"created":"' + seen_t.setdefault(m.group(1), f"<t#{len(seen_t)}>") + '"',
        text,
    )


def _sender(client: httpx.Client, base: str) -> Send:
    def send(
        body: Any = None,
        *,
        path: str = "/chat/completions",
        method: str = "POST",
        headers: dict | None = None,
        content: bytes | None = None,
        auth: bool = True,
        timing: bool = False,
    ) -> Any:
        h = dict(AUTH if auth else {})
        h.update(headers or {})
        kw: dict[str, Any] = {"headers": h}
        if content is not None:
            kw["content"] = content
        elif body is not None:
            kw["json"] = body
        if timing:
            with client.stream(method, base + path, **kw) as r:
                return sum(1 for _ in r.iter_raw()) >= 3
        r = client.request(method, base + path, **kw)
        return (r.status_code, r.headers.get("content-type"), _normalize(r.text))

    return send


def one(body: Any = None, **kw: Any) -> Callable[[Send], Any]:
    return lambda send: send(body, **kw)


def first_word_stop(stop_of: Callable[[str], Any]) -> Callable[[Send], Any]:
    def probe(send: Send) -> Any:
        first = send(P_LONG)
        try:
            word = json.loads(first[2])["choices"][0]["message"]["content"].split()[4]
        except (ValueError, LookupError, TypeError, AttributeError):
            return first  # a mutant broke the first answer already: that is the difference
        return send({**P_LONG, "stop": stop_of(word)})

    return probe


def spanning_stop(send: Send) -> Any:
    """A stop string across a token boundary: the end of the 5th word, a space, the start of the 6th."""
    first = send(P_LONG)
    try:
        words = json.loads(first[2])["choices"][0]["message"]["content"].split()
    except (ValueError, LookupError, TypeError, AttributeError):
        return first
    return send({**P_LONG, "stop": words[4][-2:] + " " + words[5][:2]})


def spanning_stop_streamed(send: Send) -> Any:
    """spanning_stop, the second request streamed: the stop string spans two chunks."""
    first = send(P_LONG)
    try:
        words = json.loads(first[2])["choices"][0]["message"]["content"].split()
    except (ValueError, LookupError, TypeError, AttributeError):
        return first
    return send({**P_LONG, "stream": True, "stop": words[4][-2:] + " " + words[5][:2]})


S = lambda body: {**body, "stream": True}  # noqa: E731
SU = lambda body: {**body, "stream": True, "stream_options": {"include_usage": True}}  # noqa: E731
LP = {**P_MIN, "logprobs": True, "top_logprobs": 2}
JSON_OBJ = {**P_MIN, "response_format": {"type": "json_object"}}
JSON_SCHEMA = {**P_MIN, "response_format": RF_SCHEMA}
NAMED = {**P_TOOL, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
BAD_KEY = {"Authorization": "Bearer sk-conformance-invalid-0000"}
HISTORY = {
    "model": M,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": "Hello."},
        P_MIN["messages"][0],
    ],
}
LONG_CHAT = {
    "model": M,
    "messages": [{"role": ("user", "assistant")[i % 2], "content": f"turn {i}"} for i in range(24)] + P_MIN["messages"],
}
MANY_PARTS = user(*[text(f"part {i}") for i in range(17)])
MANY_TOOLS = {
    **P_TOOL,
    "tools": [WEATHER]
    + [{"type": "function", "function": {**WEATHER["function"], "name": f"get_weather_{i}"}} for i in range(16)],
}
FILE_PART = user(
    text(),
    {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64," + B64(b"%PDF-1.4\n%%EOF\n")},
    },
)
TOOL_PARTS_NO_ID = {
    **roundtrip(),
    "messages": roundtrip()["messages"][:2] + [{"role": "tool", "content": [text("21 degrees")]}],
}

SMOKE: dict[str, Callable[[Send], Any]] = {
    # http
    "rejects-charset-param": one(
        P_MIN, content=json.dumps(P_MIN).encode(), headers={"Content-Type": "application/json; charset=utf-8"}
    ),
    "unknown-field-500": one({**P_MIN, "x_conformance_probe": 1}),
    "rejects-null-sampling": one({**P_MIN, "temperature": None}),
    "rejects-sdk-headers": one(P_MIN, headers={"X-Stainless-Lang": "python"}),
    "response-content-type-text-plain": one(P_MIN),
    "response-charset-latin1": one(P_MIN),
    "stream-content-type-json": one(S(P_MIN)),
    "stream-ignores-accept-json": one(S(P_MIN), headers={"Accept": "application/json"}),
    "unknown-path-html": one(P_MIN, path="/chat/completion"),
    "unknown-path-detail": one(P_MIN, path="/chat/completion"),
    "unknown-path-200": one(P_MIN, path="/chat/completion"),
    "chat-route-404": one(P_MIN),
    # auth
    "auth-disabled": one(P_MIN, auth=False),
    "auth-wrong-key-accepted": one(P_MIN, headers=BAD_KEY),
    "auth-missing-key-403": one(P_MIN, auth=False),
    "auth-wrong-key-403": one(P_MIN, headers=BAD_KEY),
    "auth-key-echoed": one(P_MIN, headers=BAD_KEY),
    "auth-scheme-case-sensitive": one(P_MIN, headers={"Authorization": f"bearer {KEY}"}),
    "auth-401-plain-text": one(P_MIN, auth=False),
    "auth-bearer-ignored": one(P_MIN),
    # request
    "rejects-developer-role": one(
        {"model": M, "messages": [{"role": "developer", "content": "Be brief."}, P_MIN["messages"][0]]}
    ),
    "rejects-system-text-parts": one(
        {"model": M, "messages": [{"role": "system", "content": [text("Be brief.")]}, P_MIN["messages"][0]]}
    ),
    "rejects-user-text-parts": one(user(text("Reply with the single word OK."))),
    "rejects-message-name": one({"model": M, "messages": [{**P_MIN["messages"][0], "name": "alice"}]}),
    "rejects-assistant-refusal-field": one(
        {
            "model": M,
            "messages": [
                P_MIN["messages"][0],
                {"role": "assistant", "content": "OK", "refusal": None},
                P_MIN["messages"][0],
            ],
        }
    ),
    "rejects-assistant-null-content": one(roundtrip()),
    "rejects-assistant-history": one(
        {
            "model": M,
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
        }
    ),
    "accepts-unknown-role": one({"model": M, "messages": [{"role": "robot", "content": "hi"}]}),
    "accepts-missing-content": one({"model": M, "messages": [{"role": "user"}]}),
    "accepts-empty-content-parts": one(user()),
    "accepts-unknown-part-type": one(user({"type": "video", "video": {}})),
    "accepts-part-without-payload": one(user({"type": "text"})),
    "coerces-string-n": one({**P_MIN, "n": "2"}),
    "coerces-string-stream": one({**P_MIN, "stream": "yes"}),
    "missing-messages-accepted": one({"model": M}),
    "missing-model-uses-default": one({"messages": P_MIN["messages"]}),
    "requires-max-tokens": one(P_MIN),
    "rejects-long-conversation": one(LONG_CHAT),
    "rejects-many-content-parts": one(MANY_PARTS),
    "prompt-tokens-last-message-only": one(HISTORY),
    "rejects-assistant-text-parts": one(
        {
            "model": M,
            "messages": [P_MIN["messages"][0], {"role": "assistant", "content": [text("OK")]}, P_MIN["messages"][0]],
        }
    ),
    # response
    **{
        name: one(P_MIN)
        for name in [
            "response-object-wrong",
            "response-id-missing",
            "response-id-not-string",
            "response-id-constant",
            "response-created-float",
            "response-created-milliseconds",
            "response-created-string",
            "response-model-missing",
            "response-model-empty",
            "response-choices-empty",
            "response-service-tier-invalid",
            "response-two-choices-without-n",
            "response-choice-index-missing",
            "response-logprobs-key-missing",
            "response-role-bot",
            "response-content-missing",
            "response-refusal-missing",
            "response-finish-reason-empty",
            "response-finish-reason-null",
            "response-finish-reason-eos",
            "response-finish-reason-tool-calls-without-calls",
            "usage-missing",
            "usage-total-wrong",
            "usage-as-strings",
            "usage-integers-as-floats",
            "usage-prompt-tokens-zero",
            "usage-cached-exceeds-prompt",
            "response-as-list",
            "response-created-fixed",
        ]
    },
    # stream
    **{
        name: one(S(P_MIN))
        for name in [
            "stream-finish-reason-empty-string",
            "stream-finish-reason-eos",
            "stream-missing-done",
            "stream-data-after-done",
            "stream-events-single-newline",
            "stream-no-space-after-colon",
            "stream-non-json-event",
            "stream-chunk-object-wrong",
            "stream-chunk-model-missing",
            "stream-id-changes",
            "stream-created-changes",
            "stream-model-changes",
            "stream-role-missing",
            "stream-role-repeated",
            "stream-delta-refusal-boolean",
            "stream-finish-reason-twice",
            "stream-finish-reason-missing",
            "stream-delta-after-finish",
            "stream-finish-chunk-without-delta",
            "stream-content-as-text-field",
            "stream-usage-without-include",
            "stream-obfuscation-not-string",
        ]
    },
    **{
        name: one(SU(P_MIN))
        for name in ["stream-usage-ignored", "stream-usage-chunk-has-choices", "stream-usage-before-finish"]
    },
    "stream-n-missing-index": one(S({**P_MIN, "n": 2})),
    "stream-indexes-out-of-order": one(S({**P_MIN, "n": 2})),
    "stream-options-without-stream-500": one({**P_MIN, "stream_options": {"include_usage": True}}),
    "stream-buffered": one(S(P_MIN), timing=True),
    "stream-error-event-malformed": one(S(P_MIN)),
    "stream-usage-first-choice-only": one(SU({**P_MIN, "n": 2})),
    # errors
    **{
        name: one({**P_MIN, "temperature": 2.1})
        for name in [
            "error-not-enveloped",
            "error-html",
            "error-param-missing",
            "error-code-missing",
            "error-code-integer",
            "error-message-empty",
            "error-param-null",
        ]
    },
    "invalid-json-500": one(content=b'{"model":', headers={"Content-Type": "application/json"}),
    "non-object-body-500": one([]),
    "empty-messages-500": one({"model": M, "messages": []}),
    "wrong-type-422": one({**P_MIN, "temperature": "hot"}),
    "unknown-model-200": one({**P_MIN, "model": "conformance-no-such-model"}),
    "unknown-model-500": one({**P_MIN, "model": "conformance-no-such-model"}),
    "context-overflow-500": one({"model": M, "messages": [{"role": "user", "content": "word " * 33000}]}),
    "stream-validation-error-as-sse": one(S({**P_MIN, "temperature": 5})),
    "error-param-none-string": one(content=b'{"model":', headers={"Content-Type": "application/json"}),
    "error-param-framework-path": one({"model": M, "messages": [{"content": "hi"}]}),
    "error-type-bad-request-error": one({**P_MIN, "temperature": "hot"}),
    "error-leaks-traceback": one({**P_MIN, "temperature": "hot"}),
    "error-message-exception-text": one({"model": M, "messages": "hi"}),
    "out-of-range-403": one({**P_MIN, "top_p": 7}),
    "context-overflow-crash": one({"model": M, "messages": [{"role": "user", "content": "word " * 33000}]}),
    "rate-limit-retry-after-fraction": lambda send: [send({**P_MIN, "user": "u-1"}) for _ in range(2)],
    "quota-429-as-rate-limit": lambda send: [send({**P_MIN, "user": "u-1"}) for _ in range(2)],
    # tools
    **{
        name: one(P_TOOL)
        for name in [
            "tool-arguments-object",
            "tool-arguments-invalid-json",
            "tool-arguments-not-object",
            "tool-arguments-missing-required",
            "tool-name-not-offered",
            "tool-call-type-func",
            "tool-call-id-missing",
            "tool-call-id-empty",
            "tool-finish-reason-stop",
            "tool-choice-required-ignored",
            "tool-call-content-array",
        ]
    },
    "tool-call-ids-duplicate": one(P_TOOL_2),
    "tool-choice-none-ignored": one({**P_TOOL, "tool_choice": "none"}),
    "rejects-tool-choice-none": one({**P_TOOL, "tool_choice": "none"}),
    "tool-choice-named-ignored": one(NAMED),
    "tool-parallel-false-ignored": one({**P_TOOL, "parallel_tool_calls": False}),
    "rejects-tool-array-content": one(roundtrip([text("21 degrees")])),
    "rejects-tool-without-parameters": one({**P_TOOL, "tools": [{"type": "function", "function": {"name": "ping"}}]}),
    "rejects-tool-strict-null": one(
        {**P_TOOL, "tools": [{**WEATHER, "function": {**WEATHER["function"], "strict": None}}]}
    ),
    "accepts-invalid-tool-name": one({**P_TOOL, "tools": [{"type": "function", "function": {"name": "bad name!"}}]}),
    "accepts-unknown-named-tool": one(
        {**P_TOOL, "tool_choice": {"type": "function", "function": {"name": "no_such_fn"}}}
    ),
    "accepts-tool-choice-without-tools": one({**P_MIN, "tool_choice": "required"}),
    "accepts-orphan-tool-message": one(
        {"model": M, "messages": [P_MIN["messages"][0], {"role": "tool", "tool_call_id": "call_x", "content": "1"}]}
    ),
    "accepts-tool-parts-without-id": one(TOOL_PARTS_NO_ID),
    "rejects-many-tools": one(MANY_TOOLS),
    "accepts-unanswered-tool-calls": one(
        {**roundtrip(), "messages": roundtrip()["messages"][:2] + [P_MIN["messages"][0]]}
    ),
    **{
        name: one(S(P_TOOL))
        for name in [
            "stream-tool-index-missing",
            "stream-tool-id-repeated",
            "stream-tool-type-missing",
            "stream-tool-arguments-broken",
            "stream-tool-index-from-one",
            "stream-tool-finish-reason-stop",
        ]
    },
    "tool-choice-required-as-auto": one(P_NO_TOOL),
    "tool-choice-named-as-auto": one(
        {**P_TOOL_2, "tool_choice": {"type": "function", "function": {"name": "get_time"}}}
    ),
    "tool-choice-none-as-auto": one({**P_TOOL, "tool_choice": "none"}),
    "tool-parallel-false-as-true": one({**P_TOOL_2, "parallel_tool_calls": False}),
    "stream-tool-ids-duplicate": one(S(P_TOOL_2)),
    "rejects-tool-choice-required": one(P_TOOL),
    "tool-choice-required-as-text": one(P_TOOL),
    "tool-choice-named-as-text": one(
        {**P_TOOL, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
    ),
    "rejects-tools": one(P_TOOL),
    "rejects-parallel-tool-calls-false": one({**P_TOOL, "parallel_tool_calls": False}),
    "stream-delta-function-call-null": one(S(P_TOOL)),
    # params
    "ignores-max-tokens": one({**P_LONG, "max_tokens": 5}),
    "ignores-max-completion-tokens": one({**P_LONG, "max_completion_tokens": 16}),
    "length-reported-as-stop": one({**P_LONG, "max_tokens": 5}),
    "stream-length-reported-as-stop": one(S({**P_LONG, "max_tokens": 5})),
    "stop-sequence-included": first_word_stop(lambda w: w),
    "stop-array-first-only": first_word_stop(lambda w: ["zzz", w]),
    "ignores-stop": first_word_stop(lambda w: [w]),
    "rejects-four-stops": one({**P_MIN, "stop": ["a", "b", "c", "d"]}),
    "accepts-five-stops": one({**P_MIN, "stop": ["a", "b", "c", "d", "e"]}),
    "n-ignored": one({**P_MIN, "n": 3}),
    "n-duplicate-index": one({**P_MIN, "n": 3}),
    "accepts-out-of-range-n": one({**P_MIN, "n": 0}),
    "rejects-n-above-one": one({**P_MIN, "n": 2}),
    "rejects-temperature-2": one({**P_MIN, "temperature": 2}),
    "accepts-temperature-above-2": one({**P_MIN, "temperature": 2.1}),
    "rejects-top-p-0": one({**P_MIN, "top_p": 0}),
    "accepts-top-p-above-1": one({**P_MIN, "top_p": 1.5}),
    "rejects-negative-penalty": one({**P_MIN, "presence_penalty": -2}),
    "accepts-penalty-out-of-range": one({**P_MIN, "presence_penalty": 2.5}),
    "rejects-logit-bias": one({**P_MIN, "logit_bias": {"50256": -100}}),
    "accepts-logit-bias-out-of-range": one({**P_MIN, "logit_bias": {"1": 101}}),
    "rejects-seed": one({**P_MIN, "seed": 42}),
    "accepts-max-tokens-zero": one({**P_MIN, "max_tokens": 0}),
    "accepts-fractional-max-tokens": one({**P_MIN, "max_tokens": 1.5}),
    **{
        name: one(LP)
        for name in [
            "logprobs-ignored",
            "logprobs-refusal-key-missing",
            "logprob-positive",
            "top-logprobs-too-many",
            "logprobs-bytes-wrong",
            "logprobs-tokens-mismatch",
            "rejects-logprobs",
        ]
    },
    "logprobs-when-not-requested": one(P_MIN),
    "stream-logprobs-missing": one(S(LP)),
    "accepts-top-logprobs-without-logprobs": one({**P_MIN, "top_logprobs": 2}),
    "accepts-top-logprobs-above-20": one({**P_MIN, "logprobs": True, "top_logprobs": 21}),
    "rejects-response-format-text": one({**P_MIN, "response_format": {"type": "text"}}),
    "metadata-500": one({**P_MIN, "metadata": {"a": "b"}}),
    "rejects-max-completion-tokens": one({**P_MIN, "max_completion_tokens": 5}),
    "max-tokens-refused-vaguely": one({**P_MIN, "max_tokens": 5}),
    "max-tokens-500": one({**P_MIN, "max_tokens": 5}),
    "completion-tokens-short-at-length": one({**P_LONG, "max_completion_tokens": 5}),
    "rejects-token-limit-in-the-thousands": one({**P_MIN, "max_completion_tokens": 4096}),
    "rejects-n-with-greedy-sampling": one({**P_MIN, "n": 2, "temperature": 0}),
    "n-capped-at-16": one({**P_MIN, "n": 20, "max_completion_tokens": 1}),
    "top-logprobs-capped-at-5": one({**P_MIN, "logprobs": True, "top_logprobs": 20}),
    "stop-matched-within-one-token": spanning_stop,
    "stop-spanning-tokens-missed": spanning_stop,
    "stream-stop-spanning-chunks-missed": spanning_stop_streamed,
    "rejects-large-token-limit": one({**P_MIN, "max_completion_tokens": 4096}),
    "stream-rejects-top-logprobs-above-10": one(S({**P_MIN, "logprobs": True, "top_logprobs": 15})),
    **{
        name: one(S(LP))
        for name in ["stream-logprob-positive", "stream-top-logprobs-too-many", "stream-logprobs-refusal-key-missing"]
    },
    "stream-logprobs-when-not-requested": one(S(P_MIN)),
    "range-error-names-no-field": one({**P_MIN, "temperature": 2.1}),
    "clamps-seed-to-int64": one({**P_MIN, "seed": 2**63}),
    "coerces-numeric-stop": one({**P_MIN, "stop": 7}),
    "ignores-bad-logit-bias": one({**P_MIN, "logit_bias": {"hello": 1}}),
    "accepts-numeric-content": one({**P_MIN, "messages": [{"role": "user", "content": 5}]}),
    **{
        name: one(
            {
                **P_MIN,
                "max_completion_tokens": 200,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "typed",
                        "strict": True,
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["p", "grid"],
                            "properties": {
                                "p": {"type": "integer", "enum": [1, 2]},
                                "grid": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                                },
                            },
                        },
                    },
                },
            }
        )
        for name in ("json-schema-typed-enums-as-strings", "json-schema-nested-arrays-flattened")
    },
    # structured
    "json-object-fenced": one(JSON_OBJ),
    "rejects-json-object": one(JSON_OBJ),
    "json-schema-missing-required": one(JSON_SCHEMA),
    "json-schema-wrong-type": one(JSON_SCHEMA),
    "json-schema-ignored": one(JSON_SCHEMA),
    "rejects-json-schema": one(JSON_SCHEMA),
    "accepts-json-schema-without-name": one(
        {**P_MIN, "response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}}
    ),
    "accepts-unknown-response-format": one({**P_MIN, "response_format": {"type": "yaml"}}),
    "stream-structured-output-invalid": one(S(JSON_SCHEMA)),
    # vision
    "rejects-png-data-uri": one(user(text(), image(PNG_URI))),
    "rejects-jpeg-data-uri": one(user(text(), image(JPEG_URI))),
    "rejects-https-image-url": one(user(text(), image(HTTPS_IMAGE))),
    "rejects-detail-high": one(user(text(), image(PNG_URI, detail="high"))),
    "rejects-multiple-images": one(user(text(), image(PNG_URI), image(JPEG_URI))),
    "accepts-invalid-detail": one(user(text(), image(PNG_URI, detail="ultra"))),
    "accepts-malformed-data-uri": one(user(text(), image("data:image/png;base64"))),
    "file-part-500": one(FILE_PART),
    "undecodable-image-500": one(user(text(), image("data:image/png;base64," + B64(b"not a png")))),
    "accepts-unreachable-image-url": one(user(text(), image("https://conformance.invalid/cat.png"))),
    "accepts-image-in-system-message": one(
        {"model": M, "messages": [{"role": "system", "content": [image(PNG_URI)]}, P_MIN["messages"][0]]}
    ),
    # audio
    "rejects-wav": one(user(text(), audio(WAV_B64, "wav"))),
    "rejects-mp3": one(user(text(), audio(MP3_B64, "mp3"))),
    "accepts-unknown-audio-format": one(user(text(), audio(WAV_B64, "ogg"))),
    "bad-base64-audio-500": one(user(text(), audio("!!not base64!!"))),
    "accepts-audio-without-data": one(user(text(), audio(None))),
}


def test_smoke_table_covers_catalogue():
    assert sorted(set(DEFECTS) - set(SMOKE)) == [] and sorted(set(SMOKE) - set(DEFECTS)) == []


@pytest.fixture(scope="module")
def bare_client():
    # One client for all mutants: building an httpx.Client (SSL context) costs ~60 ms.
    with httpx.Client(timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def clean_answers(server, bare_client):
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            cache[name] = SMOKE[name](_sender(bare_client, server.base_url))
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_changes_an_answer(name, clean_answers, bare_client):
    # stream_delay=0: only the clean server's streams need real pacing (stream-buffered).
    with start(api_key=KEY, defects=[name], stream_delay=0) as srv:
        mutated = SMOKE[name](_sender(bare_client, srv.base_url))
    assert mutated != clean_answers(name), f"defect {name} did not change the answer to its probe"


def test_record_writes_each_request_without_the_key():
    """--record (benchmarks/replay.py's input): one line per request as received, the
    key never written, only whether the right one was sent."""
    out = io.StringIO()
    with start(api_key=KEY, record=out) as srv:
        body = {"model": M, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        with httpx.Client() as c:
            c.post(f"{srv.base_url}/chat/completions", json=body, headers={**AUTH, "X-Echo": KEY})
            c.post(
                f"{srv.base_url}/chat/completions", content=b"{not json", headers={"Authorization": "Bearer sk-wrong"}
            )
            c.get(f"{srv.base_url}/models")
    text = out.getvalue()
    assert KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(r["method"], r["path"], r["auth"]) for r in lines] == [
        ("POST", "/v1/chat/completions", "valid"),
        ("POST", "/v1/chat/completions", "other"),
        ("GET", "/v1/models", None),
    ]
    assert json.loads(lines[0]["body"]) == body
    assert lines[0]["headers"]["X-Echo"] == "{KEY}"
    assert lines[1]["body"] == "{not json"


def test_record_never_writes_the_key_in_a_body():
    out = io.StringIO()
    with start(api_key=KEY, record=out) as srv, httpx.Client() as c:
        c.post(
            f"{srv.base_url}/chat/completions",
            headers=AUTH,
            json={"model": M, "messages": [{"role": "user", "content": f"my key is {KEY}"}], "max_tokens": 2},
        )
    assert KEY not in out.getvalue() and "my key is {KEY}" in json.loads(out.getvalue())["body"]
