"""Error answers (ERR): the envelope of the chat operation's errors, what the error
object says, the class of the status, rate limits, server errors, unknown paths and
what an error must not disclose.

Each rule is judged where it is about: ERR-001/002/003 on the answers of the chat
operation (POST {base}/chat/completions); ERR-010 on a path the test declares unknown;
ERR-006/007 on any 429; ERR-009 on any 5xx; ERR-012 on any error answer.  ERR-004 and
ERR-011 need to know why the request was refused, so they are judged where the test
declared it (a `refuse=` intent whose rule names the statuses it expects).
"""

from __future__ import annotations

import re

from .. import rules as rules_mod, schemas
from ..violations import Note, NotJudged, Violation, short
from . import check, is_chat, is_error, req
from .intent import NAMES_PARAM, RETRIED, answered, error_object, first_segment, names


def _text(ex, limit: int = 120) -> str:
    return short(ex.body[:limit].decode("utf-8", "replace"))


def _json_media(ex) -> bool:
    return ex.media_type == "application/json" or ex.media_type.endswith("+json")


def envelope_faults(ex):
    """(expected, actual, where) for each way the answer is not the JSON error envelope."""
    if not _json_media(ex):
        yield (
            "an error body with Content-Type application/json",
            f"{ex.headers.get('content-type')!r}: {_text(ex)}",
            "headers/content-type",
        )
    if ex.json_error or ex.json is None:
        yield 'a JSON body {"error": {...}}', f"unparsable body {_text(ex)}", "body"
        return
    for err in schemas.errors("error", ex.json):
        yield _ENVELOPE, err.message, err.pointer


_ENVELOPE = 'the envelope {"error": {"message": str, "type": str, "param": str|null, "code": str|null}}'


def chat_error(ex) -> bool:
    return is_chat(ex) and is_error(ex)


# -- the chat operation's errors -----------------------------------------------------------------
@check("ERR-001", "ERR-002", applies=chat_error)
def error_envelope(ex):
    """Every error of the chat operation is the JSON envelope with the four keys.  Other
    paths have their own rules (ERR-010 for an unknown path, ERR-009 for a server error)."""
    if not _json_media(ex):
        yield Violation(
            "ERR-001",
            "an error body with Content-Type application/json",
            f"{ex.headers.get('content-type')!r}: {_text(ex)}",
            "headers/content-type",
        )
    if ex.json_error or ex.json is None:
        yield Violation("ERR-001", 'a JSON body {"error": {...}}', f"unparsable body {_text(ex)}", "body")
        raise NotJudged("no error object to read", ("ERR-002",))
    for err in schemas.errors("error", ex.json):
        yield Violation(err.rule, _ENVELOPE, f"{err.message}", err.pointer)
    if error_object(ex) is None:
        yield NotJudged("no error object to read", ("ERR-002",))


# An internal exception's text: what a crash says, not what was wrong with the request.
EXCEPTION_TEXT = re.compile(
    "|".join(
        (
            r"Traceback \(most recent call last\)",
            r"\bobject has no attribute\b",
            r"'NoneType' object",
            r"\bobject is not (?:subscriptable|iterable|callable)\b",
            r"(?:^|\s)(?:[\w.]+\.)?(?:Attribute|Key|Type|Value|Index|Name|ZeroDivision|Runtime|Assertion|UnboundLocal|Recursion"
            r"|NotImplemented|ModuleNotFound|Import|JSONDecode|Lookup|UnicodeDecode|UnicodeEncode|Overflow)Error: ",
            r"\b(?:java|javax|kotlin|scala)\.[\w.]+(?:Exception|Error)\b",
            r"\bNullPointerException\b",
            r"Cannot read propert(?:y|ies) of (?:undefined|null)",
            r"\bundefined is not (?:a function|an object)\b",
            r"\bpanic: ",
            r"nil pointer dereference",
            r"\bSegmentation fault\b",
        )
    )
)

# Where the code is: a traceback frame, a source file with its line, a stack frame.
SOURCE_PLACE = re.compile(
    "|".join(
        (
            r'File "[^"\n]+", line \d+',
            r"(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}\.(?:py|js|mjs|cjs|ts|go|java|rb|rs|php|cs|kt|scala|cc|cpp|c|h)"
            r"(?::\d+|\"?,? line \d+)",
            r"\bat [\w$.<>]+ ?\([^()\n]*\.\w{1,6}:\d+(?::\d+)?\)",
            r"\bgoroutine \d+ \[",
        )
    )
)


def leak_in(text: str) -> str | None:
    """The first place in `text` that discloses the server's internals, or None."""
    m = SOURCE_PLACE.search(text) or EXCEPTION_TEXT.search(text)
    return m.group(0).strip() if m else None


def _known_fields(ex) -> set[str]:
    props = set((schemas.load("request").get("properties") or {}))
    return props | set(req(ex))


# What a framework prefixes its validation locations with (FastAPI's loc: body.messages.0).
NOT_A_FIELD = ("None", "null", "undefined", "nil", "")
# Fields whose refusal api.openai.com itself sends with param null: a missing model ("you
# must provide a model parameter") and an unknown one ("The model `x` does not exist or you
# do not have access to it.", code model_not_found).  Null is the API's answer there; a
# param naming another field is still wrong.
NULL_PARAM_OK = frozenset({"model"})


@check("ERR-003", applies=chat_error)
def error_fields(ex):
    """error.message a non-empty, human-readable description (not the text of an
    internal exception); error.param the offending request field or null: never the
    string "None", never a framework's location such as body.messages.0.content, and
    the field the test's invalid request is about when the test names one."""
    err = error_object(ex)
    if err is None:
        raise NotJudged("no error object to read (ERR-001's business)")
    msg = err.get("message")
    if isinstance(msg, str):
        if not msg.strip():
            yield Violation("ERR-003", "a non-empty, human-readable error.message", repr(msg), "/error/message")
        else:
            m = EXCEPTION_TEXT.search(msg)
            if m:
                yield Violation(
                    "ERR-003",
                    "an error.message describing what was wrong with the request",
                    f"the text of an internal exception: {short(msg, 120)}",
                    "/error/message",
                )
    param = err.get("param")
    # A 429/503 turns the request away before reading it: it owes no field name.  Where the
    # refusal's own rule names the field (NAMES_PARAM), that rule owns the fact (intent.py).
    refused = ex.intent is not None and ex.intent.kind == "refuse" and ex.status not in (429, 503)
    want = ex.intent.param if refused and ex.intent.rule not in NAMES_PARAM else None
    if isinstance(param, str):
        seg = first_segment(param)
        if param.strip() in NOT_A_FIELD or seg in NOT_A_FIELD:
            yield Violation("ERR-003", "error.param naming a request field, or null", repr(param), "/error/param")
        elif seg not in _known_fields(ex):
            yield Violation(
                "ERR-003",
                'error.param naming a request field (e.g. "messages.[0].content"), or null',
                f"{param!r}: {seg!r} is not a field of the request",
                "/error/param",
            )
        elif want and not names(param, want):
            yield Violation("ERR-003", f"error.param naming the offending field {want!r}", repr(param), "/error/param")
    elif want and param is None and want not in NULL_PARAM_OK:
        yield Violation("ERR-003", f"error.param naming the offending field {want!r}", "null", "/error/param")


def refusal_rule(ex):
    """The catalogue rule a `refuse=` intent names, if it names the statuses it expects."""
    if ex.intent is None or ex.intent.kind != "refuse":
        return None
    rule = rules_mod.catalogue().get(ex.intent.rule)
    return rule if rule is not None and rule.statuses else None


def invalid_request(ex) -> bool:
    """A refusal of an invalid request: the rule the test names expects 400 first."""
    rule = refusal_rule(ex)
    return rule is not None and rule.statuses[0] == 400


@check("ERR-004", applies=lambda ex: answered(ex) and 400 <= ex.status < 500 and invalid_request(ex))
def invalid_request_error(ex):
    """An invalid request is refused with 400 and type invalid_request_error."""
    if ex.status != 400:
        yield Violation("ERR-004", "HTTP 400 for an invalid request", f"HTTP {ex.status}", "status")
    err = error_object(ex)
    if err is None:
        return
    if isinstance(err.get("type"), str) and err["type"] != "invalid_request_error":
        yield Violation(
            "ERR-004", 'error.type "invalid_request_error" for an invalid request', repr(err["type"]), "/error/type"
        )


# The SDK's exception class for each status (openai._client._make_status_error).
SDK_CLASS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}
# 400 and 422 are both "the request is invalid": a rule naming one accepts the other's class.
SAME_CAUSE = {400: {400, 422}, 422: {400, 422}}


def sdk_class(status: int) -> str:
    if status >= 500:
        return "InternalServerError"
    return SDK_CLASS.get(status, "APIStatusError")


@check("ERR-011", applies=lambda ex: answered(ex) and ex.status >= 400 and refusal_rule(ex) is not None)
def status_class(ex):
    """The status of a refusal is of the class its cause maps to (the cause: the rule the
    test's refusal names, with the statuses it expects)."""
    rule = refusal_rule(ex)
    allowed = set()
    for s in rule.statuses:
        allowed |= SAME_CAUSE.get(s, {s})
    if ex.status not in allowed:
        classes = sorted({sdk_class(s) for s in allowed})
        yield Violation(
            "ERR-011",
            f"a status of the class its cause maps to ({' or '.join(classes)}, for {rule.id})",
            f"HTTP {ex.status} ({sdk_class(ex.status)})",
            "status",
        )


# -- any path ---------------------------------------------------------------------------------------
QUOTA = re.compile(r"quota|billing|budget|credit|balance|insufficient|exhausted|payment", re.I)
QUOTA_MESSAGE = re.compile(
    r"(?:exceeded|insufficient|exhausted|out of|no (?:more|remaining))\W+(?:\w+\W+){0,4}?"
    r"(?:quota|credits?|budget|balance)|billing|payment required",
    re.I,
)
PER_WINDOW = re.compile(r"per (?:second|minute|hour|day)|/(?:s|min|h)\b|\b[RT]PM\b|requests per|tokens per", re.I)


@check("ERR-006", "ERR-007", applies=lambda ex: ex.status is not None)
def rate_limited(ex):
    """A 429 (any path): the envelope, and a Retry-After, when sent, an integer >= 1
    (ERR-006).  A 429 retrying cannot fix (quota or budget exhausted, or the server's own
    x-should-retry: false) says so in its type or code (ERR-007)."""
    if ex.status != 429:
        raise NotJudged("no 429 met (judged on every 429 any test meets)")
    for expected, actual, where in envelope_faults(ex):
        yield Violation("ERR-006", f"a 429 with {expected}", actual, where)
    if "retry-after" in ex.headers:
        value = ex.headers["retry-after"].strip()
        if not (value.isdigit() and int(value) >= 1):
            yield Violation("ERR-006", "Retry-After: an integer >= 1", repr(value), "headers/retry-after")
    err = error_object(ex) or {}
    msg = err.get("message") if isinstance(err.get("message"), str) else ""
    said = " ".join(v for v in (err.get("type"), err.get("code")) if isinstance(v, str))
    no_retry = ex.headers.get("x-should-retry", "").strip().lower() == "false"
    quota = no_retry or (QUOTA_MESSAGE.search(msg) and not PER_WINDOW.search(msg))
    if not quota:
        raise NotJudged("a 429 retrying can fix (a rate limit, not an exhausted quota)", ("ERR-007",))
    if not QUOTA.search(said):
        why = "x-should-retry: false" if no_retry else f"the message says {short(msg, 80)}"
        yield Violation(
            "ERR-007",
            'a quota 429 saying so in error.type or error.code (api.openai.com: "insufficient_quota")',
            f"type {err.get('type')!r}, code {err.get('code')!r}, although {why}",
            "/error/type",
        )
    if no_retry:
        yield Note("ERR-007", "a 429 with x-should-retry: false (the SDK will not retry it)")


@check("ERR-009", applies=lambda ex: ex.status is not None)
def server_error(ex):
    """A server-side failure (any path) is a 5xx with the envelope; the SDK retries it."""
    if ex.status < 500:
        raise NotJudged("no 5xx met (judged on every server error any test meets)")
    for expected, actual, where in envelope_faults(ex):
        yield Violation("ERR-009", f"a {ex.status} with {expected}", actual, where)
    err = error_object(ex)
    if err is not None and ex.status not in RETRIED:
        yield Note("ERR-009", f"HTTP {ex.status}, error.type {err.get('type')!r}: {short(err.get('message'), 100)}")


@check(
    "ERR-010",
    applies=lambda ex: answered(ex) and is_error(ex) and ex.intent is not None and ex.intent.rule == "ERR-010",
)
def unknown_path(ex):
    """An unknown path under the base URL: 404 (the intent check) with the envelope."""
    for expected, actual, where in envelope_faults(ex):
        yield Violation("ERR-010", f"an unknown path answered with {expected}", actual, where)


@check("ERR-012", applies=is_error)
def no_internals(ex):
    """No error answer (any path) discloses the server's internals: a traceback, a source
    file and line, a stack frame, the text of an internal exception."""
    text = ex.body[: 64 * 1024].decode("utf-8", "replace")
    found = leak_in(text)
    if found:
        yield Violation(
            "ERR-012",
            "an error answer that does not disclose the server's internals",
            f"HTTP {ex.status} body shows {short(found, 120)}",
            "body",
        )


# -- an oversized prompt ------------------------------------------------------------------------------
OVERFLOW_CHARS = 1_000_000  # a prompt this long is beyond the context window of most models
CHARS_PER_TOKEN_MAX = 20  # no tokenizer packs English text into fewer tokens than chars / 20


def prompt_chars(ex) -> int:
    total = 0
    messages = req(ex).get("messages")
    for m in messages if isinstance(messages, list) else []:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            total += len(c)
        elif isinstance(c, list):
            total += sum(len(p.get("text") or "") for p in c if isinstance(p, dict) and isinstance(p.get("text"), str))
    return total


@check("ERR-008", applies=lambda ex: is_chat(ex) and answered(ex) and prompt_chars(ex) > OVERFLOW_CHARS)
def context_overflow(ex):
    """A prompt longer than the context window: refused with 400 (413, a body-size limit,
    is as good), not a 5xx and not answered from a silently truncated prompt.  A 200
    whose usage counts the whole prompt means the context is larger: not judged."""
    rule = rules_mod.get("ERR-008")
    chars = prompt_chars(ex)
    if ex.status == 200:
        body = ex.json if isinstance(ex.json, dict) else {}
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        p = usage.get("prompt_tokens")
        if not isinstance(p, int) or isinstance(p, bool):
            raise NotJudged(f"a {chars}-character prompt was answered and no usage says whether all of it was read")
        if p < chars // CHARS_PER_TOKEN_MAX:
            raise Violation(
                "ERR-008",
                f"a 400 refusal, or an answer to the whole prompt (>= {chars // CHARS_PER_TOKEN_MAX} "
                f"prompt tokens for {chars} characters)",
                f"HTTP 200 with prompt_tokens {p}: the prompt was truncated",
                "/usage/prompt_tokens",
            )
        yield Note(
            "ERR-008", f"a {chars}-character prompt was answered whole (prompt_tokens {p}): the context is larger"
        )
        raise NotJudged("the context window is larger than the prompt sent")
    if ex.status not in rule.statuses:
        raise Violation(
            "ERR-008",
            f"HTTP {'/'.join(map(str, rule.statuses))} for a prompt longer than the context window",
            f"HTTP {ex.status}",
            "status",
        )
