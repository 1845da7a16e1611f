"""Request parameters (PARAM): token limits, stop, n, sampling, logit_bias, logprobs, seed,
response_format text, validation of out-of-range values, optional fields.

The server enforces limits, stop sequences, n and logprobs whatever the model is, so
those are judged; what the model would have written (whether a stop sequence would have
appeared, whether a seed reproduces the text) is noted.  The observer checks the same
invariants on every answer of every test (token limit vs usage, stop text absent,
logprobs shape); the tests here are the one place each rule is asked about on purpose.
"""
import json
import re

import pytest

from chatconform import expect, probes
from chatconform.assemble import assemble
from chatconform.violations import Violation, short

pytestmark = pytest.mark.area("params")

LIMITS = ("max_tokens", "max_completion_tokens")


def _long(model: str, limit_field: str, limit: int, **extra) -> dict:
    body = probes.long(model, **extra)
    body[limit_field] = limit
    return body


def _choices(body) -> list[dict]:
    return [c for c in (body or {}).get("choices") or [] if isinstance(c, dict)] if isinstance(body, dict) else []


def _content(choice: dict):
    msg = choice.get("message")
    return msg.get("content") if isinstance(msg, dict) else None



def _require_stream(ex, rule):
    if not ex.is_stream:
        raise Violation(rule, "an SSE event stream for stream: true", f"{ex.headers.get('content-type')!r}", "body", ex)


# -- token limits ------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-001")
@pytest.mark.parametrize("limit_field", LIMITS)
def test_token_limit_bounds_usage(client, model, recorder, limit_field):
    """PARAM-001: max_tokens / max_completion_tokens are accepted and bound the generated tokens (P-LONG, limit 5)."""
    ex = expect.ok(client.chat(_long(model, limit_field, 5), label=f"P-LONG {limit_field}=5"), "PARAM-001", f"{limit_field}: 5")
    usage = ex.json.get("usage") if isinstance(ex.json, dict) else None
    ct = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not isinstance(ct, int) or isinstance(ct, bool):
        recorder.note("PARAM-001", f"no usage.completion_tokens to compare with the limit ({short(usage)}); RESP-015/016 judge usage")
        return
    if ct > 5:
        expect.once(recorder, Violation("PARAM-001", f"usage.completion_tokens <= {limit_field} (5)", str(ct), "/usage/completion_tokens", ex))
    for ch in _choices(ex.json):
        if ch.get("finish_reason") != "length":
            recorder.note("PARAM-001", f"a 300-word story ended {ch.get('finish_reason')!r} within 5 tokens (the model's choice)")


@pytest.mark.rules("PARAM-001")
@pytest.mark.needs("streaming", "stream_usage")
@pytest.mark.parametrize("limit_field", LIMITS)
def test_token_limit_bounds_streamed_usage(client, model, recorder, limit_field):
    """PARAM-001 (streamed): with include_usage, the final usage.completion_tokens <= the limit (5)."""
    body = _long(model, limit_field, 5, stream=True, stream_options={"include_usage": True})
    ex = expect.ok(client.chat(body, label=f"P-LONG stream {limit_field}=5"), "PARAM-001", f"{limit_field}: 5, streamed")
    _require_stream(ex, "PARAM-001")
    usage = next((c["usage"] for c in reversed(ex.chunks) if isinstance(c.get("usage"), dict)), None)
    ct = usage.get("completion_tokens") if usage else None
    if not isinstance(ct, int) or isinstance(ct, bool):
        recorder.note("PARAM-001", "no usage.completion_tokens in the stream (STREAM-018 judges the usage chunk)")
        return
    if ct > 5:
        expect.once(recorder, Violation("PARAM-001", f"usage.completion_tokens <= {limit_field} (5)", str(ct), "chunks/usage/completion_tokens", ex))


def _assert_length(ex, recorder, choices, limit_field):
    judged = 0
    for ch in choices:
        msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
        content = msg.get("content")
        if not isinstance(content, str) or not content or msg.get("tool_calls"):
            recorder.note("PARAM-002", f"choice {ch.get('index')}: the single token showed no text (end of sequence); not judged")
            continue
        judged += 1
        fr = ch.get("finish_reason")
        if fr != "length":
            expect.once(recorder, Violation("PARAM-002", f'finish_reason "length" when {limit_field}=1 cut the answer',
                                            f"{fr!r} with content {short(content, 40)}", f"/choices/{ch.get('index')}/finish_reason", ex))


@pytest.mark.smoke
@pytest.mark.rules("PARAM-002")
@pytest.mark.parametrize("limit_field", LIMITS)
def test_limit_one_finishes_with_length(client, model, recorder, limit_field):
    """PARAM-002: when generation stops at the bound, finish_reason is "length" (limit 1, visible content)."""
    ex = expect.ok(client.chat(_long(model, limit_field, 1), label=f"P-LONG {limit_field}=1"), "PARAM-002", f"{limit_field}: 1")
    _assert_length(ex, recorder, _choices(ex.json), limit_field)


@pytest.mark.rules("PARAM-002")
@pytest.mark.needs("streaming")
def test_limit_one_finishes_with_length_streamed(client, model, recorder):
    """PARAM-002 (streamed): a stream cut by max_tokens=1 ends with finish_reason "length"."""
    ex = expect.ok(client.chat(_long(model, "max_tokens", 1, stream=True), label="P-LONG stream max_tokens=1"), "PARAM-002")
    _require_stream(ex, "PARAM-002")
    _assert_length(ex, recorder, _choices(assemble(ex.chunks).as_response()), "max_tokens")


BAD_LIMITS = [(f, v) for f in LIMITS for v in (0, -1, 1.5)]


@pytest.mark.rules("PARAM-003")
@pytest.mark.parametrize("limit_field,value", BAD_LIMITS, ids=[f"{f}={v}" for f, v in BAD_LIMITS])
def test_invalid_token_limit_rejected(client, model, recorder, limit_field, value):
    """PARAM-003: a token limit <= 0 or not an integer → 400 + envelope."""
    body = probes.minimal(model, limit=None)
    body[limit_field] = value
    expect.rejected(client.chat(body, label=f"{limit_field}={value}"), "PARAM-003", f"{limit_field} = {value}",
                    param=limit_field, recorder=recorder)


# -- stop ------------------------------------------------------------------------------------------
STOP_FORMS = [("string", "\n\n"), ("array of 1", ["\n\n"]), ("array of 4", ["\n\n", "###", "END", "<|stop|>"]), ("null", None)]


@pytest.mark.rules("PARAM-004")
@pytest.mark.parametrize("what,stop", STOP_FORMS, ids=[s[0] for s in STOP_FORMS])
def test_stop_forms_accepted(client, model, what, stop):
    """PARAM-004: stop accepts a string, an array of 1-4 strings, or null."""
    expect.ok(client.chat(probes.minimal(model, stop=stop), label=f"stop {what}"), "PARAM-004", f"stop as {what}")


_WORD = re.compile(r"[A-Za-z0-9]{2,}")


def _pick_stop(text: str) -> str | None:
    """A word from the middle of an answer (not its first word, so the cut answer is non-empty)."""
    words = [m for m in _WORD.finditer(text or "") if m.start() > 0]
    if not words:
        return None
    return words[len(words) // 2].group(0)


def _seeded(model, **extra):
    return probes.with_messages(model, [{"role": "user", "content": "Count from 1 to 20 separated by commas."}],
                                max_tokens=24, temperature=0, seed=11, **extra)


# Decoys that no answer contains: the real stop sequence is placed last, so a server
# that honours only the first entry of the list is caught.
DECOYS = ["\u2603zq1", "\u2603zq2", "\u2603zq3"]


def _stop_probe(client, model, recorder, stream: bool, last_of_four: bool = False):
    first = expect.ok(client.chat(_seeded(model), label="stop: first answer"), "PARAM-005", "the seeded request")
    text = next((_content(c) for c in _choices(first.json) if isinstance(_content(c), str)), "")
    stop = _pick_stop(text) or ","
    stops = DECOYS + [stop] if last_of_four else [stop]
    body = _seeded(model, stop=stops, **({"stream": True} if stream else {}))
    ex = expect.ok(client.chat(body, label=f"stop {stop!r}{' streamed' if stream else ''}"), "PARAM-005", f"stop {stop!r}")
    if stream:
        _require_stream(ex, "PARAM-005")
    answer = assemble(ex.chunks).as_response() if stream else ex.json
    for ch in _choices(answer):
        content = _content(ch)
        i = ch.get("index")
        if isinstance(content, str) and stop in content:
            at = content.index(stop)
            expect.once(recorder, Violation("PARAM-005", f"no stop sequence {stop!r} in the returned text",
                                            f"found at offset {at}: …{short(content[max(0, at - 20):at + 20])}…",
                                            f"/choices/{i}/message/content", ex))
        fr = ch.get("finish_reason")
        expect.field(ex, "PARAM-005", fr, '"stop" (or "length")', fr in ("stop", "length"), f"/choices/{i}/finish_reason")
        if isinstance(content, str) and stop in text and text.startswith(content) and len(content) < len(text) and fr == "stop":
            recorder.note("PARAM-005", f"stop {stop!r} triggered: the answer ended before it ({len(content)} of {len(text)} chars)")
        else:
            recorder.note("PARAM-005", f"stop {stop!r}: the seeded answer changed or did not reach it (model-dependent); "
                                       f"first {short(text, 50)}, then {short(content, 50)}")


@pytest.mark.rules("PARAM-005")
@pytest.mark.parametrize("last_of_four", [False, True], ids=["single", "last-of-four"])
def test_stop_is_honoured(client, model, recorder, last_of_four):
    """PARAM-005: a stop sequence taken from a seeded answer is not in the returned text; finish_reason "stop" (or "length").
    Also as the last of four entries: every entry of the list counts."""
    _stop_probe(client, model, recorder, stream=False, last_of_four=last_of_four)


@pytest.mark.rules("PARAM-005")
@pytest.mark.needs("streaming")
def test_stop_is_honoured_streamed(client, model, recorder):
    """PARAM-005 (streamed): the stop sequence is absent from the assembled stream, even across chunk boundaries."""
    _stop_probe(client, model, recorder, stream=True)


BAD_STOPS = [("five stops", ["a", "b", "c", "d", "e"]), ("empty array", [])]


@pytest.mark.rules("PARAM-006")
@pytest.mark.parametrize("what,stop", BAD_STOPS, ids=[s[0] for s in BAD_STOPS])
def test_bad_stop_rejected(client, model, recorder, what, stop):
    """PARAM-006: stop with more than 4 entries, or [], → 400 + envelope."""
    expect.rejected(client.chat(probes.minimal(model, stop=stop), label=f"stop {what}"), "PARAM-006", f"stop: {what}",
                    param="stop", recorder=recorder)


# -- n ------------------------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-007")
def test_n_accepted(client, model):
    """PARAM-007: n (integer 1-128) is accepted (n: 2 → 200)."""
    expect.ok(client.chat(probes.minimal(model, n=2), label="n=2"), "PARAM-007", "n: 2")


@pytest.mark.rules("PARAM-008")
def test_n_choices_indexed(client, model):
    """PARAM-008: the response carries exactly n choices with distinct indexes 0..n-1 (n: 3)."""
    ex = expect.ok(client.chat(probes.minimal(model, n=3), label="n=3"), "PARAM-007", "n: 3")
    choices = ex.json.get("choices") if isinstance(ex.json, dict) else None
    indexes = [c.get("index") for c in choices or [] if isinstance(c, dict)]
    expect.field(ex, "PARAM-008", indexes, "three choices with indexes 0, 1, 2",
                 isinstance(choices, list) and len(choices) == 3 and sorted(indexes, key=repr) == [0, 1, 2], "/choices")


BAD_N = [0, 129, 1.5]


@pytest.mark.rules("PARAM-009")
@pytest.mark.parametrize("n", BAD_N)
def test_bad_n_rejected(client, model, recorder, n):
    """PARAM-009: n of 0, 129 or a non-integer → 400 + envelope."""
    expect.rejected(client.chat(probes.minimal(model, n=n), label=f"n={n}"), "PARAM-009", f"n = {n}", param="n", recorder=recorder)


@pytest.mark.rules("PARAM-009")
def test_n_unsupported_is_refused(client, model, recorder, target):
    """PARAM-009: a server that supports only n: 1 answers 400 for n > 1, not a single choice."""
    if target.claims("n"):
        pytest.skip("not applicable: the target claims n; this probe is for servers that support only n: 1")
    ex = client.chat(probes.minimal(model, n=2), label="n=2 (n not claimed)")
    if ex.status == 200:
        count = len(_choices(ex.json))
        if count == 2:
            recorder.note("PARAM-009", "n=2 answered with two choices although the target does not claim n")
            return
        raise Violation("PARAM-009", "400 for n: 2 (or two choices)", f"HTTP 200 with {count} choice(s)", "/choices", ex)
    expect.rejected(ex, "PARAM-009", "n = 2 on a target without n", param="n", recorder=recorder)


# -- sampling --------------------------------------------------------------------------------------
EDGES = [("temperature", 0), ("temperature", 0.7), ("temperature", 2), ("temperature", 1), ("temperature", 1.0),
         ("temperature", 2.0), ("top_p", 0), ("top_p", 0.5), ("top_p", 1), ("top_p", 1.0),
         ("presence_penalty", -2), ("presence_penalty", 2), ("presence_penalty", 0.0),
         ("frequency_penalty", -2), ("frequency_penalty", 2), ("frequency_penalty", -2.0)]


@pytest.mark.rules("PARAM-010")
@pytest.mark.parametrize("field,value", EDGES, ids=[f"{f}={v!r}" for f, v in EDGES])
def test_sampling_edges_accepted(client, model, field, value):
    """PARAM-010: temperature in [0, 2], top_p in [0, 1], penalties in [-2, 2], both ends included, as integer or decimal JSON numbers."""
    ex = client.chat(probes.minimal(model, **{field: value}), label=f"{field}={json.dumps(value)}")
    expect.ok(ex, "PARAM-010", f"{field} = {json.dumps(value)} (JSON)")


OUT_OF_RANGE = [("temperature", -0.1), ("temperature", 2.1), ("top_p", 1.5), ("top_p", -0.1),
                ("presence_penalty", 2.5), ("presence_penalty", -2.5), ("frequency_penalty", 2.5), ("frequency_penalty", -2.5)]


@pytest.mark.rules("PARAM-011")
@pytest.mark.parametrize("field,value", OUT_OF_RANGE, ids=[f"{f}={v}" for f, v in OUT_OF_RANGE])
def test_sampling_out_of_range_rejected(client, model, recorder, field, value):
    """PARAM-011: a sampling value outside its range → 400 + envelope with param naming the field."""
    ex = client.chat(probes.minimal(model, **{field: value}), label=f"{field}={value}")
    expect.rejected(ex, "PARAM-011", f"{field} = {value}", recorder=recorder)
    err = ex.json.get("error") if isinstance(ex.json, dict) and isinstance(ex.json.get("error"), dict) else {}
    expect.field(ex, "PARAM-011", err.get("param"), f"error.param naming {field!r}", field in str(err.get("param") or ""), "/error/param")


# -- logit_bias ------------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-012")
@pytest.mark.parametrize("bias", [{"1": -100, "2": 100}, {"3": 5}, {}], ids=["ends", "small", "empty"])
def test_logit_bias_accepted(client, model, bias):
    """PARAM-012: logit_bias accepts an object mapping token-id strings to integers (low ids: in every vocabulary)."""
    expect.ok(client.chat(probes.minimal(model, logit_bias=bias), label=f"logit_bias {bias}"), "PARAM-012", f"logit_bias {bias}")


@pytest.mark.rules("PARAM-013")
@pytest.mark.parametrize("value", [101, -101])
def test_logit_bias_out_of_range_rejected(client, model, recorder, value):
    """PARAM-013: logit_bias values lie in -100..100; outside → 400."""
    ex = client.chat(probes.minimal(model, logit_bias={"1": value}), label=f"logit_bias {value}")
    expect.rejected(ex, "PARAM-013", f"logit_bias {{'1': {value}}}", param="logit_bias", recorder=recorder)


# -- logprobs --------------------------------------------------------------------------------------
@pytest.fixture
def with_logprobs(client, model):
    return expect.ok(client.chat(probes.minimal(model, logprobs=True, top_logprobs=2), label="logprobs top 2"),
                     "PARAM-014", "logprobs: true, top_logprobs: 2")


@pytest.mark.rules("PARAM-014")
@pytest.mark.parametrize("top", [0, 1, 20])
def test_logprobs_accepted(client, model, top):
    """PARAM-014: logprobs (boolean) and top_logprobs (integer 0-20) are accepted."""
    expect.ok(client.chat(probes.minimal(model, logprobs=True, top_logprobs=top), label=f"logprobs top {top}"),
              "PARAM-014", f"logprobs: true, top_logprobs: {top}")


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@pytest.mark.rules("PARAM-016")
def test_logprobs_shape(with_logprobs):
    """PARAM-016: choices[].logprobs is {content, refusal}; every entry has token, logprob, bytes and top_logprobs."""
    ex = with_logprobs
    for ch in _choices(ex.json):
        i = ch.get("index")
        lp = ch.get("logprobs")
        expect.field(ex, "PARAM-016", lp, "a logprobs object", isinstance(lp, dict), f"/choices/{i}/logprobs")
        for key in ("content", "refusal"):
            expect.field(ex, "PARAM-016", lp.get(key, "(absent)"), f"{key}: an array or null", key in lp and (lp[key] is None or isinstance(lp[key], list)),
                         f"/choices/{i}/logprobs/{key}")
        expect.field(ex, "PARAM-016", lp.get("content"), "a content array (logprobs: true on a text answer)",
                     isinstance(lp.get("content"), list) or not _content(ch), f"/choices/{i}/logprobs/content")
        for k, e in enumerate(lp.get("content") or []):
            where = f"/choices/{i}/logprobs/content/{k}"
            ok = isinstance(e, dict) and isinstance(e.get("token"), str) and _is_num(e.get("logprob")) \
                and "bytes" in e and (e["bytes"] is None or (isinstance(e["bytes"], list) and all(isinstance(b, int) for b in e["bytes"]))) \
                and isinstance(e.get("top_logprobs"), list)
            expect.field(ex, "PARAM-016", e, "{token: str, logprob: number, bytes: int[]|null, top_logprobs: []}", ok, where)
            for j, alt in enumerate(e["top_logprobs"]):
                expect.field(ex, "PARAM-016", alt, "{token, logprob, bytes}", isinstance(alt, dict) and isinstance(alt.get("token"), str)
                             and _is_num(alt.get("logprob")) and "bytes" in alt, f"{where}/top_logprobs/{j}")


@pytest.mark.rules("PARAM-017")
@pytest.mark.parametrize("top", [0, 2, 5])
def test_logprobs_values(client, model, recorder, top):
    """PARAM-017: logprob <= 0; bytes are the token's UTF-8; at most top_logprobs alternatives ("may be fewer");
    the tokens joined reproduce message.content."""
    ex = expect.ok(client.chat(probes.minimal(model, logprobs=True, top_logprobs=top), label=f"logprobs top {top}"), "PARAM-014")
    for ch in _choices(ex.json):
        i = ch.get("index")
        lp = ch.get("logprobs") if isinstance(ch.get("logprobs"), dict) else {}
        entries = [e for e in lp.get("content") or [] if isinstance(e, dict)]
        fewer = 0
        for k, e in enumerate(entries):
            where = f"/choices/{i}/logprobs/content/{k}"
            tok, val, byts, alts = e.get("token"), e.get("logprob"), e.get("bytes"), e.get("top_logprobs")
            if _is_num(val) and val > 0:
                expect.once(recorder, Violation("PARAM-017", "logprob <= 0", str(val), f"{where}/logprob", ex))
            if isinstance(byts, list) and isinstance(tok, str) and byts != list(tok.encode("utf-8")):
                expect.once(recorder, Violation("PARAM-017", "bytes == the UTF-8 bytes of token", f"{short(byts, 40)} for {tok!r}", f"{where}/bytes", ex))
            if isinstance(alts, list):
                if len(alts) > top:
                    expect.once(recorder, Violation("PARAM-017", f"at most top_logprobs={top} alternatives", str(len(alts)), f"{where}/top_logprobs", ex))
                fewer += len(alts) < top
                for alt in alts:
                    if isinstance(alt, dict) and _is_num(alt.get("logprob")) and alt["logprob"] > 0:
                        expect.once(recorder, Violation("PARAM-017", "logprob <= 0", str(alt["logprob"]), f"{where}/top_logprobs", ex))
        content = _content(ch)
        tokens = "".join(e["token"] for e in entries if isinstance(e.get("token"), str))
        if isinstance(content, str) and entries and tokens != content:
            expect.once(recorder, Violation("PARAM-017", "the logprobs tokens joined == message.content",
                                            f"{short(tokens, 60)} vs {short(content, 60)}", f"/choices/{i}/logprobs/content", ex))
        if fewer:
            recorder.note("PARAM-017", f"choice {i}: {fewer} of {len(entries)} tokens had fewer than {top} alternatives (allowed)")


BAD_TOP = [("top_logprobs without logprobs", {"top_logprobs": 2}),
           ("top_logprobs with logprobs false", {"logprobs": False, "top_logprobs": 2}),
           ("top_logprobs 21", {"logprobs": True, "top_logprobs": 21}),
           ("top_logprobs -1", {"logprobs": True, "top_logprobs": -1})]


@pytest.mark.rules("PARAM-015")
@pytest.mark.parametrize("what,extra", BAD_TOP, ids=[b[0] for b in BAD_TOP])
def test_bad_top_logprobs_rejected(client, model, recorder, what, extra):
    """PARAM-015: top_logprobs without logprobs: true, or above 20 → 400 + envelope."""
    expect.rejected(client.chat(probes.minimal(model, **extra), label=what), "PARAM-015", what, param="top_logprobs", recorder=recorder)


@pytest.mark.rules("PARAM-018")
@pytest.mark.parametrize("extra", [{}, {"logprobs": False}], ids=["absent", "false"])
def test_no_logprobs_is_null(client, model, extra):
    """PARAM-018: without logprobs, choices[].logprobs is null."""
    ex = expect.ok(client.chat(probes.minimal(model, **extra), label=f"logprobs {extra or 'absent'}"), "REQ-001")
    for ch in _choices(ex.json):
        expect.field(ex, "PARAM-018", ch.get("logprobs"), "logprobs null when not requested", ch.get("logprobs") is None,
                     f"/choices/{ch.get('index')}/logprobs")


@pytest.mark.rules("PARAM-019")
@pytest.mark.needs("streaming")
def test_streamed_logprobs(client, model, recorder):
    """PARAM-019: in streams each content chunk's choice carries logprobs.content for that delta's tokens
    (the SDK appends them): joined over the stream, the tokens reproduce the streamed content."""
    ex = expect.ok(client.chat(probes.stream(model, logprobs=True, top_logprobs=1), label="stream logprobs"), "PARAM-019")
    _require_stream(ex, "PARAM-019")
    mismatched = 0
    for pos, chunk in enumerate(ex.chunks):
        for ch in chunk.get("choices") or []:
            if not isinstance(ch, dict):
                continue
            delta = ch.get("delta") if isinstance(ch.get("delta"), dict) else {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                lp = ch.get("logprobs")
                entries = lp.get("content") if isinstance(lp, dict) else None
                expect.field(ex, "PARAM-019", lp, "logprobs.content entries on a chunk carrying content",
                             isinstance(entries, list) and bool(entries), f"chunk[{pos}]/choices/{ch.get('index')}/logprobs")
                joined = "".join(e["token"] for e in entries if isinstance(e, dict) and isinstance(e.get("token"), str))
                mismatched += joined != text
    a = assemble(ex.chunks)
    for idx in a.order:
        c = a.choices[idx]
        text = c.text or ""
        joined = "".join(e["token"] for e in c.logprobs_content if isinstance(e.get("token"), str))
        if text and joined != text:
            expect.once(recorder, Violation("PARAM-019", "the streamed logprobs tokens joined == the streamed content",
                                            f"{short(joined, 60)} vs {short(text, 60)}", f"choices/{idx}/logprobs", ex))
    if mismatched:
        # A detokenizer may hold back a partial character: per chunk the text and the
        # tokens can be offset while the whole stream still agrees.
        recorder.note("PARAM-019", f"{mismatched} chunk(s) whose tokens differ from their own delta text (the whole stream agrees)")


# -- seed, response_format text, response_format validation --------------------------------
@pytest.mark.rules("PARAM-020")
def test_seed_accepted(client, model):
    """PARAM-020: seed (integer) is accepted."""
    expect.ok(client.chat(probes.minimal(model, seed=42), label="seed 42"), "PARAM-020", "seed: 42")


@pytest.mark.rules("PARAM-021", "PARAM-020")
def test_seed_determinism(client, model, recorder):
    """PARAM-021 (MAY, informational): the same seed and parameters give best-effort identical output."""
    body = probes.minimal(model, seed=42, temperature=0)
    a = expect.ok(client.chat(body, label="seed 42 first"), "PARAM-020", "seed: 42")
    b = expect.ok(client.chat(body, label="seed 42 second"), "PARAM-020", "seed: 42")
    ca = [_content(c) for c in _choices(a.json)]
    cb = [_content(c) for c in _choices(b.json)]
    fa, fb = (x.json.get("system_fingerprint") if isinstance(x.json, dict) else None for x in (a, b))
    same = "identical" if ca == cb else f"different ({short(ca, 40)} vs {short(cb, 40)})"
    recorder.note("PARAM-021", f"two seeded calls: {same}; system_fingerprint {fa!r} / {fb!r}")


@pytest.mark.rules("PARAM-022")
def test_response_format_text(client, model):
    """PARAM-022: response_format {"type": "text"} is accepted and behaves as the default (a text answer)."""
    ex = expect.ok(client.chat(probes.minimal(model, response_format={"type": "text"}), label="response_format text"),
                   "PARAM-022", 'response_format {"type": "text"}')
    for ch in _choices(ex.json):
        expect.field(ex, "PARAM-022", _content(ch), "a text answer (content a string)", isinstance(_content(ch), str),
                     f"/choices/{ch.get('index')}/message/content")


BAD_FORMATS = [
    ("unknown type", {"type": "xml"}),
    ("json_schema without name", {"type": "json_schema", "json_schema": {"schema": {"type": "object"}, "strict": True}}),
    ("json_schema without json_schema", {"type": "json_schema"}),
    ("no type", {"json_schema": {"name": "x", "schema": {"type": "object"}}}),
]


@pytest.mark.rules("PARAM-027")
@pytest.mark.parametrize("what,rf", BAD_FORMATS, ids=[b[0] for b in BAD_FORMATS])
def test_bad_response_format_rejected(client, model, recorder, what, rf):
    """PARAM-027: an unknown response_format.type, or json_schema without json_schema.name → 400 + envelope."""
    ex = client.chat(probes.minimal(model, response_format=rf), label=f"response_format {what}")
    expect.rejected(ex, "PARAM-027", f"response_format: {what}", param="response_format", recorder=recorder)


# -- optional fields ---------------------------------------------------------------------------------
OPTIONAL = [
    ("user", "chatconform-user"),
    ("safety_identifier", "chatconform-sid-0001"),
    ("prompt_cache_key", "chatconform"),
    ("prompt_cache_retention", "in-memory"),
    ("metadata", {"suite": "chatconform", "area": "params"}),
    ("store", False),
    ("service_tier", "auto"),
    ("reasoning_effort", "low"),
    ("verbosity", "medium"),
    ("modalities", ["text"]),
    ("prediction", {"type": "content", "content": "OK"}),
    ("web_search_options", {}),
]


@pytest.mark.rules("PARAM-028")
@pytest.mark.parametrize("field,value", OPTIONAL, ids=[o[0] for o in OPTIONAL])
def test_optional_field_tolerated(client, model, recorder, field, value):
    """PARAM-028: an optional field with a valid value is accepted, or refused with a 4xx naming it; never 5xx.

    A refusal whose error.param does not name the field is noted (ERR-003), not failed:
    the rule's point is that an unimplemented option never breaks the server.
    """
    ex = client.chat(probes.minimal(model, **{field: value}), label=f"{field}={short(value, 30)}")
    if ex.status == 200:
        return
    expect.rejected(ex, "PARAM-028", f"{field} = {short(value, 30)}", param=field, recorder=recorder)
    recorder.note("PARAM-028", f"{field}: refused with HTTP {ex.status} (not implemented)")
