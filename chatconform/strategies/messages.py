"""Conversations: varied length and roles, content as strings or parts, tool round trips.

Every conversation drawn here is valid by the request schema AND by the prose rules the
schema cannot state (TOOL-018): a tool message answers a tool call of the assistant
message right before it, and every such call is answered before the next turn.  A
conversation ends with a user message or with tool results (the model's turn), and
shrinks to a single user message with empty content.
"""

from __future__ import annotations

import functools
import json

from hypothesis import strategies as st

from .. import fixtures
from .text import names, texts, words

cached = functools.lru_cache(maxsize=None)

IMAGES = ("red-16x16.png", "checker-32x32.png", "gray-8x8.jpg")  # valid images only
AUDIO = ("tone-440hz.wav", "silence.mp3")


@cached
def text_part() -> st.SearchStrategy[dict]:
    return st.builds(lambda t: {"type": "text", "text": t}, texts())


@cached
def text_parts(max_size: int = 3) -> st.SearchStrategy[list]:
    return st.lists(text_part(), min_size=1, max_size=max_size)


@cached
def image_part() -> st.SearchStrategy[dict]:
    return st.builds(fixtures.image_part, st.sampled_from(IMAGES), st.sampled_from([None, "auto", "low", "high"]))


@cached
def audio_part() -> st.SearchStrategy[dict]:
    return st.builds(fixtures.audio_part, st.sampled_from(AUDIO))


def _either(a: st.SearchStrategy, b: st.SearchStrategy) -> st.SearchStrategy:
    """a or b, half and half (st.one_of would flatten a's own branches into the draw)."""
    return st.one_of(a.map(lambda x: x), b.map(lambda x: x))


def _named(msg_st: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    """Optionally add `name` (REQ-009), kept to ^[a-zA-Z0-9_-]{1,64}$ like api.openai.com wants."""
    return st.builds(lambda m, n: {**m, "name": n} if n is not None else m, msg_st, st.none() | names())


@cached
def instruction(role: str) -> st.SearchStrategy[dict]:
    """A system or developer message: string or non-empty text parts (REQ-006/007)."""
    return _named(st.builds(lambda c: {"role": role, "content": c}, _either(texts(), text_parts())))


@cached
@st.composite
def user_message(
    draw, vision: bool = False, audio: bool = False, need_image: bool = False, need_audio: bool = False
) -> dict:
    """A user message; media parts only when claimed (and at least one when needed)."""
    if not (vision or audio or need_image or need_audio) and draw(_BOOL):
        return draw(_user_string())
    parts = draw(_parts(vision or need_image, audio or need_audio, 0 if (need_image or need_audio) else 1))
    if need_image and not any(p["type"] == "image_url" for p in parts):
        parts.insert(draw(st.integers(0, len(parts))), draw(image_part()))
    if need_audio and not any(p["type"] == "input_audio" for p in parts):
        parts.insert(draw(st.integers(0, len(parts))), draw(audio_part()))
    msg = {"role": "user", "content": parts}
    if draw(_BOOL):
        msg["name"] = draw(names())
    return msg


@cached
def _user_string() -> st.SearchStrategy[dict]:
    return _named(st.builds(lambda c: {"role": "user", "content": c}, texts()))


_PREAMBLE = st.lists(st.sampled_from(["system", "developer"]), max_size=2)
_BOOL = st.booleans()


@cached
def _parts(vision: bool, audio: bool, min_size: int) -> st.SearchStrategy[list]:
    kinds = [text_part()] + ([image_part()] if vision else []) + ([audio_part()] if audio else [])
    return st.lists(st.one_of(kinds), min_size=min_size, max_size=3)


@cached
def assistant_text() -> st.SearchStrategy[dict]:
    """An earlier model turn without tool calls (REQ-005/008/009)."""
    content = st.one_of(
        texts().map(str),  # map: keep the union from flattening texts()' own branches
        text_parts(),
        st.builds(lambda r: [{"type": "refusal", "refusal": r}], texts(20)),
    )
    base = st.builds(lambda c: {"role": "assistant", "content": c}, content)
    with_refusal = st.builds(lambda m, r: {**m, "refusal": r}, base, st.none() | texts(20))
    return _named(base | with_refusal)


@cached
def _arguments() -> st.SearchStrategy[str]:
    values = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), texts(12))
    return st.dictionaries(words(), values, max_size=3).map(lambda d: json.dumps(d, ensure_ascii=False))


@cached
@st.composite
def tool_round_trip(draw, tool_names: tuple[str, ...], tag: str = "") -> list[dict]:
    """An assistant message calling 1..3 offered tools, then one tool message per call id
    (in any order), content string or text parts (TOOL-016/017).  Ids are `call_<tag><k>...`:
    give each round trip of a conversation its own tag."""
    calls = []
    for k in range(draw(st.integers(1, 3 if len(tool_names) > 1 else 2))):
        calls.append(
            {
                "id": f"call_{tag}{k}{draw(_ID_SUFFIX)}",
                "type": "function",
                "function": {"name": draw(st.sampled_from(tool_names)), "arguments": draw(_arguments())},
            }
        )
    assistant = {
        "role": "assistant",
        "content": draw(st.sampled_from([None, "", "Let me check."])),
        "tool_calls": calls,
    }
    if assistant["content"] is None and draw(_BOOL):
        del assistant["content"]  # "content: null (or none)" with tool calls (REQ-008)
    order = draw(st.permutations(range(len(calls))))
    results = [{"role": "tool", "tool_call_id": calls[i]["id"], "content": draw(_TOOL_CONTENT)} for i in order]
    return [assistant] + results


_ID_SUFFIX = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=8)
_TOOL_CONTENT = _either(texts(30), text_parts(2))


@cached
@st.composite
def conversations(
    draw,
    tool_names: tuple[str, ...] | None = None,
    vision: bool = False,
    audio: bool = False,
    need_image: bool = False,
    need_audio: bool = False,
    json_word: bool = False,
    max_turns: int = 3,
) -> list[dict]:
    """A whole conversation.  `json_word`: some message says "JSON" (api.openai.com answers
    400 to json_object without it, PARAM-024)."""
    msgs: list[dict] = []
    if json_word:
        msgs.append({"role": "system", "content": "Reply with a JSON object."})
    for role in draw(_PREAMBLE):
        msgs.append(draw(instruction(role)))
    for turn in range(draw(st.integers(0, max_turns))):
        msgs.append(draw(user_message(vision=vision, audio=audio)))
        if tool_names and draw(_BOOL):
            msgs.extend(draw(tool_round_trip(tool_names, f"{turn}_")))
            if draw(_BOOL):
                msgs.append(draw(assistant_text()))
        else:
            msgs.append(draw(assistant_text()))
    msgs.append(draw(user_message(vision=vision, audio=audio, need_image=need_image, need_audio=need_audio)))
    if tool_names and draw(st.integers(0, 3)) == 3:
        msgs.extend(draw(tool_round_trip(tool_names, "last_")))  # ends with tool results
    return msgs
