"""Vendor dialects: the reference server behaving as a seed vendor page documents.

    start(dialect="kawai")            python -m chatconform.reference --dialect kawai

A dialect is a bundle of the deviations a page *documents* (plus the vendor's extra
request parameters), written with the same hooks as the defect catalogue
(defects/): the server runs a dialect's behaviours exactly like defects, before
any defect injected on top.  Two things are not hooks: the base path the API lives
under (002: `/api/v1`) and whether keys are validated at all (003: no).

Each behaviour names the rules it breaks (`Defect.breaks`).  Those are the known
deviations the vendor's profile in dialects.yaml lists as `expectations`;
tests/test_dialects.py checks that the two agree.

Only documented behaviour is emulated.  What a page leaves open (does 000 accept the
`developer` role? does 001 refuse `top_logprobs` 6..20?) keeps the reference's
conformant behaviour: that is a prediction to test against the real server, not a
fact to bake in.  The seed pages are in shared/seeds/ (DIALECTS.md compares them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from .auth import presented_key
from .defects import Defect
from .errors import ApiError
from .exchange import Call, Reply, dumps
from .render import usage as official_usage

# Tiers (000): the key tells the tier, as a plan-specific key prefix would.  The
# page does not say how Free and Pro keys differ; a prefix is the simplest rule a
# test can control.  The plugin gives an embedded reference such a key when the
# target declares `gated` capabilities (it runs "with a key that lacks them").
FREE_KEY_PREFIX = "sk-free-"


@dataclass(frozen=True)
class Dialect:
    name: str
    seed: str  # the page it follows (shared/seeds/<seed>)
    description: str
    model: str  # the model id the page's examples use
    base_path: str = "/v1"  # where chat/completions lives
    validates_keys: bool = True  # False: any key or none is accepted (003)
    behaviours: tuple[Defect, ...] = ()

    @property
    def breaks(self) -> tuple[str, ...]:
        """The rules this dialect's documented behaviour breaks: its known deviations."""
        return tuple(dict.fromkeys(r for b in self.behaviours for r in b.breaks))


def _behaviour(name: str, breaks: tuple[str, ...], description: str, **hooks: Any) -> Defect:
    return Defect(name, "dialect", breaks, description, **hooks)


# -- extra request parameters: accepted, with their documented JSON type ------------------
_INT32 = (-(2**31), 2**31 - 1)
_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "int32": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and _INT32[0] <= v <= _INT32[1]),
    "uint32": ("a non-negative integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32),
    "integer": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "string": ("a string", lambda v: isinstance(v, str)),
    "boolean": ("a boolean", lambda v: isinstance(v, bool)),
}


def _typed_params(params: dict[str, str]) -> Defect:
    """The reference ignores unknown fields (HTTP-008); a vendor that documents a
    parameter's type refuses a wrong one with 400 + envelope, like any typed field."""

    def hook(call: Call) -> ApiError | None:
        for name, kind in params.items():
            value = (call.body or {}).get(name)
            expected, ok = _KINDS[kind]
            if value is not None and not ok(value):
                return ApiError(
                    400,
                    f"Invalid type for '{name}': expected {expected} ({kind}).",
                    param=name,
                    code="invalid_type",
                    check=f"dialect.{name}.type",
                )
        return None

    return _behaviour(
        "extension-parameters", (), f"Accepts {', '.join(params)} with their documented types.", on_parsed=hook
    )


# -- the non-streaming body as the page's example shows it --------------------------------
def _message(msg: dict, extra: dict | None = None, tool_index: bool = False) -> dict:
    out = {"role": msg["role"], "content": msg.get("content")}
    if msg.get("tool_calls"):
        calls = [dict(tc) for tc in msg["tool_calls"]]
        if tool_index:
            calls = [
                {"id": tc["id"], "index": i, **{k: v for k, v in tc.items() if k != "id"}} for i, tc in enumerate(calls)
            ]
        out["tool_calls"] = calls
    out.update(extra or {})
    return out


def _example_body(
    message_extra: Callable[[dict], dict] | None = None,
    usage_of: Callable[[Call], dict] | None = None,
    tool_index: bool = False,
) -> Callable[[Call, dict], dict]:
    """Keep only what the example response shows: no `choices[].logprobs` when it would be
    null (RESP-008), no `message.refusal` (RESP-012), usage with the three totals."""

    def hook(call: Call, body: dict) -> dict:
        choices = []
        for ch in body.get("choices", []):
            item = {
                "index": ch["index"],
                "message": _message(ch["message"], message_extra(ch["message"]) if message_extra else None, tool_index),
            }
            if ch.get("logprobs") is not None:  # asked for: still there
                item["logprobs"] = ch["logprobs"]
            item["finish_reason"] = ch["finish_reason"]
            choices.append(item)
        usage = (
            usage_of(call)
            if usage_of
            else {k: body["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        )
        return {
            "id": body["id"],
            "object": body["object"],
            "created": body["created"],
            "model": body["model"],
            "choices": choices,
            "usage": usage,
        }

    return hook


def _example_shaped(seed: str) -> Defect:
    return _behaviour(
        "example-shaped-response",
        ("RESP-008", "RESP-012"),
        f"Non-streaming answers look like the example of {seed}: no choices[].logprobs key when it "
        "would be null, no message.refusal.",
        on_response=_example_body(),
    )


# -- models without vision or audio ---------------------------------------------------------
def _media_kind(call: Call) -> str | None:
    for m in (call.body or {}).get("messages") or []:
        for part in m.get("content") if isinstance(m, dict) and isinstance(m.get("content"), list) else []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in ("image_url", "input_audio"):
                return "image" if kind == "image_url" else "audio"
    return None


def _text_only(seed: str) -> Defect:
    """The page's model reads text only (001: images "requires vision model", audio
    "requires audio model"; 000/002/004 document text content alone): a media part is
    refused, as VISION-006 asks, instead of silently ignored."""

    def hook(call: Call) -> ApiError | None:
        kind = _media_kind(call)
        if kind is None:
            return None
        return ApiError(
            400,
            f"The model `{(call.body or {}).get('model')}` does not support {kind} input.",
            param="messages",
            code=f"{kind}_input_not_supported",
            check="dialect.text-only",
        )

    return _behaviour(
        "text-only-model", (), f"Image and audio parts get 400: the model of {seed} reads text only.", on_request=hook
    )


# -- 000 (llm.kiwi): JSON mode and tools are Pro features ---------------------------------
def _pro_feature(body: dict) -> tuple[str, str] | None:
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_object":
        return "JSON mode", "response_format"
    if body.get("tools") is not None or body.get("tool_choice") is not None:
        return "Function calling", "tools" if body.get("tools") is not None else "tool_choice"
    return None


def _kiwi_gate(call: Call) -> ApiError | None:
    key = presented_key(call) or ""
    feature = _pro_feature(call.body or {})
    if feature is None or not key.startswith(FREE_KEY_PREFIX):
        return None
    what, param = feature
    # 403: the key is valid but lacks the permission (AUTH-006, SDK PermissionDeniedError).
    return ApiError(
        403,
        f"{what} is a Pro feature and this API key is on the Free tier. Upgrade to Pro to use it.",
        param=param,
        code="pro_feature_required",
        check="dialect.tier",
    )


# -- 001 (getkawai): llama.cpp-style samplers, its own usage and stream chunk format -------
KAWAI_PARAMS = {
    "top_k": "int32",
    "min_p": "number",
    "repeat_penalty": "number",
    "repeat_last_n": "int32",
    "dry_multiplier": "number",
    "dry_base": "number",
    "dry_allowed_length": "int32",
    "dry_penalty_last_n": "int32",
    "xtc_probability": "number",
    "xtc_threshold": "number",
    "xtc_min_keep": "uint32",
    "enable_thinking": "string",
    "return_prompt": "boolean",
    "include_usage": "boolean",
}
TOKENS_PER_SECOND = 500.0  # the fake model streams a token every 2 ms (server.STREAM_DELAY)


def _kawai_usage(call: Call) -> dict:
    u = official_usage(call.completion)
    # Field order as the page's example; reasoning_tokens at the top level, a float rate.
    return {
        "prompt_tokens": u["prompt_tokens"],
        "reasoning_tokens": 0,
        "completion_tokens": u["completion_tokens"],
        "output_tokens": u["completion_tokens"],
        "total_tokens": u["total_tokens"],
        "tokens_per_second": TOKENS_PER_SECOND,
    }


def _kawai_message_extra(msg: dict) -> dict:
    extra = {"reasoning": ""}
    if msg.get("tool_calls"):
        extra["content"] = ""  # the tool-call example has "content": ""
    return extra


def _kawai_wants_usage(call: Call) -> bool:
    # Top-level `include_usage`, default true (the page); stream_options is not documented.
    return (call.body or {}).get("include_usage") is not False


def _usage_on_finishing_chunk(call: Call, chunks: list[dict]) -> list[dict]:
    out = [ch for ch in chunks if ch.get("choices")]  # the official separate usage chunk goes
    for ch in out:
        ch.pop("usage", None)
    if out and _kawai_wants_usage(call) and call.completion is not None:
        out[-1]["usage"] = _kawai_usage(call)
    return out


def _minimal_envelope(call: Call, chunks: list[dict]) -> list[dict]:
    out = []
    for ch in chunks:
        items = []
        for it in ch["choices"]:
            item = {"index": it["index"], "delta": {k: v for k, v in it["delta"].items() if v is not None}}
            if it.get("logprobs") is not None:
                item["logprobs"] = it["logprobs"]
            item["finish_reason"] = it["finish_reason"]
            items.append(item)
        new = {"id": ch["id"], "choices": items}
        if "usage" in ch:
            new["usage"] = ch["usage"]
        out.append(new)
    return out


def _empty_finish_reason(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        for it in ch.get("choices") or []:
            if it.get("finish_reason") is None:
                it["finish_reason"] = ""
    return chunks


# -- 003 (llms.py): error bodies without `param` -----------------------------------------
def _error_without_param(call: Call, reply: Reply) -> Reply:
    env = json.loads(reply.body)
    if isinstance(env.get("error"), dict):
        env["error"].pop("param", None)
    return Reply(reply.status, reply.headers, dumps(env).encode(), error=reply.error, check=reply.check)


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect(
            "kiwi",
            "000_f14b253b15c9dcaa.txt",
            "llm.kiwi: JSON mode and tools are Pro features (403 for a Free key)",
            model="default",
            behaviours=(
                _example_shaped("000_f14b253b15c9dcaa.txt"),
                _text_only("000_f14b253b15c9dcaa.txt"),
                _behaviour(
                    "pro-tier-gate",
                    (),
                    f"JSON mode and tools/tool_choice with a Free key ({FREE_KEY_PREFIX}...) get 403 + envelope.",
                    on_request=_kiwi_gate,
                ),
            ),
        ),
        Dialect(
            "kawai",
            "001_48312ad13c95aa7b.txt",
            "getkawai: sampler extensions, reasoning fields, its own stream chunks",
            model="qwen3-8b-q8_0",
            behaviours=(
                _typed_params(KAWAI_PARAMS),
                _text_only("001_48312ad13c95aa7b.txt"),
                _behaviour(
                    "kawai-response",
                    ("RESP-008", "RESP-012"),
                    "message.reasoning, usage.reasoning_tokens/output_tokens/tokens_per_second, tool_calls[].index; "
                    "no choices[].logprobs key when null, no message.refusal.",
                    on_response=_example_body(_kawai_message_extra, _kawai_usage, tool_index=True),
                ),
                _behaviour(
                    "usage-on-finishing-chunk",
                    ("STREAM-017", "STREAM-018"),
                    "Stream usage rides on the finishing chunk, on by default (top-level include_usage: true).",
                    on_chunks=_usage_on_finishing_chunk,
                ),
                # A chunk without `object` breaks STREAM-005 (the fields every chunk has); STREAM-004
                # judges the value of an `object` that is there.
                _behaviour(
                    "chunk-without-object-created-model",
                    ("STREAM-005",),
                    "Chunks carry only id, choices (and usage): no object, created, model.",
                    on_chunks=_minimal_envelope,
                ),
                _behaviour(
                    "finish-reason-empty-string",
                    ("STREAM-010",),
                    'Chunks that do not finish a choice carry finish_reason "".',
                    on_chunks=_empty_finish_reason,
                ),
            ),
        ),
        Dialect(
            "vendor002",
            "002_cb67e8cdb9950117.txt",
            "served under /api/v1, extra top_k",
            model="gpt-3.5-turbo",
            base_path="/api/v1",
            behaviours=(
                _typed_params({"top_k": "integer"}),
                _example_shaped("002_cb67e8cdb9950117.txt"),
                _text_only("002_cb67e8cdb9950117.txt"),
            ),
        ),
        Dialect(
            "llmspy",
            "003_b36501f09e1d354f.txt",
            "llms.py: keys not validated, enable_thinking, errors without param",
            model="kimi-k2",
            validates_keys=False,
            behaviours=(
                _typed_params({"enable_thinking": "boolean"}),
                _example_shaped("003_b36501f09e1d354f.txt"),
                # PARAM-011 follows: a range error cannot name its field without `param`.
                _behaviour(
                    "error-without-param",
                    ("ERR-002", "ERR-003", "ERR-010", "PARAM-011"),
                    "Error objects carry message, type and code, no param.",
                    on_error=_error_without_param,
                ),
            ),
        ),
        Dialect(
            "vendor004",
            "004_5c48b78fac8b33c7.txt",
            "no extensions; responses without logprobs/refusal",
            model="gpt-4",
            behaviours=(
                _example_shaped("004_5c48b78fac8b33c7.txt"),
                _text_only("004_5c48b78fac8b33c7.txt"),
            ),
        ),
    )
}


def get(name: str) -> Dialect:
    if name not in DIALECTS:
        raise ValueError(f"unknown dialect {name!r} (known: {', '.join(DIALECTS)})")
    return DIALECTS[name]


# -- dialects that break their own documentation: for tests/test_dialects.py ----------------
# Injected on top of a dialect (start(dialect=..., defects=[BREAKAGES[name]])), each
# makes the server deviate from its page once, in a way its profile does not excuse.
def _tps_string(call: Call, body: dict) -> dict:
    if isinstance(body.get("usage"), dict) and "tokens_per_second" in body["usage"]:
        body["usage"]["tokens_per_second"] = str(body["usage"]["tokens_per_second"])
    return body


def _never_finishes(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        for it in ch.get("choices") or []:
            it["finish_reason"] = ""
    return chunks


def _finish_null(call: Call, chunks: list[dict]) -> list[dict]:
    for ch in chunks:
        for it in ch.get("choices") or []:
            if it.get("finish_reason") == "":
                it["finish_reason"] = None
    return chunks


def _answer_instead(call: Call, reply: Reply) -> Reply:
    if reply.check != "dialect.tier":
        return reply
    from . import model, render
    from .exchange import json_reply

    call.completion = model.generate(call.body)
    return json_reply(200, _example_body()(call, render.completion_body(call.completion)))


def _reject_top_k(call: Call) -> ApiError | None:
    if "top_k" in (call.body or {}):
        return ApiError(400, "Unrecognized request argument supplied: top_k", param="top_k", check="dialect.unknown")
    return None


BREAKAGES: dict[str, Defect] = {
    b.name: b
    for b in (
        _behaviour(
            "kawai-tokens-per-second-string",
            ("DIALECT-002",),
            "usage.tokens_per_second is a string, not the documented float.",
            on_response=_tps_string,
        ),
        _behaviour(
            "kawai-never-finishes",
            ("STREAM-011",),
            'Even the finishing chunk says finish_reason "": no choice ever finishes.',
            on_chunks=_never_finishes,
        ),
        _behaviour(
            "kawai-finish-reason-null",
            (),
            'finish_reason null (the official value) instead of the documented "": '
            "the declared STREAM-010 deviation no longer occurs.",
            on_chunks=_finish_null,
        ),
        _behaviour(
            "kiwi-gate-open",
            ("DIALECT-003",),
            "A Free key's JSON mode and tool requests are answered 200 (the gate is silent).",
            on_error=_answer_instead,
        ),
        _behaviour(
            "vendor002-rejects-top-k",
            ("DIALECT-001",),
            "The documented top_k is refused with 400.",
            on_parsed=_reject_top_k,
        ),
    )
}
