"""VALID requests for a target: valid by schemas/request.schema.json, by the prose rules
the schema cannot state, and within the capabilities the target claims.

Cost stays low by construction: every generated request carries a token limit of at most
`Profile.max_tokens` (the budget's), and `n` is at most `Profile.max_n` (3); the values at
the top of a range (a limit in the thousands, n = 128, top_logprobs = 20) are sent by the
boundary examples, with a prompt or a limit that keeps the answer short.

The token limit goes in the field the target takes (`Profile.token_field`, from the
target's `token_limit_field`, default `max_completion_tokens`): a server that refuses the
deprecated `max_tokens` (api.openai.com for reasoning models) is not sent it; a target
that takes `max_tokens` gets either field or both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from hypothesis import strategies as st

from ..targets import CAPABILITIES
from .jsonschemas import json_schemas, tool_parameters
from .messages import conversations
from .text import integer_in, names, number_in, texts

cached = functools.lru_cache(maxsize=None)

INT64 = 2**63
FOCUSES = ("core", "streaming", "tools", "json_object", "json_schema", "logprobs", "n", "vision", "audio")

# Stop strings that real text contains (so a stop sequence actually ends generation
# now and then), and arbitrary unicode ones.  Never "": what an empty stop means is
# not documented.
COMMON_STOPS = (" ", "e", "a", "o", "i", "t", "s", "m", "r", ".", "or", "it", " d", "lorem", " ipsum", "\n", "é", "😀")
# Stop strings that span two tokens (or two chunks of a stream): the end of one word and
# the start of the next.  A server that looks for the stop inside each token (or each
# delta) alone misses them.
SPANNING_STOPS = ("e t", "s a", "d t", "e a", "r a", "a s", "m d", "t a", "t e", "e s", "m l", "r l", ". ")


@dataclass(frozen=True)
class Profile:
    """What a generated request may use: the target's model and claims, the budget's limits."""

    model: str
    capabilities: frozenset = field(default_factory=frozenset)
    max_tokens: int = 16
    max_n: int = 3
    token_field: str = "max_completion_tokens"  # the token-limit field the target takes

    @property
    def limit_fields(self) -> tuple[str, ...]:
        """The token-limit fields generated requests may carry: the target's field, and
        the deprecated `max_tokens` only where the target takes it."""
        return ("max_tokens", "max_completion_tokens") if self.token_field == "max_tokens" else (self.token_field,)

    def limit(self, n: int | None = None) -> dict:
        """A token limit in the target's field."""
        return {self.token_field: self.max_tokens if n is None else n}

    def claims(self, capability: str) -> bool:
        return capability in self.capabilities

    @classmethod
    def of(cls, target, budget=None, max_n: int = 3) -> "Profile":
        return cls(
            model=target.model,
            capabilities=frozenset(target.capabilities),
            max_tokens=getattr(budget, "max_tokens", 16) if budget is not None else 16,
            max_n=max_n,
            token_field=getattr(target, "token_field", None) or "max_completion_tokens",
        )

    @classmethod
    def all(cls, model: str = "m", max_tokens: int = 16, token_field: str = "max_completion_tokens") -> "Profile":
        return cls(model=model, capabilities=frozenset(CAPABILITIES), max_tokens=max_tokens, token_field=token_field)

    def needs(self, focus: str) -> tuple[str, ...]:
        """The capabilities a focus needs (core needs none)."""
        return () if focus == "core" else (focus,)


# -- parameter strategies ---------------------------------------------------------------
@cached
def token_limits(max_tokens: int, fields: tuple[str, ...] = ("max_completion_tokens",)) -> st.SearchStrategy[dict]:
    """A limit 1..max_tokens (PARAM-001) in each of `fields` (Profile.limit_fields), or, with
    two fields, in either or both.  The maximum is the simplest value (hypothesis draws its
    simplest choices often and shrinks toward them): 1 is an edge to visit, not the answer
    length of every other request."""
    top = max(1, max_tokens)
    lim = st.one_of(st.integers(0, top - 1).map(lambda k: top - k), st.sampled_from(sorted({1, top}, reverse=True)))
    if len(fields) == 1:
        return lim.map(lambda v: {fields[0]: v})
    a, b = fields
    return st.one_of(
        lim.map(lambda v: {b: v}), lim.map(lambda v: {a: v}), st.tuples(lim, lim).map(lambda t: {a: t[0], b: t[1]})
    )


@cached
def stops() -> st.SearchStrategy:
    """A stop string or a list of 1..4; half of the strings are ones real text contains."""
    one = st.one_of(st.sampled_from(COMMON_STOPS), st.sampled_from(SPANNING_STOPS), texts(8).filter(bool).map(str))
    return st.one_of(one, st.lists(one, min_size=1, max_size=4))


_SAMPLING = (
    ("temperature", lambda: number_in(0, 2)),
    ("top_p", lambda: number_in(0, 1)),
    ("presence_penalty", lambda: number_in(-2, 2)),
    ("frequency_penalty", lambda: number_in(-2, 2)),
    ("seed", lambda: integer_in(-INT64, INT64 - 1)),
    # Low token ids only: ids below 256 are in every vocabulary (byte-level BPE has the 256 bytes,
    # SentencePiece their fallbacks), while a higher one may be none, and PARAM-013 has the server
    # refuse that (vLLM refuses ids beyond a 430-token vocabulary).
    ("logit_bias", lambda: st.dictionaries(st.integers(0, 255).map(str), integer_in(-100, 100), max_size=3)),
)
_PRESENCE = st.integers(0, 4)  # 0 absent (the simplest), 1 null (HTTP-007), 2..4 a value


@cached
@st.composite
def sampling(draw) -> dict:
    """temperature [0,2], top_p [0,1], penalties [-2,2], seed (int64), logit_bias: each
    present more often than not, at its edges often, in both number forms, or null."""
    out = {}
    for key, values in _SAMPLING:
        presence = draw(_PRESENCE)
        if presence == 1:
            out[key] = None
        elif presence > 1:
            out[key] = draw(values())
    return out


@cached
def extras() -> st.SearchStrategy[dict]:
    """PARAM-028 fields (MAY): only on request, since a server may refuse them."""
    return st.fixed_dictionaries(
        {},
        optional={
            "user": texts(20),
            "metadata": st.none() | st.dictionaries(st.text(max_size=64), st.text(max_size=512), max_size=16),
            "store": st.none() | st.booleans(),
            "safety_identifier": st.none() | st.text(max_size=64),
            "prompt_cache_key": st.none() | texts(20),
            "service_tier": st.sampled_from(["auto", "default", "flex", "scale", "priority", "fast", None]),
            "verbosity": st.sampled_from(["low", "medium", "high", None]),
            "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh", "max", None]),
        },
    )


@cached
@st.composite
def tool_definitions(draw, min_size: int = 1, max_size: int = 3) -> list[dict]:
    """Function tools with unique names; parameters generated, absent, or empty (TOOL-001/002)."""
    names_ = draw(st.lists(names(), min_size=min_size, max_size=max_size, unique=True))
    tools = []
    for name in names_:
        strict = draw(st.sampled_from([None, "absent", False, True]))
        params = draw(tool_parameters(strict=strict is True))
        fn: dict = {"name": name}
        desc = draw(st.none() | texts(30))
        if desc is not None:
            fn["description"] = desc
        if params is not None:
            fn["parameters"] = params
        elif strict is True:
            strict = "absent"  # strict mode needs a parameters schema
        if strict != "absent":
            fn["strict"] = strict
        tools.append({"type": "function", "function": fn})
    return tools


@cached
def response_formats(profile: Profile, focus: str) -> st.SearchStrategy[dict | None]:
    options = [st.none(), st.just({"type": "text"})]
    if profile.claims("json_object"):
        options.append(st.just({"type": "json_object"}))
    if profile.claims("json_schema"):
        options.append(json_schema_format())
    if focus == "json_object":
        return st.just({"type": "json_object"})
    if focus == "json_schema":
        return json_schema_format()
    return st.one_of(options)


@cached
@st.composite
def json_schema_format(draw) -> dict:
    strict = draw(st.sampled_from([None, "absent", False, True]))
    js: dict = {"name": draw(names())}
    if draw(st.booleans()):
        js["description"] = draw(texts(30))
    schema = draw(st.none() | json_schemas(strict=strict is True))
    if schema is not None:
        js["schema"] = schema
    elif strict is True:
        strict = "absent"
    if strict != "absent":
        js["strict"] = strict
    return {"type": "json_schema", "json_schema": js}


@cached
def _tool_choices(names: tuple[str, ...]) -> st.SearchStrategy:
    """absent (auto), auto, none, required, or a named function among the offered ones."""
    return st.sampled_from(
        ["absent", "auto", "none", "required"] + [{"type": "function", "function": {"name": n}} for n in names]
    )


# -- the request --------------------------------------------------------------------------
@cached
@st.composite
def valid_requests(draw, profile: Profile, focus: str = "core", stream: bool | None = None, max_turns: int = 3) -> dict:
    """One valid request.  `focus` forces a claimed feature in (core: no capability-bound
    feature at all); other claimed features are mixed in at random.  `stream` forces the
    flag (None: drawn when streaming is claimed).  `max_turns`: earlier user/assistant
    turns in the conversation."""
    if focus not in FOCUSES:
        raise ValueError(f"unknown focus {focus!r} (known: {', '.join(FOCUSES)})")
    core = focus == "core"

    def mix(cap: str) -> bool:
        """Whether a claimed capability other than the focus is used in this request."""
        if core or not profile.claims(cap):
            return False
        return focus == cap or draw(st.integers(0, 3)) == 0

    use_tools = focus == "tools" or mix("tools")
    tools = draw(tool_definitions()) if use_tools else None
    rf = draw(response_formats(profile, focus)) if not core else draw(st.sampled_from([None, {"type": "text"}]))
    if rf and rf["type"] in ("json_object", "json_schema") and not (focus == rf["type"] or mix(rf["type"])):
        rf = None
    json_word = bool(rf) and rf["type"] == "json_object"
    body: dict = {"model": profile.model}
    body["messages"] = draw(
        conversations(
            tool_names=tuple(t["function"]["name"] for t in tools) if tools else None,
            vision=focus == "vision" or mix("vision"),
            audio=focus == "audio" or mix("audio"),
            need_image=focus == "vision",
            need_audio=focus == "audio",
            json_word=json_word,
            max_turns=max_turns,
        )
    )
    limits = draw(token_limits(profile.max_tokens, profile.limit_fields))
    tool_choice = draw(_tool_choices(tuple(t["function"]["name"] for t in tools))) if tools else "absent"
    body.update(limits)
    body.update(draw(sampling()))
    if rf is not None:
        body["response_format"] = rf
    stop_mode = draw(st.integers(0, 4))  # 0 none (the simplest), 1..3 a stop, 4 null
    if stop_mode:
        body["stop"] = None if stop_mode == 4 else draw(stops())
    if tools:
        body["tools"] = tools
        if tool_choice != "absent":
            body["tool_choice"] = tool_choice
        ptc = draw(st.sampled_from([None, True, False]))
        if ptc is not None:
            body["parallel_tool_calls"] = ptc
    if focus == "n" or mix("n"):
        top = max(1, profile.max_n)
        body["n"] = draw(integer_in(min(2, top), top)) if focus == "n" else draw(st.none() | integer_in(1, top))
    if focus == "logprobs" or mix("logprobs"):
        body["logprobs"] = True if focus == "logprobs" else draw(st.sampled_from([True, False, None]))
        if body["logprobs"] is True and draw(st.booleans()):
            body["top_logprobs"] = draw(integer_in(0, 20))
    if stream is None:
        stream = (focus == "streaming") or (profile.claims("streaming") and not core and draw(st.booleans()))
    if stream:
        body["stream"] = True
        if profile.claims("stream_usage"):
            opts = draw(st.sampled_from([None, "absent", {"include_usage": True}, {"include_usage": False}]))
            if opts != "absent":
                body["stream_options"] = opts
    elif not core or draw(st.integers(0, 4)) == 0:
        flag = draw(st.sampled_from(["absent", False, None]))
        if flag != "absent":
            body["stream"] = flag
    return body


@cached
def requests_with_extras(profile: Profile, focus: str = "core", stream: bool | None = None, with_extras: bool = False):
    """valid_requests, optionally with the PARAM-028 fields mixed in."""
    base = valid_requests(profile, focus, stream)
    if not with_extras:
        return base
    return st.builds(lambda b, e: {**b, **e}, base, extras())
