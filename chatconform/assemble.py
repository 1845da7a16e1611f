"""Rebuild each choice of a streamed answer from its deltas, as a client would.

The result has the shape of a non-streaming response, so the same checks (and a
structural comparison with the non-streaming answer) apply to both.  The assembler
itself never judges: it records what it saw (how often `role` came, which tool-call
fragments carried an id or a name) for the stream checks to judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallParts:
    index: Any
    first_chunk: int  # position of the chunk with its first fragment
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: str = ""
    fragments: int = 0
    ids_seen: int = 0  # fragments that carried an id
    names_seen: int = 0  # fragments that carried a function.name
    first_has_id_and_name: bool = False


@dataclass
class ChoiceParts:
    index: Any
    first_chunk: int
    role: str | None = None
    roles_seen: int = 0
    first_delta_has_role: bool = False
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    saw_content: bool = False
    tool_calls: dict[Any, ToolCallParts] = field(default_factory=dict)
    tool_call_order: list[Any] = field(default_factory=list)
    finish_reasons: list[tuple[int, Any]] = field(default_factory=list)  # (chunk position, value) of non-null values
    deltas_after_finish: int = 0
    logprobs_content: list[dict] = field(default_factory=list)
    saw_logprobs: bool = False
    last_chunk: int = 0

    @property
    def finish_reason(self) -> Any:
        return self.finish_reasons[-1][1] if self.finish_reasons else None

    @property
    def text(self) -> str | None:
        return "".join(self.content) if self.saw_content else None


@dataclass
class Assembled:
    choices: dict[Any, ChoiceParts] = field(default_factory=dict)
    order: list[Any] = field(default_factory=list)  # choice indexes in order of first appearance
    usage_chunks: list[tuple[int, Any]] = field(default_factory=list)  # (position, usage) where non-null
    usage_keys: int = 0  # chunks that had a `usage` key at all
    ids: list[Any] = field(default_factory=list)
    createds: list[Any] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    fingerprints: list[Any] = field(default_factory=list)
    n_chunks: int = 0

    def as_response(self) -> dict:
        """The non-streaming shape this stream stands for."""
        choices = []
        for idx in self.order:
            c = self.choices[idx]
            message: dict[str, Any] = {"role": c.role or "assistant", "content": c.text}
            if c.refusal:
                message["refusal"] = "".join(c.refusal)
            if c.tool_calls:
                message["tool_calls"] = [
                    {"id": t.id, "type": t.type or "function", "function": {"name": t.name, "arguments": t.arguments}}
                    for t in (c.tool_calls[k] for k in c.tool_call_order)
                ]
            choices.append(
                {
                    "index": idx,
                    "message": message,
                    "finish_reason": c.finish_reason,
                    "logprobs": {"content": c.logprobs_content} if c.saw_logprobs else None,
                }
            )
        out: dict[str, Any] = {
            "id": self.ids[0] if self.ids else None,
            "object": "chat.completion",
            "created": self.createds[0] if self.createds else None,
            "model": self.models[0] if self.models else None,
            "choices": choices,
        }
        if self.usage_chunks:
            out["usage"] = self.usage_chunks[-1][1]
        return out


def _key(index: Any) -> Any:
    """A choice or tool-call index usable as a dict key, whatever a server sent (a list, an object)."""
    try:
        hash(index)
        return index
    except TypeError:
        return repr(index)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def assemble(chunks: list[dict]) -> Assembled:
    a = Assembled()
    for pos, chunk in enumerate(chunks):
        if not isinstance(chunk, dict):
            continue
        a.n_chunks += 1
        a.ids.append(chunk.get("id"))
        a.createds.append(chunk.get("created"))
        a.models.append(chunk.get("model"))
        if "system_fingerprint" in chunk:
            a.fingerprints.append(chunk.get("system_fingerprint"))
        if "usage" in chunk:
            a.usage_keys += 1
            if chunk["usage"] is not None:
                a.usage_chunks.append((pos, chunk["usage"]))
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            continue
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            idx = _key(choice.get("index"))
            c = a.choices.get(idx)
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if c is None:
                c = a.choices[idx] = ChoiceParts(index=idx, first_chunk=pos)
                a.order.append(idx)
                c.first_delta_has_role = "role" in delta
            finished_before = bool(c.finish_reasons)
            meaningful = any(
                k in delta and delta[k] not in (None, "", [])
                for k in ("role", "content", "refusal", "tool_calls", "function_call")
            )
            if delta or choice.get("finish_reason") not in (None, ""):
                # A choice entry with an empty delta `{}` after the finish (e.g. riding on
                # a usage chunk) tells a client nothing; any delta key does.
                c.last_chunk = pos
            if finished_before and meaningful:
                c.deltas_after_finish += 1
            if delta.get("role") is not None:
                # A null role is no role to a client (the SDK skips None; the null itself is
                # the chunk schema's finding, STREAM-014): only a value counts as repeated.
                c.roles_seen += 1
                if c.role is None:
                    c.role = delta["role"]
            if _is_str(delta.get("content")):
                c.saw_content = True
                c.content.append(delta["content"])
            if _is_str(delta.get("refusal")):
                c.refusal.append(delta["refusal"])
            for frag in delta.get("tool_calls") or []:
                if not isinstance(frag, dict):
                    continue
                tidx = _key(frag.get("index", ("missing-index", pos)))
                t = c.tool_calls.get(tidx)
                fn = frag.get("function") if isinstance(frag.get("function"), dict) else {}
                if t is None:
                    t = c.tool_calls[tidx] = ToolCallParts(index=tidx, first_chunk=pos)
                    c.tool_call_order.append(tidx)
                    t.first_has_id_and_name = bool(frag.get("id")) and bool(fn.get("name"))
                t.fragments += 1
                if frag.get("id"):
                    t.ids_seen += 1
                    t.id = t.id or frag["id"]
                if frag.get("type"):
                    t.type = frag["type"]
                if fn.get("name"):
                    t.names_seen += 1
                    t.name = t.name or fn["name"]
                if _is_str(fn.get("arguments")):
                    t.arguments += fn["arguments"]
            lp = choice.get("logprobs")
            if isinstance(lp, dict):
                c.saw_logprobs = True
                if isinstance(lp.get("content"), list):
                    c.logprobs_content.extend(x for x in lp["content"] if isinstance(x, dict))
            fr = choice.get("finish_reason")
            if fr is not None and fr != "":
                c.finish_reasons.append((pos, fr))
    return a
