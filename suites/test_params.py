"""Request parameters (PARAM): token limits, stop, n, sampling, logit_bias, logprobs, seed,
response_format text, validation of out-of-range values, optional fields.

Each test provokes one behaviour and names the rules it exercises; the checks
(chatconform/checks/params.py) judge every answer any test receives: the server enforces
limits, stop sequences, n and logprobs whatever the model is, so those are judged; what
the model would have written (whether a stop sequence would have come, whether a seed
reproduces the text) is noted.  `accept=` names the rule that makes a request valid,
`refuse=` the SHOULD rule that says an invalid one is refused.  Values at the top of
their documented range (limits in the thousands, top_logprobs 20, n 128) are sent too,
at a cost of one or two tokens a choice.
"""

import json
import re

import pytest

from chatconform import probes

pytestmark = pytest.mark.area("params")

LIMITS = ("max_completion_tokens", "max_tokens")


def _limited(client, recorder, model, body: dict, limit_field: str, label: str):
    """Send `body` whose token limit is in `limit_field`.  max_completion_tokens must be
    taken (PARAM-001); so must max_tokens by a target that declares it as its field.  Any
    other target may be a server for reasoning models, which refuses max_tokens as
    api.openai.com does (400 unsupported_parameter): the relation judges that."""
    if limit_field == "max_tokens" and probes.limit_field(model) != "max_tokens":
        ex = client.chat(body, label=label)
        recorder.relate("max_tokens_taken", ex)
        return ex
    return client.chat(body, label=label, accept="PARAM-001")


def _long(model, limit_field: str, limit: int, **extra) -> dict:
    return probes.long(model, **{limit_field: limit}, **extra)


# -- token limits ------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-001", "PARAM-002")
@pytest.mark.parametrize("limit", [2, 5, 13])
@pytest.mark.parametrize("limit_field", LIMITS)
def test_token_limit_bounds_usage(client, model, recorder, limit_field, limit):
    """PARAM-001: max_completion_tokens / max_tokens are taken and bound the generated tokens
    (P-LONG); PARAM-002: an answer cut there finishes "length" having used the whole limit."""
    _limited(client, recorder, model, _long(model, limit_field, limit), limit_field, f"P-LONG {limit_field}={limit}")


@pytest.mark.rules("PARAM-001", "PARAM-002")
@pytest.mark.needs("streaming", "stream_usage")
@pytest.mark.parametrize("limit_field", LIMITS)
def test_token_limit_bounds_streamed_usage(client, model, recorder, limit_field):
    """PARAM-001/002 (streamed): with include_usage, the final usage.completion_tokens <= the
    limit (5), == it when the stream finished "length"."""
    body = _long(model, limit_field, 5, stream=True, stream_options={"include_usage": True})
    _limited(client, recorder, model, body, limit_field, f"P-LONG stream {limit_field}=5")


@pytest.mark.smoke
@pytest.mark.rules("PARAM-002")
@pytest.mark.parametrize("limit_field", LIMITS)
def test_limit_one_finishes_with_length(client, model, recorder, limit_field):
    """PARAM-002: when generation stops at the bound, finish_reason is "length" (limit 1, visible content)."""
    _limited(client, recorder, model, _long(model, limit_field, 1), limit_field, f"P-LONG {limit_field}=1")


@pytest.mark.rules("PARAM-002")
@pytest.mark.needs("streaming")
def test_limit_one_finishes_with_length_streamed(client, model):
    """PARAM-002 (streamed): a stream cut by a limit of 1 ends with finish_reason "length"."""
    client.chat(probes.long(model, limit=1, stream=True), label="P-LONG stream limit=1", accept="PARAM-001")


@pytest.mark.rules("PARAM-001")
@pytest.mark.parametrize("limit_field", LIMITS)
def test_token_limit_in_the_thousands(client, model, recorder, limit_field):
    """PARAM-001: a limit far above the answer (4096) is taken like a small one; the prompt
    ends quickly, so it costs a few tokens."""
    body = probes.minimal(model, limit=None, **{limit_field: 4096})
    _limited(client, recorder, model, body, limit_field, f"P-MIN {limit_field}=4096")


BAD_LIMITS = [(f, v) for f in LIMITS for v in (0, -1, 1.5)]


@pytest.mark.rules("PARAM-003")
@pytest.mark.parametrize("limit_field,value", BAD_LIMITS, ids=[f"{f}={v}" for f, v in BAD_LIMITS])
def test_invalid_token_limit_rejected(client, model, limit_field, value):
    """PARAM-003: a token limit <= 0 or not an integer → 400 + envelope."""
    client.chat(
        probes.minimal(model, limit=None, **{limit_field: value}),
        label=f"{limit_field}={value}",
        refuse="PARAM-003",
        param=limit_field,
    )


# -- stop ------------------------------------------------------------------------------------------
STOP_FORMS = [
    ("string", "\n\n"),
    ("array of 1", ["\n\n"]),
    ("array of 4", ["\n\n", "###", "END", "<|stop|>"]),
    ("null", None),
]


@pytest.mark.rules("PARAM-004")
@pytest.mark.parametrize("what,stop", STOP_FORMS, ids=[s[0] for s in STOP_FORMS])
def test_stop_forms_accepted(client, model, what, stop):
    """PARAM-004: stop accepts a string, an array of 1-4 strings, or null."""
    client.chat(probes.minimal(model, stop=stop), label=f"stop {what}", accept="PARAM-004")


_WORD = re.compile(r"[A-Za-z0-9]{2,}")


def _text(ex) -> str:
    body = ex.json if isinstance(ex.json, dict) else {}
    for ch in body.get("choices") or []:
        msg = ch.get("message") if isinstance(ch, dict) else None
        if isinstance(msg, dict) and isinstance(msg.get("content"), str):
            return msg["content"]
    return ""


def _word_stop(text: str) -> str | None:
    """A word from the middle of an answer (not its first word, so the cut answer is non-empty)."""
    words = [m for m in _WORD.finditer(text) if m.start() > 0]
    return words[len(words) // 2].group(0) if words else None


def _spanning_stop(text: str) -> str | None:
    """The end of one word, the space and the start of the next, from the middle of an
    answer: a stop string that spans a token boundary (and two chunks of a stream)."""
    pairs = [
        (a, b)
        for a, b in zip(_WORD.finditer(text), list(_WORD.finditer(text))[1:])
        if a.start() > 0 and text[a.end() : b.start()] == " "
    ]
    if not pairs:
        return None
    a, b = pairs[len(pairs) // 2]
    return text[a.end() - 2 : b.start() + 2]


def _seeded(model, **extra):
    return probes.with_messages(
        model,
        [{"role": "user", "content": "Count from 1 to 20 separated by commas."}],
        limit=24,
        temperature=0,
        seed=11,
        **extra,
    )


# Decoys that no answer contains: the real stop sequence is placed last, so a server
# that honours only the first entry of the list is caught.
DECOYS = ["\u2603zq1", "\u2603zq2", "\u2603zq3"]


def _stop_probe(client, model, recorder, pick, stream: bool = False, last_of_four: bool = False):
    """A stop sequence taken from a seeded answer, sent with the same request again."""
    first = client.chat(_seeded(model), label="stop: first answer", accept="REQ-001")
    stop = pick(_text(first)) or ","
    body = _seeded(model, stop=DECOYS + [stop] if last_of_four else [stop], **({"stream": True} if stream else {}))
    second = client.chat(body, label=f"stop {stop!r}{' streamed' if stream else ''}", accept="PARAM-004")
    recorder.relate("stop_where_the_text_had_it", first, second)


@pytest.mark.rules("PARAM-005")
@pytest.mark.parametrize("last_of_four", [False, True], ids=["single", "last-of-four"])
def test_stop_is_honoured(client, model, recorder, last_of_four):
    """PARAM-005: a stop sequence taken from a seeded answer is not in the returned text.
    Also as the last of four entries: every entry of the list counts."""
    _stop_probe(client, model, recorder, _word_stop, last_of_four=last_of_four)


@pytest.mark.rules("PARAM-005")
@pytest.mark.needs("streaming")
def test_stop_is_honoured_streamed(client, model, recorder):
    """PARAM-005 (streamed): the stop sequence is absent from the assembled stream."""
    _stop_probe(client, model, recorder, _word_stop, stream=True)


STREAMED = [pytest.param(False, id="plain"), pytest.param(True, id="streamed", marks=pytest.mark.needs("streaming"))]


@pytest.mark.rules("PARAM-005")
@pytest.mark.parametrize("stream", STREAMED)
def test_stop_spanning_two_tokens(client, model, recorder, stream):
    """PARAM-005: a stop string spanning a token boundary ("um do" of "ipsum dolor"), so two
    chunks of a stream, is caught like one inside a token."""
    _stop_probe(client, model, recorder, _spanning_stop, stream=stream)


BAD_STOPS = [("five stops", ["a", "b", "c", "d", "e"]), ("empty array", [])]


@pytest.mark.rules("PARAM-006")
@pytest.mark.parametrize("what,stop", BAD_STOPS, ids=[s[0] for s in BAD_STOPS])
def test_bad_stop_rejected(client, model, what, stop):
    """PARAM-006: stop with more than 4 entries, or [], → 400 + envelope."""
    client.chat(probes.minimal(model, stop=stop), label=f"stop {what}", refuse="PARAM-006", param="stop")


# -- n ------------------------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-007")
def test_n_accepted(client, model):
    """PARAM-007: n (integer 1-128) is accepted (n: 2 → 200)."""
    client.chat(probes.minimal(model, n=2), label="n=2", accept="PARAM-007")


@pytest.mark.rules("PARAM-007", "PARAM-008")
def test_n_choices_indexed(client, model):
    """PARAM-008: the response carries exactly n choices with distinct indexes 0..n-1 (n: 3)."""
    client.chat(probes.minimal(model, n=3), label="n=3", accept="PARAM-007")


@pytest.mark.rules("PARAM-007", "PARAM-008")
def test_n_with_greedy_sampling(client, model):
    """PARAM-007: n > 1 with temperature 0 is a valid combination (the choices may all be
    alike), never refused ("n must be 1 when using greedy sampling")."""
    client.chat(probes.minimal(model, n=2, temperature=0, limit=2), label="n=2 temperature 0", accept="PARAM-007")


@pytest.mark.rules("PARAM-007", "PARAM-008")
def test_n_at_its_maximum(client, model):
    """PARAM-007/008: n: 128 (the documented maximum) → 128 choices, one token each."""
    client.chat(probes.minimal(model, n=128, limit=1), label="n=128 limit 1", accept="PARAM-007")


BAD_N = [0, 129, 1.5]


@pytest.mark.rules("PARAM-009")
@pytest.mark.parametrize("n", BAD_N)
def test_bad_n_rejected(client, model, n):
    """PARAM-009: n of 0, 129 or a non-integer → 400 + envelope."""
    client.chat(probes.minimal(model, n=n), label=f"n={n}", refuse="PARAM-009", param="n")


@pytest.mark.rules("PARAM-009")
def test_n_unsupported_is_refused(client, model, recorder, target):
    """PARAM-009: a server that supports only n: 1 answers 400 for n > 1, not a single choice."""
    if target.claims("n"):
        pytest.skip("not applicable: the target claims n; this probe is for servers that support only n: 1")
    ex = client.chat(probes.minimal(model, n=2), label="n=2 (n not claimed)")
    recorder.relate("n_refused_or_honoured", ex)


# -- sampling --------------------------------------------------------------------------------------
EDGES = [
    ("temperature", 0),
    ("temperature", 0.7),
    ("temperature", 2),
    ("temperature", 1),
    ("temperature", 1.0),
    ("temperature", 2.0),
    ("top_p", 0),
    ("top_p", 0.5),
    ("top_p", 1),
    ("top_p", 1.0),
    ("presence_penalty", -2),
    ("presence_penalty", 2),
    ("presence_penalty", 0.0),
    ("frequency_penalty", -2),
    ("frequency_penalty", 2),
    ("frequency_penalty", -2.0),
]


@pytest.mark.rules("PARAM-010")
@pytest.mark.parametrize("field,value", EDGES, ids=[f"{f}={v!r}" for f, v in EDGES])
def test_sampling_edges_accepted(client, model, field, value):
    """PARAM-010: temperature in [0, 2], top_p in [0, 1], penalties in [-2, 2], both ends included, as integer or decimal JSON numbers."""
    client.chat(probes.minimal(model, **{field: value}), label=f"{field}={json.dumps(value)}", accept="PARAM-010")


OUT_OF_RANGE = [
    ("temperature", -0.1),
    ("temperature", 2.1),
    ("top_p", 1.5),
    ("top_p", -0.1),
    ("presence_penalty", 2.5),
    ("presence_penalty", -2.5),
    ("frequency_penalty", 2.5),
    ("frequency_penalty", -2.5),
]


@pytest.mark.rules("PARAM-011")
@pytest.mark.parametrize("field,value", OUT_OF_RANGE, ids=[f"{f}={v}" for f, v in OUT_OF_RANGE])
def test_sampling_out_of_range_rejected(client, model, field, value):
    """PARAM-011: a sampling value outside its range → 400 + envelope with param naming the field."""
    client.chat(probes.minimal(model, **{field: value}), label=f"{field}={value}", refuse="PARAM-011", param=field)


# -- logit_bias ------------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-012")
@pytest.mark.parametrize("bias", [{"1": -100, "2": 100}, {"3": 5}, {}], ids=["ends", "small", "empty"])
def test_logit_bias_accepted(client, model, bias):
    """PARAM-012: logit_bias accepts an object mapping token-id strings to integers (low ids: in every vocabulary)."""
    client.chat(probes.minimal(model, logit_bias=bias), label=f"logit_bias {bias}", accept="PARAM-012")


@pytest.mark.rules("PARAM-013")
@pytest.mark.parametrize("value", [101, -101])
def test_logit_bias_out_of_range_rejected(client, model, value):
    """PARAM-013: logit_bias values lie in -100..100; outside → 400."""
    client.chat(
        probes.minimal(model, logit_bias={"1": value}),
        label=f"logit_bias {value}",
        refuse="PARAM-013",
        param="logit_bias",
    )


@pytest.mark.rules("PARAM-013")
def test_logit_bias_key_not_a_token_rejected(client, model):
    """PARAM-013: logit_bias keys are token ids; a key that is none ("hello") → 400, not ignored."""
    client.chat(
        probes.minimal(model, logit_bias={"hello": 1}),
        label="logit_bias key 'hello'",
        refuse="PARAM-013",
        param="logit_bias",
    )


# -- leniency: a value of the wrong JSON type, or beyond its integer format ------------------------
# A server that takes these (clamps, coerces, ignores them) breaks the SHOULD rule about
# refusing them (REQ-004), never the MUST rule that the field is accepted: the request
# was invalid, so nothing it asked for binds the answer.
WRONG_VALUES = [
    ("seed 2**63", {"seed": 2**63}, "seed"),
    ("seed -2**63-1", {"seed": -(2**63) - 1}, "seed"),
    ("seed 1.5", {"seed": 1.5}, "seed"),
    ("stop 7", {"stop": 7}, "stop"),
    ("stop [7]", {"stop": [7]}, "stop"),
    ("logit_bias value 1.5", {"logit_bias": {"1": 1.5}}, "logit_bias"),
    ("logit_bias value 'x'", {"logit_bias": {"1": "x"}}, "logit_bias"),
    ("logprobs 'yes'", {"logprobs": "yes"}, "logprobs"),
    ("content 5", {"messages": [{"role": "user", "content": 5}]}, "messages"),
]


@pytest.mark.rules("REQ-004")
@pytest.mark.parametrize("what,extra,param", WRONG_VALUES, ids=[w[0] for w in WRONG_VALUES])
def test_wrong_value_types_rejected(client, model, what, extra, param):
    """REQ-004: a known field of the wrong JSON type, or an integer beyond its int64 format
    (seed), → 400 naming the field; clamping or coercing it is lenient, not conformant."""
    client.chat(probes.minimal(model, **extra), label=what, refuse="REQ-004", param=param)


# -- logprobs --------------------------------------------------------------------------------------
@pytest.mark.rules("PARAM-014")
@pytest.mark.parametrize("top", [0, 1, 20])
def test_logprobs_accepted(client, model, top):
    """PARAM-014: logprobs (boolean) and top_logprobs (integer 0-20) are accepted."""
    client.chat(probes.minimal(model, logprobs=True, top_logprobs=top), label=f"logprobs top {top}", accept="PARAM-014")


@pytest.mark.rules("PARAM-016")
def test_logprobs_shape(client, model):
    """PARAM-016: choices[].logprobs is {content, refusal}; every entry has token, logprob, bytes and top_logprobs."""
    client.chat(probes.minimal(model, logprobs=True, top_logprobs=2), label="logprobs top 2", accept="PARAM-014")


@pytest.mark.rules("PARAM-017")
@pytest.mark.parametrize("top", [0, 2, 5, 20])
def test_logprobs_values(client, model, top):
    """PARAM-017: logprob <= 0; bytes are the token's UTF-8; at most top_logprobs alternatives,
    fewer only in some cases (top 20: the maximum); the tokens joined reproduce message.content."""
    client.chat(probes.minimal(model, logprobs=True, top_logprobs=top), label=f"logprobs top {top}", accept="PARAM-014")


@pytest.mark.rules("PARAM-016", "PARAM-017", "PARAM-019")
@pytest.mark.needs("streaming")
@pytest.mark.parametrize("top", [1, 20])
def test_streamed_logprobs(client, model, top):
    """PARAM-016/017 (streamed): each chunk's logprobs has the shape and values of a plain
    answer's; PARAM-019: the content chunks carry logprobs.content, and the tokens joined over
    the stream reproduce the streamed content."""
    client.chat(
        probes.stream(model, logprobs=True, top_logprobs=top), label=f"stream logprobs top {top}", accept="PARAM-014"
    )


BAD_TOP = [
    ("top_logprobs without logprobs", {"top_logprobs": 2}),
    ("top_logprobs with logprobs false", {"logprobs": False, "top_logprobs": 2}),
    ("top_logprobs 21", {"logprobs": True, "top_logprobs": 21}),
    ("top_logprobs -1", {"logprobs": True, "top_logprobs": -1}),
]


@pytest.mark.rules("PARAM-015")
@pytest.mark.parametrize("what,extra", BAD_TOP, ids=[b[0] for b in BAD_TOP])
def test_bad_top_logprobs_rejected(client, model, what, extra):
    """PARAM-015: top_logprobs without logprobs: true, or above 20 → 400 + envelope."""
    client.chat(probes.minimal(model, **extra), label=what, refuse="PARAM-015", param="top_logprobs")


@pytest.mark.rules("PARAM-018")
@pytest.mark.parametrize("stream", STREAMED)
@pytest.mark.parametrize("extra", [{}, {"logprobs": False}], ids=["absent", "false"])
def test_no_logprobs_is_null(client, model, extra, stream):
    """PARAM-018: without logprobs, choices[].logprobs is null (in every chunk of a stream)."""
    body = probes.stream(model, **extra) if stream else probes.minimal(model, **extra)
    client.chat(
        body,
        label=f"logprobs {extra or 'absent'}{' streamed' if stream else ''}",
        accept="STREAM-001" if stream else "REQ-001",
    )


# -- seed, response_format text, response_format validation --------------------------------
@pytest.mark.rules("PARAM-020")
def test_seed_accepted(client, model):
    """PARAM-020: seed (integer) is accepted."""
    client.chat(probes.minimal(model, seed=42), label="seed 42", accept="PARAM-020")


@pytest.mark.rules("PARAM-021", "PARAM-020")
def test_seed_determinism(client, model, recorder):
    """PARAM-021 (MAY, informational): the same seed and parameters give best-effort identical output."""
    body = probes.minimal(model, seed=42, temperature=0)
    a = client.chat(body, label="seed 42 first", accept="PARAM-020")
    b = client.chat(body, label="seed 42 second", accept="PARAM-020")
    recorder.relate("seeded_answers_compared", a, b)


@pytest.mark.rules("PARAM-022")
def test_response_format_text(client, model):
    """PARAM-022: response_format {"type": "text"} is accepted and behaves as the default (a text answer)."""
    client.chat(
        probes.minimal(model, response_format={"type": "text"}), label="response_format text", accept="PARAM-022"
    )


BAD_FORMATS = [
    ("unknown type", {"type": "xml"}),
    (
        "json_schema without name",
        {"type": "json_schema", "json_schema": {"schema": {"type": "object"}, "strict": True}},
    ),
    ("json_schema without json_schema", {"type": "json_schema"}),
    ("no type", {"json_schema": {"name": "x", "schema": {"type": "object"}}}),
]


@pytest.mark.rules("PARAM-027")
@pytest.mark.parametrize("what,rf", BAD_FORMATS, ids=[b[0] for b in BAD_FORMATS])
def test_bad_response_format_rejected(client, model, what, rf):
    """PARAM-027: an unknown response_format.type, or json_schema without json_schema.name → 400 + envelope."""
    client.chat(
        probes.minimal(model, response_format=rf),
        label=f"response_format {what}",
        refuse="PARAM-027",
        param="response_format",
    )


# -- optional fields ---------------------------------------------------------------------------------
OPTIONAL = [
    ("user", "chatconform-user"),
    ("safety_identifier", "chatconform-sid-0001"),
    ("prompt_cache_key", "chatconform"),
    ("prompt_cache_retention", "in_memory"),
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
    ex = client.chat(probes.minimal(model, **{field: value}), label=f"{field}={json.dumps(value)[:30]}")
    recorder.relate("optional_field_tolerated", ex)
