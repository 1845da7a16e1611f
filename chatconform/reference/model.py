"""The deterministic fake model: text, tokens, logprobs, tool calls, structured output.

Output is a pure function of the request (a hash of `messages`, `seed` and the
choice index), so a test can repeat a request and rely on the same answer: pick a
substring of one answer and use it as a stop sequence on the next (PARAM-005),
compare a stream with its non-streaming twin (STREAM-015), and so on. Parameters
that only shape the output (`max_tokens`, `stop`, `stream`, `temperature`...) are
deliberately NOT part of the hash.

"Tokens" are word pieces with a leading space (`"Lorem"`, `" ipsum"`, `"."`), so
joining the tokens of a choice gives its content exactly, as with real BPE tokens.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from .jsongen import instance_for

VOCAB = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
    "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua",
)  # fmt: skip
MIN_TOKENS, MAX_TOKENS = 8, 24  # natural answer length
CONTEXT_WINDOW = 32768  # prompt tokens; more → 400 context_length_exceeded (ERR-008)
IMAGE_TOKENS = 85  # per image part, like a low-detail image at OpenAI
AUDIO_TOKENS = 50  # per input_audio part (also reported as prompt audio_tokens)
FILE_TOKENS = 100  # per file part
SYSTEM_FINGERPRINT = "fp_reference"

# Every character falls in exactly one match, so "".join(tokenize(s)) == s.
_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\s\w]+|\s+")
# A prompt asking for something long gets the longest natural answer, so a
# token limit of 16 really cuts it (PARAM-001's probe "Write a 300-word story").
_LONG_RE = re.compile(r"\b(story|essay|article|poem|paragraphs?|long|\d{2,}[- ]words?)\b", re.I)
_REPEAT_RE = re.compile(r"\b(repeat|echo)\b", re.I)
_QUOTED_RE = re.compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|'([^']+)'")
_ALNUM = string.ascii_letters + string.digits


def tokenize(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def random_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class Choice:
    index: int
    content: str | None
    tokens: list[str]
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None  # one entry per token, when requested
    stop_hit: str | None = None  # the stop sequence that ended the choice
    completion_tokens: int = 0


@dataclass
class Completion:
    id: str
    created: int
    model: str
    choices: list[Choice]
    prompt_tokens: int
    audio_tokens: int
    logprobs_requested: bool

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)


# -- request helpers ------------------------------------------------------------


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, dict)).strip()
    return ""


def count_prompt_tokens(messages: Any) -> tuple[int, int]:
    """(prompt_tokens, audio_tokens): words of all message text plus fixed costs per media part."""
    words = media = audio = 0
    for m in messages if isinstance(messages, list) else []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                kind = part.get("type")
                if kind == "image_url":
                    media += IMAGE_TOKENS
                elif kind == "input_audio":
                    audio += AUDIO_TOKENS
                elif kind == "file":
                    media += FILE_TOKENS
                else:
                    words += len(str(part.get("text") or part.get("refusal") or "").split())
        if isinstance(m.get("refusal"), str):
            words += len(m["refusal"].split())
        for call in m.get("tool_calls") or [] if isinstance(m.get("tool_calls"), list) else []:
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                words += 1 + len(str(fn.get("arguments", "")).split())
    return max(1, words + media + audio), audio


def _material(messages: Any, seed: Any, index: int, salt: str = "") -> random.Random:
    blob = json.dumps([messages, seed, index, salt], sort_keys=True, ensure_ascii=True, default=str)
    return random.Random(int.from_bytes(hashlib.sha256(blob.encode()).digest()[:16], "big"))


def _function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    out = []
    for t in tools if isinstance(tools, list) else []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.append(fn)
    return out


# A function's topic words: `get_weather` is about the weather, `book_meeting_room` about
# meetings and rooms.  Verbs every tool name starts with say nothing of what it does.
_GENERIC_WORDS = frozenset(
    {"get", "set", "fetch", "make", "create", "update", "list", "find", "return", "tool", "call"}
)
_NAME_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_ASKS_FOR_A_TOOL_RE = re.compile(r"\b(tools?|functions?)\b", re.I)


def _topics(name: str) -> set[str]:
    return {w.lower() for w in _NAME_WORD_RE.findall(name) if len(w) >= 4 and w.lower() not in _GENERIC_WORDS}


def invited_tools(tools: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The offered functions a user's message asks for, as a model reads it: named outright
    ("call get_weather"), or by their topic ("the weather in Paris and the time in Tokyo"
    asks for get_weather and get_time); "use the tool" alone asks for the first one.  A
    message that asks for nothing ("Reply with OK.") invites no call."""
    low = text.lower()
    words = set(re.findall(r"[a-z0-9]+", low))
    out = [fn for fn in tools if fn["name"].lower() in low or _topics(fn["name"]) & words]
    if not out and _ASKS_FOR_A_TOOL_RE.search(text):
        out = tools[:1]
    return out


def tools_to_call(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Which functions the answer calls, and the finish_reason that goes with it.

    Returns ([], "") for a text answer.  What the server enforces is obeyed to the letter
    (api.openai.com): `none` calls nothing; a named choice calls exactly that function and
    finishes with `stop` (TOOL-008); `required` calls at least one; `parallel_tool_calls:
    false` keeps one call.  What is the model's is model-like, so that a server which
    ignores a parameter shows only on a prompt that does not produce the behaviour anyway:
    under `auto` (the user speaking last) it calls only the tools the prompt asks for, and
    it makes two calls only when the prompt asks for two tools (`invited_tools`); under
    `required` with a prompt that asks for none it calls the first tool.
    """
    tools = _function_tools(body)
    if not tools:
        return [], ""
    choice = body.get("tool_choice")
    if choice is None:
        choice = "auto"
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        fn = next((t for t in tools if t["name"] == name), {"name": str(name)})
        return [fn], "stop"
    asked = next(
        (_text_of(m.get("content")) for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), ""
    )
    wanted = invited_tools(tools, asked)
    if choice == "required":
        wanted = wanted or tools[:1]
    elif choice != "auto" or last.get("role") != "user":
        return [], ""
    if not wanted:
        return [], ""
    parallel = body.get("parallel_tool_calls") is not False
    return (wanted if parallel else wanted[:1]), "tool_calls"


# -- generation ---------------------------------------------------------------------


def _lorem(rng: random.Random, length: int) -> list[str]:
    words = [rng.choice(VOCAB) for _ in range(length - 1)]
    return [words[0].capitalize()] + [" " + w for w in words[1:]] + ["."]


def _echo_prefix(messages: list[Any]) -> str:
    """A little instruction following, so model-dependent checks have something to see:
    after a tool result the answer quotes it (TOOL-016); "repeat `X`" echoes X (HTTP-004)."""
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    text = _text_of(last.get("content"))
    if last.get("role") == "tool":
        return f"Tool result: {' '.join(text.split())[:200]}."
    if last.get("role") == "user" and _REPEAT_RE.search(text):
        m = _QUOTED_RE.search(text)
        if m:
            return next(g for g in m.groups() if g)
    return ""


def _text_tokens(body: dict[str, Any], rng: random.Random) -> list[str]:
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    rf = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    kind = rf.get("type")
    if kind == "json_object":
        answer = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(2, 6)))
        return tokenize(json.dumps({"answer": answer}, separators=(",", ":")))
    if kind == "json_schema":
        js = rf.get("json_schema") if isinstance(rf.get("json_schema"), dict) else {}
        schema = js.get("schema") if isinstance(js.get("schema"), dict) else None
        value = instance_for(schema, rng) if schema else {"answer": " ".join(rng.choice(VOCAB) for _ in range(3))}
        return tokenize(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    last_user = next(
        (_text_of(m.get("content")) for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), ""
    )
    length = MAX_TOKENS if _LONG_RE.search(last_user) else rng.randint(MIN_TOKENS, MAX_TOKENS)
    tokens = _lorem(rng, length)
    prefix = _echo_prefix(messages)
    if prefix:
        tokens = tokenize(prefix) + [" " + tokens[0]] + tokens[1:]
    return tokens


def apply_limits(tokens: list[str], limit: int | None, stops: list[str]) -> tuple[list[str], str, str | None]:
    """Cut at the token limit, then before the first stop sequence inside what is left.

    Returns (tokens, finish_reason, stop_hit). A cut inside a token keeps the part
    of the token before the stop sequence, so the stop text never appears.
    """
    # limit == len(tokens) cuts too: the answer used every token allowed, leaving no
    # room for the end-of-sequence token a model needs to finish with "stop".
    cut = limit is not None and limit <= len(tokens)
    kept = tokens[: max(limit, 0)] if cut and limit is not None else list(tokens)
    text = "".join(kept)
    best: tuple[int, str] | None = None
    for s in stops:
        pos = text.find(s) if s else -1
        if pos >= 0 and (best is None or pos < best[0]):
            best = (pos, s)
    if best is None:
        return kept, ("length" if cut else "stop"), None
    out: list[str] = []
    used = 0
    for tok in kept:
        if used + len(tok) <= best[0]:
            out.append(tok)
            used += len(tok)
            continue
        if best[0] > used:
            out.append(tok[: best[0] - used])
        break
    return out, "stop", best[1]


def limit_tool_calls(calls: list[ToolCall], limit: int | None) -> tuple[list[ToolCall], int, bool]:
    """Tool calls under the token limit, as a model writes them: one token for each call's
    name, then its arguments token by token; when the limit is reached the arguments stop
    where they are (usually not JSON yet) and the answer finishes with "length" (PARAM-001).

    Returns (calls, tokens used, cut)."""
    out: list[ToolCall] = []
    used = 0
    for call in calls:
        args = tokenize(call.arguments)
        need = 1 + len(args)
        if limit is None or used + need < limit:
            out.append(call)
            used += need
            continue
        room = max(limit - used - 1, 0)  # what is left for the arguments after the name
        out.append(ToolCall(call.id, call.name, "".join(args[:room])))
        return out, min(limit, used + need), True
    return out, used, False


def _alternatives(token: str) -> list[str]:
    space = " " if token.startswith(" ") else ""
    pool = [space + w for w in VOCAB] + [space + w.capitalize() for w in VOCAB]
    return [t for t in pool if t != token]


def logprob_entries(tokens: list[str], top: int, rng: random.Random) -> list[dict[str, Any]]:
    """One ChatCompletionTokenLogprob per token: logprob <= 0, bytes = UTF-8 of the
    token, exactly `top` alternatives, sorted descending with the chosen token first."""
    entries = []
    for tok in tokens:
        lp = -round(rng.uniform(0.0001, 0.9), 6)
        tops = [{"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))}]
        alts = _alternatives(tok)
        rng.shuffle(alts)
        prev = lp
        for alt in alts[: max(top - 1, 0)]:
            prev = round(prev - rng.uniform(0.3, 2.5), 6)
            tops.append({"token": alt, "logprob": prev, "bytes": list(alt.encode("utf-8"))})
        entries.append({"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8")), "top_logprobs": tops[:top]})
    return entries


def _limit(body: dict[str, Any]) -> int | None:
    limits = [v for v in (_int(body.get("max_tokens")), _int(body.get("max_completion_tokens"))) if v is not None]
    return min(limits) if limits else None


def _stops(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str)]
    return []


def generate(body: dict[str, Any]) -> Completion:
    messages = body.get("messages")
    seed = _int(body.get("seed"))
    n = _int(body.get("n")) or 1
    n = min(max(n, 1), 128)
    want_logprobs = body.get("logprobs") is True
    top = _int(body.get("top_logprobs")) or 0
    fns, tool_finish = tools_to_call(body)
    choices = []
    for index in range(n):
        rng = _material(messages, seed, index)
        if fns:
            calls = []
            for fn in fns:
                params = fn.get("parameters") if isinstance(fn.get("parameters"), dict) else None
                args = instance_for(params, _material(messages, seed, index, fn["name"])) if params else {}
                if not isinstance(args, dict):
                    args = {}
                calls.append(
                    ToolCall(
                        random_id("call_", 24), fn["name"], json.dumps(args, separators=(",", ":"), ensure_ascii=False)
                    )
                )
            calls, used, cut = limit_tool_calls(calls, _limit(body))
            choices.append(Choice(index, None, [], "length" if cut else tool_finish, calls, None, None, used))
            continue
        tokens, finish, hit = apply_limits(_text_tokens(body, rng), _limit(body), _stops(body))
        entries = logprob_entries(tokens, top, _material(messages, seed, index, "logprobs")) if want_logprobs else None
        choices.append(Choice(index, "".join(tokens), tokens, finish, [], entries, hit, len(tokens)))
    prompt_tokens, audio_tokens = count_prompt_tokens(messages)
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    return Completion(
        id=random_id("chatcmpl-", 29),
        created=int(time.time()),
        model=model,
        choices=choices,
        prompt_tokens=prompt_tokens,
        audio_tokens=audio_tokens,
        logprobs_requested=want_logprobs,
    )
