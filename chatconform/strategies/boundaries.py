"""Boundary examples: the edges of every documented range, one edge per request, run
first (hypothesis' explicit phase) and then the generated examples.

Random generation visits an edge like `temperature: 2` now and then; a property run of
25 examples should not depend on luck for the values a server most often gets wrong.
Each request here changes ONE thing of a plain base request, so a failure on it is
already minimal (explicit examples are not shrunk).  The same list for every seed.
"""

from __future__ import annotations

import copy

from .. import fixtures
from .invalid import Invalid
from .requests import INT64, SPANNING_STOPS, Profile

PROMPT = "Count from 1 to 30 in words, separated by spaces."  # a long answer: limits and stops bite
SHORT_PROMPT = "Reply with the single word OK."  # a short answer: a big limit costs little
BIG_LIMIT = 4096  # a token limit in the thousands, as clients send
MANY = 24  # tools, content parts: more than a server that sized a buffer for a few expects
LONG_TURNS = 20  # earlier user/assistant turns: a 41-message conversation


def base(profile: Profile, **extra) -> dict:
    """The plain request, its token limit in the target's field (`limit=N` sets it)."""
    limit = extra.pop("limit", profile.max_tokens)
    body = {"model": profile.model, "messages": [{"role": "user", "content": PROMPT}], **profile.limit(limit)}
    body.update(extra)
    return body


def big_limit(profile: Profile, **extra) -> dict:
    """A limit in the thousands in every field the target takes, with a prompt whose answer is short."""
    body = {"model": profile.model, "messages": [{"role": "user", "content": SHORT_PROMPT}]}
    body.update({f: BIG_LIMIT for f in profile.limit_fields[-1:]})
    body.update(extra)
    return body


def long_conversation(turns: int = LONG_TURNS) -> list[dict]:
    msgs = []
    for k in range(turns):
        msgs += [{"role": "user", "content": f"Say the number {k + 1}."}, {"role": "assistant", "content": f"{k + 1}."}]
    return msgs + [{"role": "user", "content": PROMPT}]


def many_parts(n: int = MANY) -> list[dict]:
    return [{"type": "text", "text": f"Part {k + 1}."} for k in range(n - 1)] + [{"type": "text", "text": PROMPT}]


def many_tools(n: int = MANY) -> list[dict]:
    return [_tool(f"tool_{k + 1}") for k in range(n)]


def typed_schema() -> dict:
    """A strict json_schema whose values are not strings: integer, boolean and null enums and
    consts, and arrays of arrays."""
    props = {
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "flag": {"type": "boolean", "enum": [True]},
        "nothing": {"type": "null"},
        "mixed": {"enum": [7, False, None]},
        "fixed": {"const": 42},
        "grid": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "enum": [0, 1]}},
        },
    }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _tool(name="get_weather", params=True) -> dict:
    fn = {"name": name, "description": "Get the weather for a city."}
    if params:
        fn["parameters"] = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    return {"type": "function", "function": fn}


def _round_trip(content) -> list[dict]:
    return [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_b1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_b1", "content": content},
    ]


def valid_boundaries(profile: Profile, focus: str) -> list[dict]:
    b = lambda **kw: base(profile, **kw)  # noqa: E731
    if focus == "core":
        without_limit = {k: v for k, v in b().items() if k != profile.token_field}
        out = [
            b(temperature=0.0),
            b(temperature=2),
            b(top_p=0),
            b(top_p=1.0),
            b(presence_penalty=-2),
            b(presence_penalty=2.0),
            b(frequency_penalty=-2.0),
            b(frequency_penalty=2),
            b(seed=-INT64),
            b(seed=INT64 - 1),
            b(logit_bias={"0": -100, "1": 100}),
            b(
                temperature=None,
                top_p=None,
                presence_penalty=None,
                frequency_penalty=None,
                seed=None,
                logit_bias=None,
                stop=None,
                stream=None,
            ),
            b(limit=1),
            big_limit(profile),
            b(stop=" "),
            b(stop=["\U0001f600", "zz", "qq", "e"]),
            *[b(stop=list(SPANNING_STOPS[k : k + 4])) for k in (0, 4, 8)],
            b(stop=SPANNING_STOPS[12]),
            b(response_format={"type": "text"}),
            b(messages=long_conversation()),
            b(messages=[{"role": "user", "content": many_parts()}]),
            b(messages=[{"role": "system", "content": many_parts(8)[:-1]}, {"role": "user", "content": PROMPT}]),
            b(messages=[{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": PROMPT}]),
            b(
                messages=[
                    {"role": "system", "content": [{"type": "text", "text": "Answer briefly."}]},
                    {"role": "user", "content": [{"type": "text", "text": PROMPT}]},
                ]
            ),
            b(
                messages=[
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
                    {"role": "user", "content": PROMPT},
                ]
            ),
            b(
                messages=[
                    {"role": "user", "content": "Hi", "name": "alice"},
                    {"role": "assistant", "content": "Hello.", "refusal": None, "name": "bot"},
                    {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
                    {"role": "user", "content": PROMPT},
                ]
            ),
        ]
        if profile.token_field == "max_tokens":  # the other field alone, too
            out += [
                {**without_limit, "max_completion_tokens": profile.max_tokens},
                big_limit(profile, max_tokens=BIG_LIMIT),
            ]
    elif focus == "streaming":
        out = [
            b(stream=True),
            b(stream=True, limit=1),
            b(stream=True, stop=" "),
            *[b(stream=True, stop=list(SPANNING_STOPS[k : k + 4])) for k in (0, 4, 8)],
            big_limit(profile, stream=True),
        ]
        if profile.claims("stream_usage"):
            out += [
                b(stream=True, stream_options={"include_usage": True}),
                b(stream=True, stream_options={"include_usage": False}),
                b(stream=True, stream_options=None),
            ]
    elif focus == "tools":
        two = [_tool(), _tool("get_time")]
        out = [
            b(tools=[_tool()], tool_choice=c)
            for c in ("none", "auto", "required", {"type": "function", "function": {"name": "get_weather"}})
        ]
        out += [
            b(tools=two),
            b(tools=two, tool_choice="required", parallel_tool_calls=False),
            b(tools=[_tool(params=False)], tool_choice="required"),
            b(tools=[{"type": "function", "function": {**_tool()["function"], "strict": None}}]),
            b(tools=[_tool()], messages=_round_trip("18 degrees, sunny")),
            b(
                tools=[_tool()],
                messages=_round_trip([{"type": "text", "text": "18 degrees"}, {"type": "text", "text": "sunny"}]),
            ),
            b(tools=[_tool()], messages=_round_trip(many_parts())),
            b(tools=many_tools(), tool_choice={"type": "function", "function": {"name": f"tool_{MANY}"}}),
        ]
    elif focus == "json_object":
        out = [
            b(
                response_format={"type": "json_object"},
                limit=max(profile.max_tokens, 2),
                messages=[
                    {"role": "system", "content": "Reply with a JSON object."},
                    {"role": "user", "content": PROMPT},
                ],
            )
        ]
    elif focus == "json_schema":
        schema = {
            "type": "object",
            "properties": {"n": {"type": "integer"}, "word": {"type": "string"}},
            "required": ["n", "word"],
            "additionalProperties": False,
        }
        out = [
            b(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": schema, "strict": True},
                }
            ),
            b(response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}),
            b(response_format={"type": "json_schema", "json_schema": {"name": "x" * 64}}),
            b(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "typed", "schema": typed_schema(), "strict": True},
                },
                limit=max(profile.max_tokens, 64),
            ),
        ]
    elif focus == "logprobs":
        out = [b(logprobs=True), b(logprobs=True, top_logprobs=0), b(logprobs=True, top_logprobs=20)]
        if profile.claims("streaming"):
            out.append(b(logprobs=True, top_logprobs=20, stream=True))
    elif focus == "n":
        out = [b(n=profile.max_n), b(n=2, stop=" "), b(n=128, limit=1)]  # the documented maximum, one token each
        if profile.claims("streaming"):
            out.append(b(n=2, stream=True))
    elif focus == "vision":
        out = [
            b(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "Describe it."}, fixtures.image_part(name, detail)],
                    }
                ]
            )
            for name, detail in (
                ("red-16x16.png", None),
                ("gray-8x8.jpg", "low"),
                ("checker-32x32.png", "high"),
                ("red-16x16.png", "auto"),
            )
        ]
        out.append(
            b(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            fixtures.image_part("red-16x16.png"),
                            {"type": "text", "text": "and"},
                            fixtures.image_part("gray-8x8.jpg"),
                        ],
                    }
                ]
            )
        )
    elif focus == "audio":
        out = [
            b(
                messages=[
                    {"role": "user", "content": [{"type": "text", "text": "Transcribe."}, fixtures.audio_part(name)]}
                ]
            )
            for name in ("tone-440hz.wav", "silence.mp3")
        ]
    else:
        out = []
    return [copy.deepcopy(x) for x in out]


def _invalid(body, mutation, pointer, param, what) -> Invalid:
    return Invalid(body, mutation, pointer, param, what)


def invalid_boundaries(profile: Profile, names: set[str]) -> list[Invalid]:
    """Just outside each edge, one field at a time, for the mutations in `names`."""
    b = lambda **kw: base(profile, **kw)  # noqa: E731
    out: list[Invalid] = []
    if "out-of-range" in names:
        for field, value in (
            ("temperature", 2.5),
            ("temperature", -0.1),
            ("top_p", 1.5),
            ("presence_penalty", -2.5),
            ("frequency_penalty", 2.5),
            ("n", 0),
            ("n", 129),
            ("max_tokens", 0),
            ("seed", INT64),
            ("top_logprobs", 21),
        ):
            body = b(**{field: value})
            if field == "max_tokens":
                body["max_completion_tokens"] = profile.max_tokens
            if field == "top_logprobs":
                body["logprobs"] = True
            out.append(_invalid(body, "out-of-range", f"/{field}", field, f"{field} = {value!r} (out of range)"))
        out.append(
            _invalid(b(logit_bias={"50256": 101}), "out-of-range", "/logit_bias/50256", "logit_bias", "logit_bias 101")
        )
    if "wrong-type" in names:
        for field, value in (
            ("temperature", "1"),
            ("n", 1.5),
            ("n", "2"),
            ("stream", "true"),
            ("max_tokens", "16"),
            ("model", 42),
            ("messages", "hi"),
        ):
            body = b(**{field: value})
            if field == "max_tokens":
                body["max_completion_tokens"] = profile.max_tokens
            out.append(_invalid(body, "wrong-type", f"/{field}", field, f"{field} = {value!r} (a wrong JSON type)"))
    if "stop-count" in names:
        out.append(_invalid(b(stop=["a", "b", "c", "d", "e"]), "stop-count", "/stop", "stop", "stop with 5 entries"))
        out.append(_invalid(b(stop=[]), "stop-count", "/stop", "stop", "stop with 0 entries"))
    if "top-logprobs-without-logprobs" in names:
        out.append(
            _invalid(
                b(top_logprobs=2), "top-logprobs-without-logprobs", "/", "top_logprobs", "top_logprobs without logprobs"
            )
        )
    if "missing-required" in names:
        for drop in ("model", "messages"):
            body = b()
            del body[drop]
            out.append(_invalid(body, "missing-required", "/", drop, f"no {drop}"))
        out.append(
            _invalid(
                b(messages=[{"content": "hi"}]), "missing-required", "/messages/0", "messages", "a message without role"
            )
        )
        out.append(
            _invalid(
                b(messages=[{"role": "user"}]),
                "missing-required",
                "/messages/0",
                "messages",
                "a user message without content",
            )
        )
        out.append(
            _invalid(
                b(messages=[{"role": "user", "content": [{"type": "text"}]}]),
                "missing-required",
                "/messages/0/content/0",
                "messages",
                "a text part without text",
            )
        )
        out.append(
            _invalid(
                b(response_format={}),
                "missing-required",
                "/response_format",
                "response_format",
                "response_format without type",
            )
        )
        out.append(
            _invalid(
                b(response_format={"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}),
                "missing-required",
                "/response_format/json_schema",
                "response_format",
                "json_schema without name",
            )
        )
    if "empty-arrays" in names:
        out.append(_invalid(b(messages=[]), "empty-arrays", "/messages", "messages", "messages: []"))
        out.append(
            _invalid(
                b(messages=[{"role": "user", "content": []}]),
                "empty-arrays",
                "/messages/0/content",
                "messages",
                "content: []",
            )
        )
    if "unknown-enum" in names:
        out.append(
            _invalid(
                b(messages=[{"role": "robot", "content": "hi"}]),
                "unknown-enum",
                "/messages/0/role",
                "messages",
                "role 'robot'",
            )
        )
        out.append(
            _invalid(
                b(response_format={"type": "yaml"}),
                "unknown-enum",
                "/response_format/type",
                "response_format",
                "response_format yaml",
            )
        )
        out.append(
            _invalid(
                b(messages=[{"role": "user", "content": [{"type": "hologram", "hologram": "x"}]}]),
                "unknown-enum",
                "/messages/0/content/0",
                "messages",
                "a part of type 'hologram'",
            )
        )
    if "content-wrong-type" in names:
        out.append(
            _invalid(
                b(messages=[{"role": "user", "content": 5}]),
                "content-wrong-type",
                "/messages/0/content",
                "messages",
                "content 5",
            )
        )
        out.append(
            _invalid(
                b(messages=[{"role": "system", "content": {"text": "hi"}}, {"role": "user", "content": "hi"}]),
                "content-wrong-type",
                "/messages/0/content",
                "messages",
                "system content an object",
            )
        )
        out.append(
            _invalid(
                b(
                    messages=[
                        {"role": "developer", "content": [{"type": "text", "text": "hi"}, "bare"]},
                        {"role": "user", "content": "hi"},
                    ]
                ),
                "content-wrong-type",
                "/messages/0/content/1",
                "messages",
                "a bare string among developer parts",
            )
        )
        out.append(
            _invalid(
                b(
                    messages=[
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": 5},
                        {"role": "user", "content": "go on"},
                    ]
                ),
                "content-wrong-type",
                "/messages/1/content",
                "messages",
                "assistant content 5",
            )
        )
    if "stream-options-without-stream" in names:
        out.append(
            _invalid(
                b(stream_options={"include_usage": True}),
                "stream-options-without-stream",
                "/",
                "stream_options",
                "stream_options without stream",
            )
        )
    if "tool-choice-without-tools" in names:
        out.append(
            _invalid(
                b(tool_choice="required"),
                "tool-choice-without-tools",
                "/tool_choice",
                "tool_choice",
                "tool_choice without tools",
            )
        )
    if "tool-message-without-id" in names:
        for content in ("18 degrees", [{"type": "text", "text": "18 degrees"}]):
            msgs = _round_trip(content)
            del msgs[2]["tool_call_id"]
            out.append(
                _invalid(
                    b(tools=[_tool()], messages=msgs),
                    "tool-message-without-id",
                    "/messages/2",
                    "messages",
                    f"a tool message ({type(content).__name__} content) without tool_call_id",
                )
            )
    if "tool-message-shape" in names:
        msgs = _round_trip("18")
        del msgs[2]["content"]
        out.append(
            _invalid(
                b(tools=[_tool()], messages=msgs),
                "tool-message-shape",
                "/messages/2",
                "messages",
                "a tool message without content",
            )
        )
        for content, what in (
            (5, "content 5"),
            ([], "content []"),
            ([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}], "an image part"),
        ):
            msgs = _round_trip(content)
            ptr = "/messages/2/content" + ("/0" if content and isinstance(content, list) else "")
            out.append(
                _invalid(
                    b(tools=[_tool()], messages=msgs),
                    "tool-message-shape",
                    ptr,
                    "messages",
                    f"a tool message with {what}",
                )
            )
    if "orphan-tool-message" in names:
        out.append(
            _invalid(
                b(
                    tools=[_tool()],
                    messages=[
                        {"role": "user", "content": "hi"},
                        {"role": "tool", "tool_call_id": "call_x", "content": "42"},
                    ],
                ),
                "orphan-tool-message",
                "/messages/1/tool_call_id",
                "messages",
                "a tool message answering nothing",
            )
        )
        out.append(
            _invalid(
                b(tools=[_tool()], messages=_round_trip("18")[:2] + [{"role": "user", "content": "go on"}]),
                "orphan-tool-message",
                "/messages/1/tool_calls",
                "messages",
                "a tool call left unanswered",
            )
        )
    if "bad-tool-name" in names:
        out.append(
            _invalid(
                b(tools=[_tool("get weather")]),
                "bad-tool-name",
                "/tools/0/function/name",
                "tools",
                "tool name with a space",
            )
        )
    if "tool-choice-unknown-function" in names:
        out.append(
            _invalid(
                b(tools=[_tool()], tool_choice={"type": "function", "function": {"name": "nope"}}),
                "tool-choice-unknown-function",
                "/tool_choice/function/name",
                "tool_choice",
                "tool_choice names an unoffered tool",
            )
        )
    if "tool-choice-unknown" in names:
        out.append(
            _invalid(
                b(tools=[_tool()], tool_choice="sometimes"),
                "tool-choice-unknown",
                "/tool_choice",
                "tool_choice",
                "tool_choice 'sometimes'",
            )
        )
    if "bad-image-detail" in names:
        part = fixtures.image_part("red-16x16.png", "ultra")
        out.append(
            _invalid(
                b(messages=[{"role": "user", "content": [part]}]),
                "bad-image-detail",
                "/messages/0/content/0/image_url/detail",
                "messages",
                "detail 'ultra'",
            )
        )
    if "media-in-wrong-role" in names:
        out.append(
            _invalid(
                b(
                    messages=[
                        {"role": "system", "content": [fixtures.image_part("red-16x16.png")]},
                        {"role": "user", "content": "hi"},
                    ]
                ),
                "media-in-wrong-role",
                "/messages/0/content/0",
                "messages",
                "an image in a system message",
            )
        )
    if "bad-audio-format" in names:
        part = fixtures.audio_part("tone-440hz.wav", "ogg")
        out.append(
            _invalid(
                b(messages=[{"role": "user", "content": [part]}]),
                "bad-audio-format",
                "/messages/0/content/0/input_audio/format",
                "messages",
                "format 'ogg'",
            )
        )
    return out
