"""Defects of one area: sampling and output parameters.  Each `defect(...)` registers one mutant (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any, Callable

from .. import model as fake_model
from ..errors import ApiError
from ..exchange import Call, Reply
from .base import (
    _bad,
    _is_n,
    _items,
    _on_choices,
    _on_items,
    _on_text_choices,
    _retokenize,
    _rewrite_error,
    _rf_type,
    _server_error,
    defect,
)


def _pop(*keys: str):
    def hook(call: Call) -> None:
        if any(k in (call.body or {}) for k in keys):
            call.body = {k: v for k, v in call.body.items() if k not in keys}

    return hook


defect(
    "ignores-max-tokens",
    "params",
    ("PARAM-001", "PARAM-002"),
    "`max_tokens` is accepted but not applied.",
    on_request=_pop("max_tokens"),
)
defect(
    "ignores-max-completion-tokens",
    "params",
    "PARAM-001",
    "`max_completion_tokens` is accepted but not applied.",
    on_request=_pop("max_completion_tokens"),
)


def _length_as_stop(call: Call, it: dict) -> None:
    if it.get("finish_reason") == "length":
        it["finish_reason"] = "stop"


defect(
    "length-reported-as-stop",
    "params",
    "PARAM-002",
    "A non-streaming answer cut by the token limit says finish_reason 'stop'.",
    on_response=_on_choices(_length_as_stop),
)
defect(
    "stream-length-reported-as-stop",
    "params",
    "PARAM-002",
    "A streamed answer cut by the token limit finishes with 'stop'.",
    on_chunks=_on_items(_length_as_stop),
)


def _include_stop_text(call: Call, ch: Any) -> None:
    if ch.stop_hit:
        _retokenize(ch, ch.content + ch.stop_hit, call)


defect(
    "stop-sequence-included",
    "params",
    "PARAM-005",
    "Generation stops at a stop sequence but the stop text is kept in the output.",
    on_completion=_on_text_choices(_include_stop_text),
)


def _first_stop_only(call: Call) -> None:
    stop = (call.body or {}).get("stop")
    if isinstance(stop, list) and len(stop) > 1:
        call.body = {**call.body, "stop": stop[0]}


defect(
    "stop-array-first-only",
    "params",
    "PARAM-005",
    "Only the first entry of a `stop` array is honoured.",
    on_request=_first_stop_only,
)
defect("ignores-stop", "params", "PARAM-005", "`stop` is accepted but never applied.", on_request=_pop("stop"))


def _rejects_four_stops(call: Call) -> ApiError | None:
    stop = (call.body or {}).get("stop")
    if isinstance(stop, list) and len(stop) > 3:
        return _bad("stop", f"Invalid 'stop': expected at most 3 stop sequences, but got {len(stop)}.")
    return None


defect(
    "rejects-four-stops",
    "params",
    "PARAM-004",
    "A `stop` array of 4 entries (the maximum) is rejected with 400.",
    on_request=_rejects_four_stops,
)
defect(
    "accepts-five-stops",
    "params",
    "PARAM-006",
    "A `stop` array of 5 (or 0) entries is accepted.",
    skip_checks={"stop.count"},
)


def _n_one(call: Call) -> None:
    if not call.stream and _is_n(call):
        call.body = {**call.body, "n": 1}


defect(
    "n-ignored",
    "params",
    "PARAM-008",
    "`n` is accepted but non-streaming answers always carry one choice.",
    on_request=_n_one,
)
defect(
    "n-duplicate-index",
    "params",
    "PARAM-008",
    "With n > 1 every choice has index 0.",
    on_response=_on_choices(lambda c, ch: ch.__setitem__("index", 0), when=_is_n),
)
defect(
    "accepts-out-of-range-n", "params", "PARAM-009", "`n` outside 1..128 (0, 129) is accepted.", skip_checks={"n.range"}
)


def _rejects_n(call: Call) -> ApiError | None:
    return _bad("n", "Invalid 'n': only n=1 is supported.") if _is_n(call) else None


# STREAM-020 cannot be judged once the n=2 stream is refused: the refusal is PARAM-007's (not judged, never failed).
defect("rejects-n-above-one", "params", ("PARAM-007",), "Any `n` above 1 is rejected with 400.", on_request=_rejects_n)


def _reject_value(key: str, pred: Callable[[Any], bool], message: str):
    def hook(call: Call) -> ApiError | None:
        v = (call.body or {}).get(key)
        return _bad(key, message.format(v=v)) if v is not None and pred(v) else None

    return hook


defect(
    "rejects-temperature-2",
    "params",
    "PARAM-010",
    "temperature 2 (the inclusive maximum) is rejected: the bound is exclusive.",
    on_request=_reject_value(
        "temperature", lambda v: v >= 2, "Invalid 'temperature': expected a value < 2, but got {v} instead."
    ),
)


def _temperature_up_to_4(call: Call) -> ApiError | None:
    v = (call.body or {}).get("temperature")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v <= 4:
        side = "below minimum" if v < 0 else "above maximum"
        limit = ">= 0" if v < 0 else "<= 4"
        return _bad(
            "temperature",
            f"Invalid 'temperature': decimal {side} value. Expected a value {limit}, but got {v} instead.",
            "decimal_above_max_value",
        )
    return None


defect(
    "accepts-temperature-above-2",
    "params",
    "PARAM-011",
    "temperature is range-checked against [0, 4] instead of [0, 2] (2.1 accepted, 5 still rejected).",
    skip_checks={"temperature.range"},
    on_request=_temperature_up_to_4,
)
defect(
    "rejects-top-p-0",
    "params",
    "PARAM-010",
    "top_p 0 (the inclusive minimum) is rejected.",
    on_request=_reject_value("top_p", lambda v: v <= 0, "Invalid 'top_p': expected a value > 0, but got {v} instead."),
)
defect(
    "accepts-top-p-above-1",
    "params",
    "PARAM-011",
    "top_p is not range-checked (1.5 accepted).",
    skip_checks={"top_p.range"},
)


def _rejects_negative_penalty(call: Call) -> ApiError | None:
    for key in ("presence_penalty", "frequency_penalty"):
        v = (call.body or {}).get(key)
        if isinstance(v, (int, float)) and v < 0:
            return _bad(key, f"Invalid '{key}': expected a value >= 0, but got {v} instead.")
    return None


defect(
    "rejects-negative-penalty",
    "params",
    "PARAM-010",
    "Negative presence/frequency penalties (valid down to -2) are rejected.",
    on_request=_rejects_negative_penalty,
)
defect(
    "accepts-penalty-out-of-range",
    "params",
    "PARAM-011",
    "presence/frequency penalties are not range-checked (2.5 accepted).",
    skip_checks={"presence_penalty.range", "frequency_penalty.range"},
)
defect(
    "rejects-logit-bias",
    "params",
    "PARAM-012",
    "Any non-empty `logit_bias` is rejected with 400.",
    on_request=_reject_value("logit_bias", lambda v: bool(v), "Invalid 'logit_bias': logit_bias is not supported."),
)
defect(
    "accepts-logit-bias-out-of-range",
    "params",
    "PARAM-013",
    "logit_bias values outside -100..100 are accepted.",
    skip_checks={"logit_bias.range"},
)
defect(
    "rejects-seed",
    "params",
    "PARAM-020",
    "Any `seed` is rejected with 400.",
    on_request=_reject_value("seed", lambda v: True, "Invalid 'seed': seed is not supported."),
)
defect(
    "accepts-max-tokens-zero", "params", "PARAM-003", "max_tokens <= 0 is accepted.", skip_checks={"max_tokens.range"}
)
defect(
    "accepts-fractional-max-tokens",
    "params",
    "PARAM-003",
    "A non-integer max_tokens (1.5) is accepted.",
    skip_checks={"max_tokens.type"},
)


def _logprobs_requested(call: Call) -> bool:
    return (call.body or {}).get("logprobs") is True


defect(
    "logprobs-ignored",
    "params",
    "PARAM-016",
    "`logprobs: true` is accepted but choices[].logprobs stays null.",
    on_response=_on_choices(lambda c, ch: ch.__setitem__("logprobs", None), when=_logprobs_requested),
)
defect(
    "logprobs-refusal-key-missing",
    "params",
    "PARAM-016",
    "The logprobs object has `content` but no `refusal` key.",
    on_response=_on_choices(lambda c, ch: (ch.get("logprobs") or {}).pop("refusal", None), when=_logprobs_requested),
)


def _entries(ch: dict) -> list[dict]:
    lp = ch.get("logprobs") or {}
    return lp.get("content") or []


def _positive(call: Call, ch: dict) -> None:
    for e in _entries(ch)[:1]:
        e["logprob"] = 0.25
        if e["top_logprobs"]:
            e["top_logprobs"][0]["logprob"] = 0.25


def _too_many(call: Call, ch: dict) -> None:
    for e in _entries(ch):
        e["top_logprobs"].append({"token": " extra", "logprob": -99.0, "bytes": list(b" extra")})


def _utf16(call: Call, ch: dict) -> None:
    for e in _entries(ch):
        e["bytes"] = list(e["token"].encode("utf-16-le"))


def _stripped(call: Call, ch: dict) -> None:
    for e in _entries(ch):
        e["token"] = e["token"].strip()
        e["bytes"] = list(e["token"].encode())


defect(
    "logprob-positive",
    "params",
    "PARAM-017",
    "The first token's logprob is +0.25 (probabilities above 1).",
    on_response=_on_choices(_positive),
)
defect(
    "top-logprobs-too-many",
    "params",
    "PARAM-017",
    "Each entry has one more top_logprobs alternative than requested.",
    on_response=_on_choices(_too_many),
)
defect(
    "logprobs-bytes-wrong",
    "params",
    "PARAM-017",
    "`bytes` are UTF-16-LE instead of the UTF-8 bytes of the token.",
    on_response=_on_choices(_utf16),
)
defect(
    "logprobs-tokens-mismatch",
    "params",
    "PARAM-017",
    "Logprob tokens lose their leading spaces, so they no longer join into the content.",
    on_response=_on_choices(_stripped),
)


def _unrequested_logprobs(call: Call, ch: dict) -> None:
    if ch.get("logprobs") is None:
        ch["logprobs"] = {"content": [], "refusal": None}


defect(
    "logprobs-when-not-requested",
    "params",
    "PARAM-018",
    "Without `logprobs`, choices[].logprobs is an empty object, not null.",
    on_response=_on_choices(_unrequested_logprobs),
)


def _stream_lp_missing(call: Call, it: dict) -> None:
    if (it.get("delta") or {}).get("content"):
        it["logprobs"] = None


defect(
    "stream-logprobs-missing",
    "params",
    "PARAM-019",
    "Streamed content chunks carry no logprobs although they were requested.",
    on_chunks=_on_items(_stream_lp_missing, when=_logprobs_requested),
)
defect(
    "accepts-top-logprobs-without-logprobs",
    "params",
    "PARAM-015",
    "top_logprobs without `logprobs: true` is accepted.",
    skip_checks={"top_logprobs.requires-logprobs"},
)
defect(
    "accepts-top-logprobs-above-20",
    "params",
    "PARAM-015",
    "top_logprobs above 20 is accepted.",
    skip_checks={"top_logprobs.range"},
)
defect(
    "rejects-logprobs",
    "params",
    "PARAM-014",
    "`logprobs: true` is rejected with 400.",
    on_request=_reject_value("logprobs", lambda v: v is True, "Invalid 'logprobs': logprobs are not supported."),
)
defect(
    "rejects-response-format-text",
    "params",
    "PARAM-022",
    '`response_format: {"type": "text"}` is rejected with 400.',
    on_request=lambda call: (
        _bad("response_format", "Invalid 'response_format': type 'text' is not supported.")
        if _rf_type(call) == "text"
        else None
    ),
)


def _metadata_500(call: Call) -> ApiError | None:
    return _server_error() if (call.body or {}).get("metadata") else None


defect(
    "metadata-500",
    "params",
    "PARAM-028",
    "A request with `metadata` crashes the server (500).",
    on_request=_metadata_500,
)


# -- token limits: max_tokens vs max_completion_tokens, the whole limit, limits in the thousands ---
def _has(key: str) -> Callable[[Call], bool]:
    return lambda call: (call.body or {}).get(key) is not None


defect(
    "rejects-max-completion-tokens",
    "params",
    "PARAM-001",
    "`max_completion_tokens` is refused as an unsupported parameter (only the deprecated max_tokens is taken).",
    on_request=lambda call: (
        ApiError(
            400,
            "Unsupported parameter: 'max_completion_tokens' is not supported with this model. "
            "Use 'max_tokens' instead.",
            param="max_completion_tokens",
            code="unsupported_parameter",
            check="defect",
        )
        if _has("max_completion_tokens")(call)
        else None
    ),
)
# A reasoning-model server refuses max_tokens with 400 unsupported_parameter naming it, which is
# conformant (PARAM-001); these two refuse it in a way no client can act on.
defect(
    "max-tokens-refused-vaguely",
    "params",
    "PARAM-001",
    "`max_tokens` is refused with a 400 that names neither the field nor a code.",
    on_request=lambda call: (
        ApiError(400, "Invalid request.", param=None, code=None, check="defect") if _has("max_tokens")(call) else None
    ),
)
defect(
    "max-tokens-500",
    "params",
    "PARAM-001",
    "A request with `max_tokens` crashes the server (500).",
    on_request=lambda call: _server_error() if _has("max_tokens")(call) else None,
)


def _one_short_at_length(call: Call, completion: Any) -> None:
    for ch in completion.choices:
        if ch.finish_reason == "length":
            ch.completion_tokens = max(0, ch.completion_tokens - 1)


defect(
    "completion-tokens-short-at-length",
    "params",
    "PARAM-002",
    "An answer cut by the token limit reports usage.completion_tokens one below the limit.",
    on_completion=_one_short_at_length,
)


def _limit_above_1000(call: Call) -> ApiError | None:
    for key in ("max_tokens", "max_completion_tokens"):
        v = (call.body or {}).get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 1000:
            return _bad(
                key,
                f"{key} is too large: {v}. This model supports at most 1000 completion tokens, whereas you provided {v}.",
            )
    return None


defect(
    "rejects-token-limit-in-the-thousands",
    "params",
    "PARAM-001",
    "A token limit above 1000 is refused, as if no chat model wrote more.",
    on_request=_limit_above_1000,
)


# -- n: greedy sampling, the maximum ----------------------------------------------------------------
defect(
    "rejects-n-with-greedy-sampling",
    "params",
    "PARAM-007",
    '`n > 1` with `temperature: 0` is refused: "n must be 1 when using greedy sampling".',
    on_request=lambda call: (
        _bad("n", "n must be 1 when using greedy sampling.")
        if _is_n(call) and (call.body or {}).get("temperature") == 0
        else None
    ),
)


def _n_up_to_16(call: Call) -> None:
    n = (call.body or {}).get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 16:
        call.body = {**call.body, "n": 16}


defect(
    "n-capped-at-16",
    "params",
    "PARAM-008",
    "`n` above 16 is accepted but answered with 16 choices.",
    on_request=_n_up_to_16,
)


# -- top_logprobs at its maximum ------------------------------------------------------------------
def _top_up_to_5(call: Call) -> None:
    top = (call.body or {}).get("top_logprobs")
    if isinstance(top, int) and not isinstance(top, bool) and top > 5:
        call.body = {**call.body, "top_logprobs": 5}


defect(
    "top-logprobs-capped-at-5",
    "params",
    "PARAM-017",
    "top_logprobs above 5 is taken as 5: every token has 5 alternatives where 20 were asked for.",
    on_request=_top_up_to_5,
)


# -- stop sequences across tokens -------------------------------------------------------------------
def _stop_within_one_token(call: Call, completion: Any) -> None:
    """Stop sequences looked for in each token alone: one spanning two tokens (two chunks of
    a stream) is never found."""
    stop = (call.body or {}).get("stop")
    stops = [
        s
        for s in ([stop] if isinstance(stop, str) else stop if isinstance(stop, list) else [])
        if isinstance(s, str) and s
    ]
    if not stops:
        return
    whole = fake_model.generate({**call.body, "stop": None})  # the answer before any stop sequence was applied
    for ch, raw in zip(completion.choices, whole.choices):
        if ch.tool_calls:
            continue
        kept, finish, hit = [], raw.finish_reason, None
        for tok in raw.tokens:
            found = sorted((tok.index(s), s) for s in stops if s in tok)
            if found:
                pos, hit = found[0]
                kept.append(tok[:pos])
                finish = "stop"
                break
            kept.append(tok)
        _retokenize(ch, "".join(kept), call)
        ch.finish_reason, ch.stop_hit = finish, hit


defect(
    "stop-matched-within-one-token",
    "params",
    "PARAM-005",
    "A stop sequence is only found inside one token: one spanning a token boundary is kept in the text.",
    on_completion=_stop_within_one_token,
)


# -- logprobs in streams ----------------------------------------------------------------------------
def _stream_entries(it: dict) -> list[dict]:
    lp = it.get("logprobs")
    return lp.get("content") or [] if isinstance(lp, dict) else []


def _stream_positive(call: Call, chunks: list[dict]) -> list[dict]:
    for _, it in _items(chunks):
        for e in _stream_entries(it)[:1]:
            e["logprob"] = 0.7
            if e["top_logprobs"]:
                e["top_logprobs"][0]["logprob"] = 0.7
            return chunks
    return chunks


def _stream_too_many(call: Call, it: dict) -> None:
    for e in _stream_entries(it):
        e["top_logprobs"] += [
            {"token": f" alt{k}", "logprob": -50.0 - k, "bytes": list(f" alt{k}".encode())} for k in range(4)
        ]


defect(
    "stream-logprob-positive",
    "params",
    "PARAM-017",
    "In streams, the first token's logprob is +0.7.",
    on_chunks=_stream_positive,
)
defect(
    "stream-top-logprobs-too-many",
    "params",
    "PARAM-017",
    "In streams, each token has four alternatives more than top_logprobs asked for (five for one).",
    on_chunks=_on_items(_stream_too_many, when=_logprobs_requested),
)
defect(
    "stream-logprobs-when-not-requested",
    "params",
    "PARAM-018",
    "Without `logprobs`, each streamed content chunk carries a logprobs object anyway.",
    on_chunks=_on_items(
        lambda c, it: (
            it.__setitem__("logprobs", {"content": [], "refusal": None})
            if (it.get("delta") or {}).get("content")
            else None
        ),
        when=lambda c: not _logprobs_requested(c),
    ),
)
defect(
    "stream-logprobs-refusal-key-missing",
    "params",
    "PARAM-016",
    "In streams, the chunks' logprobs objects have `content` but no `refusal` key.",
    on_chunks=_on_items(lambda c, it: (it.get("logprobs") or {}).pop("refusal", None), when=_logprobs_requested),
)


# -- the field an out-of-range refusal names ----------------------------------------------------------
_SAMPLING_RANGES = {"temperature.range", "top_p.range", "presence_penalty.range", "frequency_penalty.range"}


def _range_param_missing(call: Call, reply: Reply) -> Reply:
    if reply.check not in _SAMPLING_RANGES:
        return reply
    return _rewrite_error(reply, lambda env: {**env, "error": {**env["error"], "param": None}})


defect(
    "range-error-names-no-field",
    "params",
    "PARAM-011",
    "An out-of-range sampling value is refused with error.param null instead of the field.",
    on_error=_range_param_missing,
)


# -- leniency: invalid values taken instead of refused ---------------------------------------------
# Each breaks the SHOULD rule about refusing the value, not the MUST rule that the field
# is accepted: the request was invalid (REQ-004, PARAM-013).
INT64 = 2**63


def _clamp_seed(call: Call) -> None:
    seed = (call.body or {}).get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and not -INT64 <= seed < INT64:
        call.body["seed"] = max(-INT64, min(INT64 - 1, seed))


defect(
    "clamps-seed-to-int64",
    "params",
    "REQ-004",
    "A `seed` beyond int64 (2**63) is clamped to the nearest int64 and answered.",
    on_parsed=_clamp_seed,
)


def _coerce_stop(call: Call) -> None:
    stop = (call.body or {}).get("stop")
    if isinstance(stop, (int, float)) and not isinstance(stop, bool):
        call.body["stop"] = str(stop)
    elif isinstance(stop, list):
        call.body["stop"] = [str(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else s for s in stop]


defect(
    "coerces-numeric-stop",
    "params",
    "REQ-004",
    "A numeric `stop` (7, [7]) is coerced to a string and answered.",
    on_parsed=_coerce_stop,
)


def _drop_bad_bias(call: Call) -> None:
    lb = (call.body or {}).get("logit_bias")
    if isinstance(lb, dict):
        call.body["logit_bias"] = {
            k: v
            for k, v in lb.items()
            if k.strip().lstrip("-").isdigit() and isinstance(v, int) and not isinstance(v, bool)
        }


defect(
    "ignores-bad-logit-bias",
    "params",
    ("PARAM-013", "REQ-004"),
    "logit_bias entries whose key is no token id or whose value is not an integer are silently dropped.",
    on_parsed=_drop_bad_bias,
)


def _coerce_content(call: Call) -> None:
    for m in (call.body or {}).get("messages") or []:
        if (
            isinstance(m, dict)
            and isinstance(m.get("content"), (int, float))
            and not isinstance(m.get("content"), bool)
        ):
            m["content"] = str(m["content"])


defect(
    "accepts-numeric-content",
    "params",
    "REQ-004",
    "A message `content` that is a number (5) is taken as its text.",
    on_parsed=_coerce_content,
)


# -- structured output: typed enum/const values, arrays of arrays -------------------------------------
def _strict_schema(call: Call) -> dict | None:
    rf = (call.body or {}).get("response_format")
    js = rf.get("json_schema") if isinstance(rf, dict) and rf.get("type") == "json_schema" else None
    return js["schema"] if isinstance(js, dict) and isinstance(js.get("schema"), dict) else None


def _rewrite_json(edit: Callable[[dict, Any], Any]):
    """on_completion: parse each finished answer, edit it along the schema, retokenize."""

    def hook(call: Call, completion: Any) -> None:
        schema = _strict_schema(call)
        if schema is None:
            return
        for ch in completion.choices:
            if ch.tool_calls or ch.finish_reason != "stop" or not isinstance(ch.content, str):
                continue
            try:
                value = json.loads(ch.content)
            except ValueError:
                continue
            _retokenize(ch, json.dumps(edit(schema, value), separators=(",", ":"), ensure_ascii=False), call)

    return hook


def _walk(schema: Any, value: Any, leaf: Callable[[dict, Any], Any]) -> Any:
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        return {k: _walk(props.get(k), v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return leaf(schema, [_walk(schema.get("items"), v, leaf) for v in value])
    return leaf(schema, value)


def _typed_as_string(schema: dict, value: Any) -> Any:
    members = schema.get("enum", []) + ([schema["const"]] if "const" in schema else [])
    if not isinstance(value, (str, list)) and any(m == value and type(m) is type(value) for m in members):
        return json.dumps(value)  # 1 -> "1", true -> "true", null -> "null"
    return value


def _flatten_nested(schema: dict, value: Any) -> Any:
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict) and items.get("type") == "array":
        return [x for row in value for x in (row if isinstance(row, list) else [row])]
    return value


defect(
    "json-schema-typed-enums-as-strings",
    "structured",
    "PARAM-026",
    'Constrained decoding treats every enum/const member as a string: 1 comes back "1", true "true", null "null".',
    on_completion=_rewrite_json(lambda s, v: _walk(s, v, _typed_as_string)),
)
defect(
    "json-schema-nested-arrays-flattened",
    "structured",
    "PARAM-026",
    "An array of arrays in a json_schema comes back flattened one level ([[0, 1]] as [0, 1]).",
    on_completion=_rewrite_json(lambda s, v: _walk(s, v, _flatten_nested)),
)
