"""INVALID requests: a valid request with exactly ONE thing broken.

Each `Mutation` names what it breaks, the rules a faithful server answers it under
(the schema's x-rule attribution, or a prose rule: see attribution.py), and the
capabilities its base request needs.  `invalid_requests(profile, kind)` draws a valid
base request, applies one mutation of that kind, and returns an `Invalid` that knows
the field it broke.  What a test finally judges is recomputed from the body itself
(`attribution.invalid_reasons`), because shrinking may change what was drawn.

Token limits survive every mutation: when a mutation breaks one limit field, the other
limit is set (valid), so a lax server that accepts the broken request still generates
little.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import strategies as st

from .attribution import Reason, invalid_reasons
from .requests import INT64, Profile, valid_requests
from .text import texts, words


@dataclass(frozen=True)
class Mutation:
    name: str
    kind: str
    rules: tuple[str, ...]  # the rules its primary reason may be attributed to
    apply: Callable  # (draw, body, profile) -> (pointer, param, what) after editing body in place
    needs: tuple[str, ...] = ()  # capabilities the base request needs (its focus), beyond core
    focus: str = "core"
    tolerated: str = ""  # why accepting it is a tolerable dialect (then a note, not a failure)


@dataclass
class Invalid:
    body: dict
    mutation: str
    pointer: str  # JSON pointer of the broken place
    param: str  # the request field a good error names (ERR-003)
    what: str
    reasons: list[Reason] = field(default_factory=list)

    def primary(self) -> Reason | None:
        """The reason at the broken place (or the first one): its rule is what the server broke."""
        reasons = self.reasons = self.reasons or invalid_reasons(self.body)
        for r in reasons:
            if r.pointer == self.pointer or r.pointer.startswith(self.pointer.rstrip("/") + "/"):
                return r
        for r in reasons:
            if self.pointer.startswith(r.pointer.rstrip("/") + "/") or r.pointer == "/":
                return r
        return reasons[0] if reasons else None

    def __repr__(self) -> str:
        import json

        return f"Invalid({self.mutation}: {self.what}; body={json.dumps(self.body, ensure_ascii=False)})"


# -- helpers ------------------------------------------------------------------------------------
LIMITS = ("max_tokens", "max_completion_tokens")


def _keep_a_limit(body: dict, broken: str, profile: Profile) -> None:
    if broken in LIMITS:
        other = LIMITS[1 - LIMITS.index(broken)]
        if not (isinstance(body.get(other), int) and not isinstance(body.get(other), bool) and body[other] >= 1):
            body[other] = profile.max_tokens


def _messages_of(body: dict, roles: tuple[str, ...]) -> list[int]:
    return [i for i, m in enumerate(body["messages"]) if m.get("role") in roles]


WRONG = {
    "string": ["hot", "2", "", "true"],
    "integer": [7],
    "number": [1.5, -0.5],
    "boolean": [True, False],
    "array": [[], ["x"]],
    "object": [{}, {"value": 1}],
    "null": [None],
}


def _wrong_value(draw, allowed: list[str]):
    # an integer is a number; 1.5 is not an integer (a fractional value, never 2.0)
    kinds = [k for k in WRONG if k not in allowed and not (k == "integer" and "number" in allowed)]
    kind = draw(st.sampled_from(kinds))
    return draw(st.sampled_from(WRONG[kind]))


def _types_of(field_name: str) -> list[str]:
    from .. import schemas

    t = schemas.load("request")["properties"][field_name].get("type", [])
    return [t] if isinstance(t, str) else list(t)


# -- the mutations ------------------------------------------------------------------------------
CORE_TYPED = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stop",
    "seed",
    "logit_bias",
    "messages",
    "model",
)


def wrong_type_core(draw, body, profile):
    name = draw(st.sampled_from(CORE_TYPED))
    body[name] = _wrong_value(draw, _types_of(name))
    _keep_a_limit(body, name, profile)
    return f"/{name}", name, f"{name} = {body[name]!r} (a wrong JSON type)"


def out_of_range(draw, body, profile):
    up = lambda x: math.nextafter(x, math.inf)  # noqa: E731
    down = lambda x: math.nextafter(x, -math.inf)  # noqa: E731
    table = {
        "temperature": [up(2.0), 2.5, 3, 100, -0.1, down(0.0), -1],
        "top_p": [up(1.0), 1.5, 2, -0.5, -1],
        "presence_penalty": [up(2.0), 2.5, -2.5, down(-2.0), 3, -3],
        "frequency_penalty": [up(2.0), 2.5, -2.5, down(-2.0), 3, -3],
        "n": [0, -1, 129],
        "max_tokens": [0, -1],
        "max_completion_tokens": [0, -1],
        "seed": [INT64, -INT64 - 1],
        "logit_bias": [{"50256": 101}, {"50256": -101}, {"1": 1000}],
        "top_logprobs": [21, -1, 100],
    }
    name = draw(st.sampled_from(sorted(table)))
    body[name] = draw(st.sampled_from(table[name]))
    if name == "top_logprobs":
        body["logprobs"] = True  # only the range is broken
    _keep_a_limit(body, name, profile)
    ptr = f"/{name}" + (f"/{next(iter(body[name]))}" if name == "logit_bias" else "")
    return ptr, name, f"{name} = {body[name]!r} (out of range)"


def unknown_enum(draw, body, profile):
    choice = draw(st.sampled_from(["response_format", "role", "part_type"]))
    if choice == "response_format":
        body["response_format"] = {"type": draw(st.sampled_from(["yaml", "JSON", "", "json", "text_only"]))}
        return "/response_format/type", "response_format", f"response_format.type {body['response_format']['type']!r}"
    i = draw(st.sampled_from(_messages_of(body, ("user",))))
    msg = body["messages"][i]
    if choice == "role":
        msg["role"] = draw(st.sampled_from(["robot", "User", "", "human", "model"]))
        return f"/messages/{i}/role", "messages", f"messages[{i}].role {msg['role']!r}"
    kind = draw(st.sampled_from(["hologram", "Text", "", "image", "video"]))
    parts = msg["content"] if isinstance(msg["content"], list) else [{"type": "text", "text": msg["content"]}]
    j = draw(st.integers(0, len(parts) - 1))
    parts[j] = {"type": kind, kind or "payload": "x"}
    msg["content"] = parts
    return f"/messages/{i}/content/{j}", "messages", f"messages[{i}].content[{j}].type {kind!r}"


def missing_required(draw, body, profile):
    choice = draw(st.sampled_from(["model", "messages", "role", "content", "text", "rf_type", "json_schema_name"]))
    if choice in ("model", "messages"):
        del body[choice]
        return "/", choice, f"no {choice}"
    if choice in ("role", "content"):
        i = draw(st.sampled_from(_messages_of(body, ("user", "system", "developer"))))
        del body["messages"][i][choice]
        return f"/messages/{i}", "messages", f"messages[{i}] without {choice}"
    if choice == "text":
        i = draw(st.sampled_from(_messages_of(body, ("user",))))
        msg = body["messages"][i]
        msg["content"] = [{"type": "text"}] + (msg["content"] if isinstance(msg["content"], list) else [])
        return f"/messages/{i}/content/0", "messages", f"messages[{i}].content[0] is a text part without text"
    if choice == "rf_type":
        body["response_format"] = {}
        return "/response_format", "response_format", "response_format without type"
    body["response_format"] = {"type": "json_schema", "json_schema": {"schema": {"type": "object", "properties": {}}}}
    return "/response_format/json_schema", "response_format", "json_schema without name"


def stop_count(draw, body, profile):
    body["stop"] = draw(
        st.one_of(
            st.just([]),
            st.lists(st.sampled_from(["a", "b", "c", "\n", "😀", "END"]) | texts(6), min_size=5, max_size=8),
        )
    )
    return "/stop", "stop", f"stop with {len(body['stop'])} entries"


def top_logprobs_without_logprobs(draw, body, profile):
    body["top_logprobs"] = draw(st.integers(0, 20))
    flag = draw(st.sampled_from(["absent", False, None]))
    body.pop("logprobs", None)
    if flag != "absent":
        body["logprobs"] = flag
    return "/", "top_logprobs", f"top_logprobs without logprobs: true (logprobs {flag})"


def content_wrong_type(draw, body, profile):
    """Content of a wrong shape in a message of any role (a tool-call turn of the assistant aside)."""
    candidates = [
        i
        for i in _messages_of(body, ("user", "system", "developer", "assistant"))
        if not body["messages"][i].get("tool_calls")
    ]
    role = draw(st.sampled_from(["user", "system", "developer", "assistant"]))
    if not any(body["messages"][i]["role"] == role for i in candidates):
        at = 0 if role in ("system", "developer") else len(body["messages"]) - 1
        if role == "assistant":
            body["messages"].insert(at, {"role": "user", "content": "hi"})
            at += 1
        body["messages"].insert(at, {"role": role, "content": "hi"})
        candidates = [at]
    i = draw(st.sampled_from([i for i in candidates if body["messages"][i]["role"] == role] or candidates))
    msg = body["messages"][i]
    msg["content"] = draw(
        st.sampled_from(
            [
                5,
                1.5,
                True,
                {"text": "hi"},
                {"type": "text", "text": "hi"},
                [["nested"]],
                ["bare string"],
                [{"type": "text", "text": "hi"}, 5],
            ]
        )
    )
    return f"/messages/{i}/content", "messages", f"messages[{i}] ({msg['role']}) content {msg['content']!r}"


def empty_arrays(draw, body, profile):
    choice = draw(st.sampled_from(["messages", "content"]))
    if choice == "messages":
        body["messages"] = []
        return "/messages", "messages", "messages: []"
    i = draw(st.sampled_from(_messages_of(body, ("user", "system", "developer"))))
    body["messages"][i]["content"] = []
    return f"/messages/{i}/content", "messages", f"messages[{i}].content: []"


# needs streaming
def stream_options_without_stream(draw, body, profile):
    flag = draw(st.sampled_from(["absent", False]))
    body.pop("stream", None)
    if flag != "absent":
        body["stream"] = flag
    body["stream_options"] = {"include_usage": draw(st.booleans())}
    return "/", "stream_options", f"stream_options with stream {flag}"


# needs tools
def tool_choice_without_tools(draw, body, profile):
    tools = body.pop("tools", None) or []
    body.pop("parallel_tool_calls", None)
    named = [{"type": "function", "function": {"name": t["function"]["name"]}} for t in tools]
    body["tool_choice"] = draw(st.sampled_from(["required", "auto"] + named))
    # tool round trips in the history stay (answered calls need no offered tools)
    return "/tool_choice", "tool_choice", f"tool_choice {body['tool_choice']!r} without tools"


def tool_message_without_id(draw, body, profile):
    idx = _messages_of(body, ("tool",))
    if not idx:
        name = body["tools"][0]["function"]["name"]
        body["messages"] += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_x1", "type": "function", "function": {"name": name, "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_x1", "content": "42"},
        ]
        idx = [len(body["messages"]) - 1]
    i = draw(st.sampled_from(idx))
    del body["messages"][i]["tool_call_id"]
    if draw(st.booleans()):  # with a part array too: every content shape
        content = body["messages"][i]["content"]
        body["messages"][i]["content"] = (
            content if isinstance(content, list) else [{"type": "text", "text": content or "42"}]
        )
    return f"/messages/{i}", "messages", f"messages[{i}] (tool) without tool_call_id"


def _tool_message_index(draw, body) -> int:
    idx = _messages_of(body, ("tool",))
    if idx:
        return draw(st.sampled_from(idx))
    name = body["tools"][0]["function"]["name"]
    body["messages"] += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_x2", "type": "function", "function": {"name": name, "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_x2", "content": "42"},
    ]
    return len(body["messages"]) - 1


def tool_message_shape(draw, body, profile):
    """A tool message's content of every wrong shape: a wrong type, no content, an empty
    part array, a part that is not text (REQ-004/010/011, CONTENT-002)."""
    i = _tool_message_index(draw, body)
    msg = body["messages"][i]
    choice = draw(st.sampled_from(["type", "missing", "empty", "image", "bare"]))
    if choice == "missing":
        del msg["content"]
        return f"/messages/{i}", "messages", f"messages[{i}] (tool) without content"
    if choice == "type":
        msg["content"] = draw(st.sampled_from([5, True, {"text": "42"}, None]))
        return f"/messages/{i}/content", "messages", f"messages[{i}] (tool) content {msg['content']!r}"
    if choice == "empty":
        msg["content"] = []
        return f"/messages/{i}/content", "messages", f"messages[{i}] (tool) content []"
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}} if choice == "image" else "bare"
    msg["content"] = [{"type": "text", "text": "42"}, part]
    return f"/messages/{i}/content/1", "messages", f"messages[{i}] (tool) content with {part!r}"


def orphan_tool_message(draw, body, profile):
    """TOOL-018: a tool result answering no call, or a call left unanswered."""
    name = body["tools"][0]["function"]["name"]
    call = {"id": "call_orphan1", "type": "function", "function": {"name": name, "arguments": "{}"}}
    n = len(body["messages"])
    if draw(st.booleans()):
        body["messages"].append({"role": "tool", "tool_call_id": "call_orphan1", "content": "42"})
        return f"/messages/{n}/tool_call_id", "messages", "a tool message that answers no tool call"
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "user", "content": "go on"},
    ]
    return f"/messages/{n}/tool_calls", "messages", "an assistant tool call left unanswered"


def bad_tool_name(draw, body, profile):
    k = draw(st.integers(0, len(body["tools"]) - 1))
    bad = draw(st.sampled_from(["get weather", "x" * 65, "naïve", "a.b", "", "😀", "tool/1"]))
    old = body["tools"][k]["function"]["name"]
    body["tools"][k]["function"]["name"] = bad
    # keep everything else consistent: a named tool_choice follows the rename
    tc = body.get("tool_choice")
    if isinstance(tc, dict) and tc.get("function", {}).get("name") == old:
        tc["function"]["name"] = bad
    for m in body["messages"]:
        for c in m.get("tool_calls") or []:
            if c["function"]["name"] == old:
                c["function"]["name"] = bad
    return f"/tools/{k}/function/name", "tools", f"tools[{k}].function.name {bad!r}"


def tool_choice_unknown(draw, body, profile):
    body["tool_choice"] = draw(st.sampled_from(["sometimes", "Auto", "", "any", "function"]))
    return "/tool_choice", "tool_choice", f"tool_choice {body['tool_choice']!r}"


def tool_choice_unknown_function(draw, body, profile):
    names = {t["function"]["name"] for t in body["tools"]}
    name = draw(words().filter(lambda n: n not in names))
    body["tool_choice"] = {"type": "function", "function": {"name": name}}
    return "/tool_choice/function/name", "tool_choice", f"tool_choice names {name!r}, not offered"


# needs vision / audio
def bad_image_detail(draw, body, profile):
    i, j = _first_part(body, "image_url")
    body["messages"][i]["content"][j]["image_url"]["detail"] = draw(st.sampled_from(["ultra", "HIGH", "", "medium"]))
    return f"/messages/{i}/content/{j}/image_url/detail", "messages", "image_url.detail outside auto/low/high"


def media_in_wrong_role(draw, body, profile):
    """CONTENT-002: an image part in a system or developer message."""
    role = draw(st.sampled_from(["system", "developer"]))
    from .. import fixtures

    body["messages"].insert(
        0, {"role": role, "content": [{"type": "text", "text": "Look:"}, fixtures.image_part("red-16x16.png")]}
    )
    return "/messages/0/content/1", "messages", f"an image part in a {role} message"


def bad_audio_format(draw, body, profile):
    i, j = _first_part(body, "input_audio")
    body["messages"][i]["content"][j]["input_audio"]["format"] = draw(
        st.sampled_from(["ogg", "WAV", "", "flac", "mp4"])
    )
    return f"/messages/{i}/content/{j}/input_audio/format", "messages", "input_audio.format outside wav/mp3"


def _first_part(body, kind):
    for i, m in enumerate(body["messages"]):
        if m.get("role") == "user" and isinstance(m.get("content"), list):
            for j, p in enumerate(m["content"]):
                if p.get("type") == kind:
                    return i, j
    raise AssertionError(f"no {kind} part in the base request")


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("wrong-type", "wrong-type", ("REQ-004", "PARAM-003"), wrong_type_core),
    Mutation(
        "out-of-range",
        "out-of-range",
        ("PARAM-003", "PARAM-009", "PARAM-011", "PARAM-013", "PARAM-015", "REQ-004"),
        out_of_range,
    ),
    Mutation("unknown-enum", "unknown-enum", ("PARAM-027", "REQ-010", "REQ-011"), unknown_enum),
    Mutation("missing-required", "missing-required", ("REQ-002", "REQ-010", "REQ-011", "PARAM-027"), missing_required),
    Mutation("stop-count", "stop-count", ("PARAM-006",), stop_count),
    Mutation(
        "top-logprobs-without-logprobs", "top-logprobs-without-logprobs", ("PARAM-015",), top_logprobs_without_logprobs
    ),
    Mutation("content-wrong-type", "content-wrong-type", ("REQ-004", "REQ-011", "CONTENT-002"), content_wrong_type),
    Mutation("empty-arrays", "empty-arrays", ("REQ-002", "REQ-011"), empty_arrays),
    Mutation(
        "stream-options-without-stream",
        "stream-options-without-stream",
        ("STREAM-019",),
        stream_options_without_stream,
        needs=("streaming",),
        tolerated="STREAM-019: ignoring stream_options without stream is a tolerable dialect",
    ),
    Mutation(
        "tool-choice-without-tools", "tools", ("TOOL-014",), tool_choice_without_tools, needs=("tools",), focus="tools"
    ),
    Mutation(
        "tool-message-without-id", "tools", ("TOOL-018",), tool_message_without_id, needs=("tools",), focus="tools"
    ),
    Mutation(
        "tool-message-shape",
        "tools",
        ("REQ-004", "REQ-010", "REQ-011", "CONTENT-002"),
        tool_message_shape,
        needs=("tools",),
        focus="tools",
    ),
    Mutation("orphan-tool-message", "tools", ("TOOL-018",), orphan_tool_message, needs=("tools",), focus="tools"),
    Mutation("bad-tool-name", "tools", ("TOOL-003",), bad_tool_name, needs=("tools",), focus="tools"),
    Mutation("tool-choice-unknown", "tools", ("TOOL-014",), tool_choice_unknown, needs=("tools",), focus="tools"),
    Mutation(
        "tool-choice-unknown-function",
        "tools",
        ("TOOL-014",),
        tool_choice_unknown_function,
        needs=("tools",),
        focus="tools",
    ),
    Mutation("bad-image-detail", "media", ("VISION-004",), bad_image_detail, needs=("vision",), focus="vision"),
    Mutation("media-in-wrong-role", "media", ("CONTENT-002",), media_in_wrong_role, needs=("vision",), focus="vision"),
    Mutation("bad-audio-format", "media", ("AUDIO-002",), bad_audio_format, needs=("audio",), focus="audio"),
)
KINDS = tuple(dict.fromkeys(m.kind for m in MUTATIONS))


def mutations(kind: str | None = None, profile: Profile | None = None) -> list[Mutation]:
    return [
        m
        for m in MUTATIONS
        if (kind is None or m.kind == kind) and (profile is None or all(profile.claims(c) for c in m.needs))
    ]


def kind_rules(kind: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for m in MUTATIONS if m.kind == kind for r in m.rules))


@functools.lru_cache(maxsize=None)
@st.composite
def invalid_requests(draw, profile: Profile, kind: str | None = None, mutation: str | None = None) -> Invalid:
    """A valid base request (streamed or not, when streaming is claimed) with one mutation applied."""
    pool = [m for m in mutations(kind, profile) if mutation is None or m.name == mutation]
    if not pool:
        raise ValueError(f"no mutation of kind {kind!r} fits the claimed capabilities {sorted(profile.capabilities)}")
    m = draw(st.sampled_from(pool))
    stream = draw(st.booleans()) if profile.claims("streaming") else False
    # A light base (one earlier turn at most): what is broken matters here, not the conversation.
    body = copy.deepcopy(draw(valid_requests(profile, m.focus, stream=stream, max_turns=1)))
    pointer, param, what = m.apply(draw, body, profile)
    return Invalid(body, m.name, pointer, param, what)
