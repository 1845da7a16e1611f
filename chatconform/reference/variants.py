"""Conformant variants of the reference server: the other half of the kill matrix.

    start(variants=["sse-crlf", "gzip-unasked"])     python -m chatconform.reference --variant sse-crlf

A defect (defects/) breaks one rule and the suite must fail it; a variant is a
legitimate choice that the spec, the HTTP/SSE/JSON standards and real servers
allow, and the suite must pass it.  Each variant changes one thing, observable in
the answer bytes for at least one probe, and says why it is conformant (`why`: the
spec text, the standard, or the real server that does it).

Variants are written with the defect hook points (see defects/__init__.py), run
before any dialect behaviour or defect injected on top (a defect applied to a
conformant variant), in catalogue order: the serialisation variants come before
the SSE framing ones, so they can be combined.  What the hooks cannot express is
the transport (`Transport`): how a body is framed (Content-Length, chunked,
close-delimited), content-coded, written (one write per event, one for the whole
stream, one per byte) and paced; `send()` writes a reply that way, in place of
the server's own writer, whenever a variant asks for it.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import string
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from . import model as fake_model
from .errors import ApiError, context_exceeded
from .exchange import Call, Reply, dumps
from .validate import KNOWN_FIELDS

AREAS = ("http", "sse", "stream", "response", "tools", "params", "errors")


@dataclass(frozen=True)
class Transport:
    """How a reply goes on the wire (the defaults are the plain reference's)."""

    framing: str = "length"  # non-stream bodies: "length" (Content-Length), "chunked", "close" (HTTP/1.0, ends at EOF)
    writes: str = "event"  # "event": one write per SSE event; "one": the whole stream at once; "byte": one per byte
    coding: str | None = None  # "gzip": Content-Encoding applied to every body (streams flushed per event)
    close_after_error: bool = False  # Connection: close after every 4xx/5xx
    first_delay: Callable[[Call | None], float] | None = None  # seconds of thinking: before the headers of a
    #                                                     JSON answer, before the first event of a stream
    event_delay: float | None = None  # seconds between SSE events (None: the server's stream_delay)


@dataclass(frozen=True)
class Variant:
    name: str  # kebab-case, stable
    area: str  # one of AREAS
    description: str  # what it changes, one line
    why: str  # why it is conformant: spec text, standard, or the real server that does it
    skip_checks: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    on_parsed: Callable[[Call], ApiError | None] | None = None
    on_request: Callable[[Call], ApiError | None] | None = None
    on_completion: Callable[[Call, Any], None] | None = None
    on_response: Callable[[Call, dict], dict] | None = None
    on_chunks: Callable[[Call, list], list] | None = None
    on_events: Callable[[Call, list], list] | None = None
    on_error: Callable[[Call, Reply], Reply] | None = None
    on_reply: Callable[[Call, Reply], Reply] | None = None
    transport: Transport = Transport()


_VARIANTS: list[Variant] = []


def variant(name: str, area: str, description: str, why: str, **hooks: Any) -> None:
    for key in ("skip_checks", "flags"):
        if key in hooks:
            hooks[key] = frozenset(hooks[key])
    _VARIANTS.append(Variant(name, area, description, why, **hooks))


# =====================================================================================
# Helpers
# =====================================================================================


def _media_type(reply: Reply) -> str:
    ctype = next((v for k, v in reply.headers.items() if k.lower() == "content-type"), "")
    return ctype.split(";", 1)[0].strip().lower()


def _set_header(reply: Reply, name: str, value: str) -> None:
    for k in [k for k in reply.headers if k.lower() == name.lower()]:
        del reply.headers[k]
    reply.headers[name] = value


def _reserialised(dump: Callable[[Any], str], *, events: bool = True) -> dict[str, Callable]:
    """on_reply (JSON bodies, errors included) and on_events (SSE data) hooks writing
    every JSON document with `dump` instead of the compact form."""

    def on_reply(call: Call, reply: Reply) -> Reply:
        if reply.events is None and reply.body and _media_type(reply) == "application/json":
            try:
                value = json.loads(reply.body)
            except ValueError:
                return reply
            reply.body = dump(value).encode("utf-8")
        return reply

    def on_events(call: Call, evs: list[str]) -> list[str]:
        out = []
        for e in evs:
            head, sep, rest = e.partition("data: ")
            data, nl, tail = rest.partition("\n")
            if sep and not head and data != "[DONE]":
                try:
                    e = "data: " + dump(json.loads(data)) + nl + tail
                except ValueError:
                    pass
            out.append(e)
        return out

    return {"on_reply": on_reply, "on_events": on_events} if events else {"on_reply": on_reply}


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _items(chunks: list[dict]) -> Iterable[tuple[dict, dict]]:
    for ch in chunks:
        for it in ch.get("choices") or []:
            yield ch, it


def _by_choice(chunks: list[dict]) -> dict[Any, list[tuple[dict, dict]]]:
    """(chunk, item) pairs of each choice index, in stream order."""
    out: dict[Any, list[tuple[dict, dict]]] = {}
    for ch, it in _items(chunks):
        out.setdefault(it.get("index"), []).append((ch, it))
    return out


def _drop(chunks: list[dict], dropped: list[tuple[dict, dict]]) -> list[dict]:
    """Remove items from their chunks, and chunks left without any choice."""
    gone = {id(it) for _, it in dropped}
    emptied = set()
    for ch, _ in dropped:
        ch["choices"] = [it for it in ch["choices"] if id(it) not in gone]
        if not ch["choices"]:
            emptied.add(id(ch))
    return [ch for ch in chunks if id(ch) not in emptied]


def _on_every_chunk(fn: Callable[[dict], None]) -> Callable[[Call, list], list]:
    def hook(call: Call, chunks: list[dict]) -> list[dict]:
        for ch in chunks:
            fn(ch)
        return chunks

    return hook


def _on_body(fn: Callable[[dict], None]) -> Callable[[Call, dict], dict]:
    def hook(call: Call, body: dict) -> dict:
        fn(body)
        return body

    return hook


def _messages(body: dict) -> Iterable[dict]:
    for ch in body.get("choices") or []:
        if isinstance(ch.get("message"), dict):
            yield ch["message"]


def _is_usage_chunk(ch: dict) -> bool:
    return ch.get("choices") == [] and isinstance(ch.get("usage"), dict)


def _last_user_text(call: Call | None) -> str:
    messages = (call.body or {}).get("messages") if call is not None else None
    for m in reversed(messages if isinstance(messages, list) else []):
        if isinstance(m, dict) and m.get("role") == "user":
            return fake_model._text_of(m.get("content"))
    return ""


# =====================================================================================
# http: framing, coding, writes, timing, headers
# =====================================================================================

variant(
    "gzip-unasked",
    "http",
    "Every body (JSON, errors, event streams flushed per event) is sent with Content-Encoding: gzip, "
    "although the client asked for Accept-Encoding: identity.",
    "Catalogue: checks/http.py makes an unasked coding a note, since every OpenAI client (httpx, the SDK) "
    "decodes gzip; seen behind CDNs and proxies that compress regardless. Caveat: RFC 9110 §12.5.3 says a "
    "server SHOULD send identity then, so this is conformant to the rules, not to that SHOULD.",
    transport=Transport(coding="gzip"),
)

variant(
    "close-delimited",
    "http",
    "HTTP/1.0-style answers: status line HTTP/1.0, no Content-Length nor chunked coding, Connection: close, "
    "the body (JSON or event stream) ends when the connection closes.",
    "RFC 9112 §6.3 item 8 (a response without Content-Length or Transfer-Encoding is delimited by the "
    "close) and §2.6 (an HTTP/1.1 client accepts an HTTP/1.0 answer); Python's http.server answers so.",
    transport=Transport(framing="close"),
)

variant(
    "chunked-json",
    "http",
    "Non-streaming JSON answers and errors are sent with Transfer-Encoding: chunked, in several chunks, "
    "without Content-Length.",
    "RFC 9112 §7.1; Go's net/http, Node's res.write and uvicorn's StreamingResponse send JSON this way.",
    transport=Transport(framing="chunked"),
)

variant(
    "close-after-error",
    "http",
    "Every 4xx/5xx answer carries Connection: close and the server closes the connection after it.",
    "RFC 9112 §9.6 (either side may close after any response, announced by Connection: close); uvicorn "
    "and h11 close after a 500, Python's http.server after errors.",
    transport=Transport(close_after_error=True),
)

variant(
    "one-byte-per-write",
    "http",
    "Every byte of every body is its own write to the socket (TCP_NODELAY): JSON, SSE lines, CRLF pairs "
    "and multi-byte UTF-8 characters arrive split across reads.",
    "TCP is a byte stream (RFC 9293 §2.2): write boundaries carry no meaning; WHATWG HTML §9.2.6 parses "
    "an event stream incrementally; slow links and proxies deliver bodies this way.",
    transport=Transport(writes="byte"),
)

variant(
    "stream-one-write",
    "http",
    "A stream is written in one write once its (instantly generated) events are ready, with no pause between events.",
    "WHATWG HTML §9.2 does not constrain writes; events of a fast model coalesce (vLLM's and SGLang's "
    "stream_interval batch tokens, write buffers batch events); HTTP-009 only forbids holding back events "
    "already generated, and here all are generated at once.",
    transport=Transport(writes="one", event_delay=0.0),
)


def _think_time(call: Call | None) -> float:
    """A reasoning model thinks before a long answer (a story, an essay), then decodes fast."""
    return 1.5 if fake_model._LONG_RE.search(_last_user_text(call)) else 0.0


variant(
    "slow-first-token",
    "http",
    "A long answer (a story, an essay) starts after 1.5 s of thinking, then every token follows 0.5 ms "
    "after the previous (about 2000 tokens/s).",
    "Time to first token is the model's business (prefill, queueing, hidden reasoning at o-series models); "
    "Cerebras-class hardware decodes at thousands of tokens/s; the events are still flushed as generated "
    "(HTTP-009).",
    transport=Transport(first_delay=_think_time, event_delay=0.0005),
)


def _extra_headers(call: Call, reply: Reply) -> Reply:
    reply.headers.update(
        {
            "openai-version": "2020-10-01",
            "openai-organization": "user-conformance",
            "openai-processing-ms": str(random.randint(20, 900)),
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-limit-tokens": "30000000",
            "x-ratelimit-remaining-tokens": "29999990",
            "x-ratelimit-reset-tokens": "0s",
            "access-control-allow-origin": "*",
            "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
        }
    )
    if reply.status == 401:
        reply.headers["WWW-Authenticate"] = 'Bearer realm="OpenAI API"'
    return reply


variant(
    "extra-headers",
    "http",
    "Answers carry api.openai.com's extra headers (openai-version, openai-processing-ms, x-ratelimit-*, "
    "CORS, HSTS) and 401s a WWW-Authenticate challenge.",
    "api.openai.com sends these headers on every answer; RFC 9110 §11.6.1 asks for WWW-Authenticate on "
    "401; unknown headers are ignored by clients (RFC 9110 §5.1).",
    on_reply=_extra_headers,
)


def _content_type_params(call: Call, reply: Reply) -> Reply:
    media = _media_type(reply)
    if media == "application/json":
        _set_header(reply, "Content-Type", "application/json; charset=utf-8")
    elif media == "text/event-stream":
        _set_header(reply, "Content-Type", "text/event-stream")
    return reply


variant(
    "content-type-params",
    "http",
    "JSON answers and errors are labelled 'application/json; charset=utf-8', event streams plain 'text/event-stream'.",
    "HTTP-003/005 judge the media type (parameters allowed); RFC 8259 §8.1: JSON is UTF-8; llama.cpp's "
    "server labels JSON so (MIMETYPE_JSON) and streams without a charset.",
    on_reply=_content_type_params,
)

# =====================================================================================
# JSON serialisation (before the SSE framing variants, so they combine)
# =====================================================================================

variant(
    "pretty-json",
    "response",
    "Non-streaming JSON bodies and errors are pretty-printed (2-space indent) and end with a newline.",
    "RFC 8259 §2: insignificant whitespace is allowed around any structural character; Flask's and "
    "Express's JSON responses (indent options, trailing newline) look like this.",
    **_reserialised(lambda v: json.dumps(v, indent=2, ensure_ascii=False) + "\n", events=False),
)

variant(
    "ascii-escapes",
    "response",
    "Every non-ASCII character in JSON bodies, errors and stream chunks is sent as a \\uXXXX escape "
    "(surrogate pairs beyond the BMP).",
    "RFC 8259 §7 (any character may be escaped); HTTP-004 names \\u escapes as a round trip; Python's "
    "json.dumps default and Flask's JSON provider (ensure_ascii) write this.",
    **_reserialised(lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=True)),
)

variant(
    "key-order",
    "response",
    "Every JSON object (bodies, errors, chunks) has its keys in reverse order: choices before id, "
    "finish_reason before index.",
    "RFC 8259 §4: an object is an unordered collection of members; serialisers built on hash maps emit "
    "keys in any order.",
    **_reserialised(lambda v: dumps(_reverse_keys(v))),
)

# =====================================================================================
# sse: event-stream framing
# =====================================================================================

variant(
    "sse-crlf",
    "sse",
    "Event-stream lines end with CRLF (events end with \\r\\n\\r\\n).",
    "WHATWG HTML §9.2.5: end-of-line = CRLF / LF / CR; STREAM-002 names \\r\\n\\r\\n; sse-starlette (used by "
    "many FastAPI servers) separates with \\r\\n by default.",
    on_events=lambda call, events: [e.replace("\n", "\r\n") for e in events],
)

variant(
    "sse-cr",
    "sse",
    "Event-stream lines end with a bare CR (events end with \\r\\r).",
    "WHATWG HTML §9.2.5: end-of-line = CRLF / LF / CR; STREAM-002 names \\r\\r; the SDK's decoder splits on "
    "it (_streaming.py _iter_chunks).",
    on_events=lambda call, events: [e.replace("\n", "\r") for e in events],
)

variant(
    "sse-comments",
    "sse",
    "A ': keep-alive' comment block precedes every event, the first one included.",
    "WHATWG HTML §9.2.6: lines starting with ':' are ignored; STREAM-003 says a suite must tolerate them; "
    "OpenRouter sends ': OPENROUTER PROCESSING', sse-starlette ': ping' comments.",
    on_events=lambda call, events: [": keep-alive\n\n" + e for e in events],
)


def _sse_fields(call: Call, events: list[str]) -> list[str]:
    out = []
    for i, e in enumerate(events):
        out.append(("retry: 3000\n" if i == 0 else "") + f"event: message\nid: {i}\n" + e)
    return out


variant(
    "sse-fields",
    "sse",
    "Every event carries 'event: message' and 'id: N' fields, the first also 'retry: 3000'.",
    "WHATWG HTML §9.2.6: event/id/retry are standard fields and 'message' is the default event type; "
    "STREAM-003 says a suite must tolerate them; the SDK (3.3.1 _streaming.py) reads data whatever the "
    "event name except 'error' and 'thread.*'.",
    on_events=_sse_fields,
)

# =====================================================================================
# stream: chunk shapes
# =====================================================================================


def _one_char_deltas(call: Call, chunks: list[dict]) -> list[dict]:
    out = []
    for ch in chunks:
        items = ch.get("choices") or []
        it = items[0] if len(items) == 1 else None
        delta = it.get("delta") if it else None
        text = delta.get("content") if isinstance(delta, dict) else None
        # With logprobs the deltas stay whole tokens: PARAM-019 wants each content chunk to carry
        # its own tokens' entries, which a piece of a token does not have.
        if not (
            isinstance(text, str)
            and len(text) > 1
            and set(delta) == {"content"}
            and it.get("finish_reason") is None
            and it.get("logprobs") is None
        ):
            out.append(ch)
            continue
        for c in text:
            out.append({**ch, "choices": [{**it, "delta": {"content": c}}]})
    return out


variant(
    "one-char-deltas",
    "stream",
    "Streamed content comes one character per delta (whole tokens when logprobs are asked for).",
    "STREAM-015 only asks that the deltas join to the text; delta.content is any string, the spec sets no "
    "size; a server streaming detokenised text may cut it anywhere.",
    on_chunks=_one_char_deltas,
)


def _first_items(chunks: list[dict]) -> list[dict]:
    return [pairs[0][1] for pairs in _by_choice(chunks).values()]


def _role_only(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _first_items(chunks):
        d = it.get("delta") or {}
        it["delta"] = {k: v for k, v in d.items() if k == "role" or v not in (None, "")}
    return chunks


variant(
    "first-delta-role-only",
    "stream",
    'The first delta of each choice is {"role": "assistant"} alone (no content, no refusal).',
    "STREAM-012 asks for the role in the first delta; ChatCompletionStreamResponseDelta makes every key "
    "optional, content and refusal included.",
    on_chunks=_role_only,
)


def _no_refusal_key(call: Call, chunks: list[dict]) -> list[dict]:
    for _, it in _items(chunks):
        d = it.get("delta")
        if isinstance(d, dict) and "refusal" in d and d["refusal"] is None:
            del d["refusal"]
    return chunks


variant(
    "first-delta-no-refusal",
    "stream",
    'Deltas never carry \'refusal\': null (the opening delta is {"role": "assistant", "content": ""}).',
    "ChatCompletionStreamResponseDelta: refusal is optional; vLLM's and llama.cpp's opening delta has no refusal key.",
    on_chunks=_no_refusal_key,
)


def _role_with_first_token(call: Call, chunks: list[dict]) -> list[dict]:
    dropped = []
    for pairs in _by_choice(chunks).values():
        if len(pairs) < 2:
            continue
        (_, opening), (_, nxt) = pairs[0], pairs[1]
        kept = {k: v for k, v in (opening.get("delta") or {}).items() if v is not None}
        nxt["delta"] = {**kept, **(nxt.get("delta") or {})}
        dropped.append(pairs[0])
    return _drop(chunks, dropped)


variant(
    "role-with-first-token",
    "stream",
    "No separate opening chunk: the role arrives in the same delta as the first content token (or the "
    "first tool-call fragment).",
    "STREAM-012 asks for the role in the first delta of a choice, not for an empty one; a delta may carry "
    "role and content together (ChatCompletionStreamResponseDelta).",
    on_chunks=_role_with_first_token,
)


def _finish_with_last_delta(call: Call, chunks: list[dict]) -> list[dict]:
    dropped = []
    for pairs in _by_choice(chunks).values():
        if len(pairs) < 2:
            continue
        last = pairs[-1][1]
        if last.get("finish_reason") is not None and not last.get("delta"):
            pairs[-2][1]["finish_reason"] = last["finish_reason"]
            dropped.append(pairs[-1])
    return _drop(chunks, dropped)


variant(
    "finish-with-last-delta",
    "stream",
    "finish_reason rides on the chunk with the last content token or tool-call fragment; no final empty-delta chunk.",
    "STREAM-011: the finish_reason is in the last chunk of the choice, whose delta is only 'typically' {}; "
    "vLLM sends it with the last token's delta.",
    on_chunks=_finish_with_last_delta,
)


def _choices_together(call: Call, chunks: list[dict]) -> list[dict]:
    out: list[dict] = []
    group: dict | None = None
    for ch in chunks:
        items = ch.get("choices") or []
        if len(items) != 1 or group is None or items[0].get("index") in {i.get("index") for i in group["choices"]}:
            group = ch if len(items) == 1 else None
            out.append(ch)
            continue
        group["choices"].append(items[0])
    return out


variant(
    "n-choices-together",
    "stream",
    "With n > 1, each chunk carries one delta of every unfinished choice (indexes 0, 1, ... together) "
    "instead of one choice per chunk.",
    "STREAM-020: a chunk may carry any subset of the choices; CreateChatCompletionStreamResponse.choices: "
    "'Can contain more than one elements if n is greater than 1'.",
    on_chunks=_choices_together,
)


def _usage_key_omitted(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        if "usage" in ch and ch["usage"] is None:
            del ch["usage"]
    return chunks


variant(
    "chunk-usage-omitted",
    "stream",
    "With include_usage, the chunks before the usage chunk have no 'usage' key (rather than null).",
    "STREAM-018: usage 'null or absent' on the other chunks; the recorded api.openai.com streams omit it.",
    on_chunks=_usage_key_omitted,
)

_OBF = string.ascii_letters + string.digits


def _openai_chunk_extras(ch: dict) -> None:
    ch["service_tier"] = "default"
    ch["obfuscation"] = "".join(secrets.choice(_OBF) for _ in range(secrets.randbelow(12) + 1))


variant(
    "openai-chunk-extras",
    "stream",
    "Every chunk carries service_tier 'default' and an 'obfuscation' string of random padding.",
    "CreateChatCompletionStreamResponse: service_tier and obfuscation (sent by default at api.openai.com, "
    "ChatCompletionStreamOptions.include_obfuscation); STREAM-022.",
    on_chunks=_on_every_chunk(_openai_chunk_extras),
)


def _fingerprint_null_on_usage(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        if _is_usage_chunk(ch):
            ch["system_fingerprint"] = None
    return chunks


variant(
    "fingerprint-null-on-usage-chunk",
    "stream",
    "The final usage chunk has 'system_fingerprint': null; the other chunks carry the fingerprint.",
    "STREAM-008: the same fingerprint 'when sent', and null is not a fingerprint: the SDK's stream "
    "accumulator (lib/streaming/chat) and every Optional[str] client read null as absent; the spec's "
    "example sends null (RESP-020).",
    on_chunks=_fingerprint_null_on_usage,
)

# =====================================================================================
# response: body fields
# =====================================================================================


def _fingerprint(value: Any) -> dict[str, Callable]:
    def body(b: dict) -> None:
        if value is _ABSENT:
            b.pop("system_fingerprint", None)
        else:
            b["system_fingerprint"] = value

    return {"on_response": _on_body(body), "on_chunks": _on_every_chunk(body)}


_ABSENT = object()

variant(
    "fingerprint-null",
    "response",
    "system_fingerprint is null in every answer and every chunk.",
    "The spec's own example response has \"system_fingerprint\": null (RULES 'Known tensions', RESP-020); "
    "a server without a backend fingerprint has nothing else to say.",
    **_fingerprint(None),
)

variant(
    "fingerprint-absent",
    "response",
    "system_fingerprint is absent from every answer and chunk.",
    "CreateChatCompletionResponse / StreamResponse: system_fingerprint is not required (and deprecated); "
    "many compatible servers never send it.",
    **_fingerprint(_ABSENT),
)


def _uuid_id(call: Call, completion: Any) -> None:
    completion.id = str(uuid.uuid4())


variant(
    "id-uuid",
    "response",
    "Completion ids are bare UUIDs (no chatcmpl- prefix).",
    "CreateChatCompletionResponse.id: 'A unique identifier for the chat completion', any string; RESP-005: "
    "OpenAI's chatcmpl- prefix is not required.",
    on_completion=_uuid_id,
)


def _resolved_model(call: Call, completion: Any) -> None:
    completion.model = f"{completion.model}-2025-06-01"


variant(
    "model-resolved-version",
    "response",
    "The answer's model is the dated snapshot of the requested alias (<model>-2025-06-01).",
    "RESP-007: model 'may be a resolved version of the requested alias'; api.openai.com answers "
    "gpt-4o requests with gpt-4o-2024-08-06 (sdk-stream-captures).",
    on_completion=_resolved_model,
)


def _vllm_body(call: Call, body: dict) -> dict:
    hits = {ch.index: ch.stop_hit for ch in getattr(call.completion, "choices", [])}
    for ch in body.get("choices") or []:
        ch["stop_reason"] = hits.get(ch.get("index"))
        if isinstance(ch.get("message"), dict):
            ch["message"]["reasoning_content"] = None
    body["prompt_logprobs"] = None
    body["kv_transfer_params"] = None
    return body


def _vllm_chunks(call: Call, chunks: list[dict]) -> list[dict]:
    hits = {ch.index: ch.stop_hit for ch in getattr(call.completion, "choices", [])}
    for _, it in _items(chunks):
        it["stop_reason"] = hits.get(it.get("index")) if it.get("finish_reason") is not None else None
    return chunks


variant(
    "vllm-extra-fields",
    "response",
    "vLLM's extra fields: choices[].stop_reason (the stop string hit, else null), message.reasoning_content "
    "null, top-level prompt_logprobs and kv_transfer_params null; stream items carry stop_reason.",
    "RESP-021 / STREAM-022: no response schema sets additionalProperties: false and clients ignore unknown "
    "fields; vLLM's ChatCompletionResponse sends exactly these.",
    on_response=_vllm_body,
    on_chunks=_vllm_chunks,
)

_REASONING = "The user wants a short reply. I will answer directly."


def _reasoning_tokens(call: Call) -> list[str] | None:
    body = call.body or {}
    if any(body.get(k) is not None for k in ("max_tokens", "max_completion_tokens")):
        return None  # a limit would have to count the reasoning (PARAM-001): keep it simple, think only without one
    return fake_model.tokenize(_REASONING)


def _reasoning_completion(call: Call, completion: Any) -> None:
    tokens = _reasoning_tokens(call)
    if not tokens:
        return
    for ch in completion.choices:
        if not ch.tool_calls:
            ch.reasoning = tokens
            ch.completion_tokens += len(tokens)


def _reasoning_count(call: Call) -> int:
    return sum(len(getattr(ch, "reasoning", None) or []) for ch in getattr(call.completion, "choices", []))


def _reasoning_usage(usage: Any, count: int) -> None:
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens_details"), dict):
        usage["completion_tokens_details"]["reasoning_tokens"] = count


def _reasoning_body(call: Call, body: dict) -> dict:
    by_index = {ch.index: ch for ch in getattr(call.completion, "choices", [])}
    for ch in body.get("choices") or []:
        tokens = getattr(by_index.get(ch.get("index")), "reasoning", None)
        if tokens and isinstance(ch.get("message"), dict):
            ch["message"]["reasoning_content"] = "".join(tokens)
    _reasoning_usage(body.get("usage"), _reasoning_count(call))
    return body


def _reasoning_chunks(call: Call, chunks: list[dict]) -> list[dict]:
    by_index = {ch.index: ch for ch in getattr(call.completion, "choices", [])}
    opening = {id(pairs[0][0]): idx for idx, pairs in _by_choice(chunks).items()}
    out = []
    for ch in chunks:
        out.append(ch)
        idx = opening.get(id(ch))
        tokens = getattr(by_index.get(idx), "reasoning", None)
        for tok in tokens or []:
            item = {"index": idx, "delta": {"reasoning_content": tok}, "logprobs": None, "finish_reason": None}
            out.append({**{k: v for k, v in ch.items() if k != "choices"}, "choices": [item]})
        if _is_usage_chunk(ch):
            _reasoning_usage(ch["usage"], _reasoning_count(call))
    return out


variant(
    "reasoning-content",
    "response",
    "A reasoning model: without a token limit it thinks first, sent as message.reasoning_content and as "
    "reasoning_content deltas before the content; usage counts them as reasoning_tokens.",
    "RESP-021 / STREAM-022 (extension fields); RESP-019: reasoning tokens counted inside completion_tokens; "
    "vLLM's reasoning parsers, llama.cpp and DeepSeek's API send reasoning_content.",
    on_completion=_reasoning_completion,
    on_response=_reasoning_body,
    on_chunks=_reasoning_chunks,
)


def _minimal_usage(usage: Any) -> None:
    if isinstance(usage, dict):
        for k in [k for k in usage if k not in ("prompt_tokens", "completion_tokens", "total_tokens")]:
            del usage[k]


variant(
    "usage-minimal",
    "response",
    "usage holds only prompt_tokens, completion_tokens and total_tokens (no *_details), in answers and in "
    "the usage chunk.",
    "CompletionUsage: only the three totals are required; Ollama's OpenAI-compatible endpoint sends just those.",
    on_response=_on_body(lambda b: _minimal_usage(b.get("usage"))),
    on_chunks=_on_every_chunk(lambda ch: _minimal_usage(ch.get("usage"))),
)


def _empty_tool_calls(body: dict) -> None:
    for msg in _messages(body):
        msg.setdefault("tool_calls", [])


variant(
    "empty-tool-calls-list",
    "response",
    'A text answer\'s message carries "tool_calls": [] (an empty list, not absent).',
    "ChatCompletionMessageToolCalls is an array without minItems: [] is 'no tool calls'; vLLM's "
    "ChatMessage serialises tool_calls as [] by default.",
    on_response=_on_body(_empty_tool_calls),
)

# =====================================================================================
# tools
# =====================================================================================


def _vllm_tool_ids(call: Call, completion: Any) -> None:
    for ch in completion.choices:
        for t in ch.tool_calls:
            t.id = "chatcmpl-tool-" + uuid.uuid4().hex


variant(
    "tool-call-ids-vllm",
    "tools",
    "Tool-call ids in vLLM's format, chatcmpl-tool-<32 hex>, instead of call_<24 alphanumerics>.",
    "TOOL-007: ids unique, 'the format is free'; ChatCompletionMessageToolCall.id is any string; vLLM "
    "uses this format.",
    on_completion=_vllm_tool_ids,
)


def _fragments(chunks: list[dict]) -> list[tuple[dict, dict, dict]]:
    """(chunk, item, tool-call fragment) for every delta.tool_calls item."""
    out = []
    for ch, it in _items(chunks):
        for tc in (it.get("delta") or {}).get("tool_calls") or []:
            out.append((ch, it, tc))
    return out


def _args_whole(call: Call, chunks: list[dict]) -> list[dict]:
    first: dict[tuple, dict] = {}
    dropped = []
    for ch, it, tc in _fragments(chunks):
        key = (it.get("index"), tc.get("index"))
        fn = tc.get("function") or {}
        if key not in first:
            first[key] = tc
            continue
        head = first[key].setdefault("function", {})
        head["arguments"] = (head.get("arguments") or "") + (fn.get("arguments") or "")
        if (
            set(it["delta"]) == {"tool_calls"}
            and len(it["delta"]["tool_calls"]) == 1
            and it.get("finish_reason") is None
        ):
            dropped.append((ch, it))
        else:
            fn["arguments"] = ""
    return _drop(chunks, dropped)


variant(
    "tool-args-whole",
    "tools",
    "Streamed tool calls come in one fragment each: id, name and the complete arguments together.",
    "TOOL-020: the first fragment carries id, type, name and 'arguments \"\" or a first piece' (the whole "
    "string is a piece); TOOL-021 only asks that fragments join; a server that parses a call whole sends it so.",
    on_chunks=_args_whole,
)


def _args_by_char(call: Call, chunks: list[dict]) -> list[dict]:
    out = []
    for ch in chunks:
        items = ch.get("choices") or []
        it = items[0] if len(items) == 1 else None
        tcs = (it.get("delta") or {}).get("tool_calls") if it else None
        frag = tcs[0] if isinstance(tcs, list) and len(tcs) == 1 else None
        args = (frag.get("function") or {}).get("arguments") if frag else None
        if not (
            isinstance(args, str)
            and len(args) > 1
            and "id" not in frag
            and set(it["delta"]) == {"tool_calls"}
            and it.get("finish_reason") is None
        ):
            out.append(ch)
            continue
        for c in args:
            piece = {**it, "delta": {"tool_calls": [{"index": frag.get("index"), "function": {"arguments": c}}]}}
            out.append({**ch, "choices": [piece]})
    return out


variant(
    "tool-args-char-fragments",
    "tools",
    "Streamed tool-call arguments come one character per fragment.",
    "ChatCompletionMessageToolCallChunk.function.arguments is any string piece; TOOL-021 only asks that the "
    "pieces join to JSON; servers stream arguments as the model emits them, in pieces of any size.",
    on_chunks=_args_by_char,
)


def _tool_content_empty_body(body: dict) -> None:
    for msg in _messages(body):
        if msg.get("tool_calls") and msg.get("content") is None:
            msg["content"] = ""


def _tool_content_empty_chunks(call: Call, chunks: list[dict]) -> list[dict]:
    for it in _first_items(chunks):
        d = it.get("delta") or {}
        if "content" in d and d["content"] is None:
            d["content"] = ""
    return chunks


variant(
    "tool-calls-content-empty",
    "tools",
    'A tool-call answer has content "" instead of null (non-streaming, and the opening delta).',
    'TOOL-009: with tool calls, content may be null or a string; Ollama and some gateways send "".',
    on_response=_on_body(_tool_content_empty_body),
    on_chunks=_tool_content_empty_chunks,
)


def _named_finish_tool_calls(call: Call, completion: Any) -> None:
    if isinstance((call.body or {}).get("tool_choice"), dict):
        for ch in completion.choices:
            if ch.tool_calls and ch.finish_reason == "stop":
                ch.finish_reason = "tool_calls"


variant(
    "named-tool-finish-tool-calls",
    "tools",
    "Under a named tool_choice the answer finishes with 'tool_calls' (api.openai.com says 'stop').",
    "TOOL-008 / TOOL-023: under a named tool_choice accept 'stop' or 'tool_calls'; finish_reason description "
    "('tool_calls' if the model called a tool); vLLM answers so (vllm-project/vllm#25054).",
    on_completion=_named_finish_tool_calls,
)

# =====================================================================================
# params
# =====================================================================================


def _refuse_max_tokens(call: Call) -> ApiError | None:
    if (call.body or {}).get("max_tokens") is not None:
        return ApiError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
            check="variant.max_tokens",
        )
    return None


variant(
    "reasoning-model-max-tokens",
    "params",
    "A reasoning model: max_tokens (non-null) is refused with 400 unsupported_parameter naming it; "
    "max_completion_tokens works.",
    "CreateChatCompletionRequest.max_tokens: 'deprecated in favor of max_completion_tokens, and is not "
    "compatible with o-series models'; api.openai.com answers o-series models with exactly this 400.",
    on_request=_refuse_max_tokens,
)


def _fewer_top_logprobs(call: Call, completion: Any) -> None:
    for ch in completion.choices:
        if ch.logprobs and len(ch.logprobs[-1]["top_logprobs"]) > 1:
            ch.logprobs[-1]["top_logprobs"] = ch.logprobs[-1]["top_logprobs"][:1]


variant(
    "top-logprobs-fewer",
    "params",
    "The last token of each answer lists a single top_logprobs entry (itself) although more were asked.",
    "ChatCompletionTokenLogprob.top_logprobs: 'The number of entries may be fewer than the requested "
    "top_logprobs'; PARAM-017: len <= the requested number.",
    on_completion=_fewer_top_logprobs,
)

variant(
    "stream-options-ignored",
    "params",
    "stream_options without stream: true is ignored (200, a plain JSON answer) instead of refused.",
    "STREAM-019: 'ignoring it is a tolerable dialect'; llama.cpp's server ignores it (docs/REALTARGETS.md).",
    skip_checks={"stream_options.requires-stream"},
)

SMALL_VOCABULARY = 300  # tokens of a small model's tokenizer (bytes, specials, a few merges)


def _out_of_vocabulary(call: Call) -> ApiError | None:
    bias = (call.body or {}).get("logit_bias")
    if not isinstance(bias, dict):
        return None
    out = sorted(int(k) for k in bias if isinstance(k, str) and k.isdigit() and int(k) >= SMALL_VOCABULARY)
    if not out:
        return None
    return ApiError(
        400,
        f"token_id(s) {out} in logit_bias contain out-of-vocab token ids. Vocabulary size: {SMALL_VOCABULARY}",
        param="logit_bias",
        check="variant.logit-bias-vocabulary",
    )


variant(
    "small-vocabulary",
    "params",
    f"A model with {SMALL_VOCABULARY} tokens: a logit_bias key at or above that is refused with 400 naming "
    "logit_bias ('out-of-vocab token ids').",
    "PARAM-013: logit_bias keys are token ids ('specified by their token ID in the tokenizer'), and a key that "
    "is none gets a 400; vLLM refuses out-of-vocabulary ids so (docs/REALTARGETS.md).",
    on_request=_out_of_vocabulary,
)


SMALL_CONTEXT = 2048  # tokens, counted as UTF-8 bytes of the message text (a byte-level tokenizer)


def _prompt_bytes(messages: Any) -> int:
    total = 0
    for m in messages if isinstance(messages, list) else []:
        content = m.get("content") if isinstance(m, dict) else None
        parts = [content] if isinstance(content, str) else content if isinstance(content, list) else []
        for p in parts:
            text = p if isinstance(p, str) else (p.get("text") or p.get("refusal")) if isinstance(p, dict) else None
            total += len(text.encode("utf-8")) if isinstance(text, str) else 0
    return total


def _small_context(call: Call) -> ApiError | None:
    body = call.body or {}
    used = _prompt_bytes(body.get("messages"))
    if isinstance(body.get("tools"), list):  # the tools are rendered into the prompt
        used += len(json.dumps(body["tools"]).encode("utf-8"))
    if used <= SMALL_CONTEXT:
        return None
    return context_exceeded(SMALL_CONTEXT, used, "variant.small-context")


variant(
    "small-context",
    "params",
    f"A model with a {SMALL_CONTEXT}-token context window and a byte-level tokenizer: a prompt of more "
    "bytes (message text and tool definitions) is refused with 400 context_length_exceeded.",
    "ERR-008: a prompt longer than the context window gets 400 + envelope (api.openai.com's message and "
    "code); small models served on CPU have contexts of 2048 tokens (vLLM --max-model-len 2048).",
    on_request=_small_context,
)


FILLED_CONTEXT = 512  # tokens, prompt and answer together


def _context_too_small(call: Call) -> ApiError | None:
    prompt, _ = fake_model.count_prompt_tokens((call.body or {}).get("messages"))
    if prompt < FILLED_CONTEXT:
        return None
    return context_exceeded(FILLED_CONTEXT, prompt, "variant.context-fills")


def _fill_context(call: Call, completion) -> None:
    room = FILLED_CONTEXT - completion.prompt_tokens
    for ch in completion.choices:
        if ch.tool_calls or ch.completion_tokens <= room:
            continue
        ch.tokens = ch.tokens[:room]
        ch.content = "".join(ch.tokens)
        ch.logprobs = ch.logprobs[:room] if ch.logprobs is not None else None
        ch.completion_tokens, ch.finish_reason, ch.stop_hit = room, "length", None


variant(
    "context-fills",
    "params",
    f"A model with a {FILLED_CONTEXT}-token context window for prompt and answer together: an answer stops "
    "when the window is full, with finish_reason 'length' and fewer tokens than the limit; a prompt that "
    "fills it alone is refused with 400 context_length_exceeded.",
    "No model generates past its context window, and the spec names no other finish_reason for it: "
    "'length' is the truncation a client handles. vLLM 0.32 at --max-model-len 2048 ends a 2044-token "
    "prompt's answer after 4 tokens so, and llama.cpp at a full n_ctx (docs/REALTARGETS.md).",
    on_request=_context_too_small,
    on_completion=_fill_context,
)


# =====================================================================================
# errors and request strictness
# =====================================================================================


def _strict_fields(call: Call) -> ApiError | None:
    unknown = [k for k in (call.body or {}) if k not in KNOWN_FIELDS]
    if unknown:
        return ApiError(
            400,
            f"Unrecognized request argument supplied: {unknown[0]}",
            param=unknown[0],
            check="variant.unknown-field",
        )
    return None


variant(
    "strict-unknown-fields",
    "errors",
    "An unknown top-level request field is refused with 400 + envelope ('Unrecognized request argument "
    "supplied: <name>', param naming it) instead of ignored.",
    "HTTP-008: ignore or 400 + envelope; api.openai.com refuses unknown arguments this way.",
    on_request=_strict_fields,
)


def _model_400(call: Call, reply: Reply) -> Reply:
    if reply.check != "model.exists" or call.path != "/v1/chat/completions":
        return reply
    env = json.loads(reply.body)
    return Reply(400, dict(reply.headers), dumps(env).encode("utf-8"), error=reply.error, check=reply.check)


variant(
    "unknown-model-400",
    "errors",
    "An unknown model on the chat route is refused with 400 (same envelope, code model_not_found) instead of 404.",
    "ERR-005: '400 with the envelope is an acceptable dialect'; LiteLLM's proxy answers 400 'Invalid model "
    "name passed in model=...'.",
    on_error=_model_400,
)


def _model_param_null(call: Call, reply: Reply) -> Reply:
    if reply.check not in ("model.required", "model.exists") or call.path != "/v1/chat/completions":
        return reply
    env = json.loads(reply.body)
    env["error"]["param"] = None
    if reply.check == "model.required":
        env["error"].update(message="you must provide a model parameter", code=None)
    return Reply(reply.status, dict(reply.headers), dumps(env).encode("utf-8"), error=reply.error, check=reply.check)


variant(
    "model-param-null",
    "errors",
    "A missing or unknown model is refused with error.param null ('you must provide a model parameter'; "
    "'The model `x` does not exist ...', code model_not_found), as before otherwise.",
    "api.openai.com answers both so (issue threads quote {'message': 'you must provide a model parameter', "
    "'type': 'invalid_request_error', 'param': None, 'code': None}); ERR-003 lets param be null, ERR-005 "
    "quotes the unknown-model message without a param; LiteLLM's proxy refuses a missing model with param null.",
    on_error=_model_param_null,
)


def _error_code_null(call: Call, reply: Reply) -> Reply:
    env = json.loads(reply.body)
    if isinstance(env.get("error"), dict):
        env["error"]["code"] = None
    return Reply(reply.status, dict(reply.headers), dumps(env).encode("utf-8"), error=reply.error, check=reply.check)


variant(
    "error-code-null",
    "errors",
    "Every error has 'code': null (type, message and param as before).",
    "Error.code is a string or null (ERR-002); api.openai.com itself sends null for some errors (the "
    "missing-key 401); the codes the rules quote are api.openai.com's, informational.",
    on_error=_error_code_null,
)


def _auth_error_type(call: Call, reply: Reply) -> Reply:
    if reply.status != 401:
        return reply
    env = json.loads(reply.body)
    env["error"]["type"] = "authentication_error"
    return Reply(reply.status, dict(reply.headers), dumps(env).encode("utf-8"), error=reply.error, check=reply.check)


variant(
    "auth-error-type",
    "errors",
    "401 answers have error type 'authentication_error' (api.openai.com says 'invalid_request_error').",
    "Error.type is a free string; AUTH-003/004 ask for 401 + envelope (the type quoted is api.openai.com's, "
    "informational); Anthropic's API names this error type authentication_error.",
    on_error=_auth_error_type,
)

# =====================================================================================
# The catalogue and the transport writer
# =====================================================================================

_NAME_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_HOOKS = ("on_parsed", "on_request", "on_completion", "on_response", "on_chunks", "on_events", "on_error", "on_reply")


def _build() -> dict[str, Variant]:
    out: dict[str, Variant] = {}
    for v in _VARIANTS:
        assert _NAME_RE.fullmatch(v.name), v.name
        assert v.name not in out, f"duplicate variant {v.name}"
        assert v.area in AREAS, (v.name, v.area)
        assert v.description and v.why, v.name
        assert v.skip_checks or v.flags or v.transport != Transport() or any(getattr(v, h) for h in _HOOKS), (
            f"{v.name} changes nothing"
        )
        out[v.name] = v
    return out


VARIANTS: dict[str, Variant] = _build()
_ORDER = {name: i for i, name in enumerate(VARIANTS)}


def resolve_variants(names: Iterable[str | Variant]) -> tuple[Variant, ...]:
    """The named variants in catalogue order (ValueError for an unknown name)."""
    out = []
    for v in names:
        if isinstance(v, Variant):
            out.append(v)
            continue
        if v not in VARIANTS:
            import difflib

            close = difflib.get_close_matches(str(v), VARIANTS, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown variant {v!r}.{hint} Run `python -m chatconform.reference --list-variants`.")
        out.append(VARIANTS[v])
    unique = {v.name: v for v in out}
    return tuple(sorted(unique.values(), key=lambda v: _ORDER.get(v.name, len(_ORDER))))


def transport_of(variants: Iterable[Variant]) -> Transport | None:
    """The variants' transport settings merged (None: the plain writer).  Two variants
    setting the same field differently cannot be combined."""
    merged, owner = Transport(), {}
    default = Transport()
    for v in variants:
        for f in fields(Transport):
            value = getattr(v.transport, f.name)
            if value == getattr(default, f.name):
                continue
            if f.name in owner and getattr(merged, f.name) != value:
                raise ValueError(f"variants {owner[f.name]} and {v.name} both set the transport's {f.name}")
            owner[f.name] = v.name
            merged = replace(merged, **{f.name: value})
    return None if merged == default else merged


def send(handler: Any, call: Call | None, reply: Reply, t: Transport) -> None:
    """Write `reply` as `t` says (the server's `_send` for variants that change the transport)."""
    if t.framing == "close":
        handler.protocol_version = "HTTP/1.0"  # this connection's status line; the body ends at the close
        handler.close_connection = True
    if t.close_after_error and reply.status >= 400:
        handler.close_connection = True
    write = handler.wfile.write
    stream = reply.events is not None
    pause = t.first_delay(call) if t.first_delay is not None else 0.0
    if pause and not stream:
        time.sleep(pause)  # a JSON answer is ready only once generated
    handler.send_response(reply.status)
    headers = dict(reply.headers)
    headers.setdefault("x-request-id", fake_model.random_id("req_", 24))
    coder = zlib.compressobj(wbits=31) if t.coding == "gzip" else None
    if coder is not None:
        headers["Content-Encoding"] = "gzip"
    for k, v in headers.items():
        handler.send_header(k, v)
    chunked = t.framing != "close" and (stream or t.framing == "chunked")
    body = b""
    if not stream:
        body = coder.compress(reply.body) + coder.flush() if coder is not None else reply.body
        if t.framing == "length":
            handler.send_header("Content-Length", str(len(body)))
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    if handler.close_connection:
        handler.send_header("Connection", "close")
    handler.end_headers()
    if handler.command == "HEAD":
        return

    def out(data: bytes) -> None:
        if t.writes == "byte":
            for i in range(len(data)):
                write(data[i : i + 1])
        else:
            write(data)

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    if not stream:
        if chunked:  # several chunks, as a writer that flushes its buffer does
            step = max(1, -(-len(body) // 3))
            for i in range(0, len(body), step):
                out(frame(body[i : i + step]))
            out(b"0\r\n\r\n")
        else:
            out(body)
        return
    if pause:
        time.sleep(pause)  # a stream's headers go out at once, its first event once generated
    delay = t.event_delay if t.event_delay is not None else handler.server.config.stream_delay
    pending = []
    for event in reply.events:
        data = event.encode("utf-8")
        if coder is not None:
            data = coder.compress(data) + coder.flush(zlib.Z_SYNC_FLUSH)
        if not data:
            continue  # a zero-length chunk would end the chunked body early
        if t.writes == "one":
            pending.append(frame(data))
            continue
        out(frame(data))
        if delay:
            time.sleep(delay)
    tail = coder.flush() if coder is not None else b""
    end = (frame(tail) if tail else b"") + (b"0\r\n\r\n" if chunked else b"")
    out(b"".join(pending) + end)


__all__ = ["AREAS", "VARIANTS", "Transport", "Variant", "resolve_variants", "send", "transport_of"]
