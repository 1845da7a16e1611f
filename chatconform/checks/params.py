"""Parameters (PARAM): what a request's token limit, stop sequences, logprobs and response
format oblige the answer to, streamed or not.  They hold for any model, because the
server enforces them."""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from ..violations import Violation, short
from . import answer_of, answered, check, choices_of, is_int, ok_json, ok_stream, req, valid_request
from .stream import _assembled


@check("PARAM-001", "PARAM-002", applies=answered)
def token_limit(ex):
    r = req(ex)
    # Only valid limits bind: an invalid one (0, -1) is the business of PARAM-003.
    limits = [(k, r[k]) for k in ("max_tokens", "max_completion_tokens") if is_int(r.get(k)) and r[k] >= 1]
    if not limits:
        return
    name, limit = min(limits, key=lambda kv: kv[1])
    body = answer_of(ex)
    if not body:
        return
    usage = body.get("usage")
    n = r.get("n") if is_int(r.get("n")) else 1
    if isinstance(usage, dict) and is_int(usage.get("completion_tokens")):
        # completion_tokens counts all n choices together.
        if usage["completion_tokens"] > limit * max(1, n):
            yield Violation("PARAM-001", f"completion_tokens <= {name} ({limit}{' x n=' + str(n) if n > 1 else ''})",
                            str(usage["completion_tokens"]), "/usage/completion_tokens")
    if limit == 1 and not r.get("stop"):      # a stop sequence inside that one token ends it with "stop" legitimately
        # One token allowed: a visible token means the limit ended the answer (an
        # end-of-sequence token shows no text), so the reason must be "length".
        for ch in choices_of(body):
            content = ch["message"].get("content")
            if isinstance(content, str) and content and not ch["message"].get("tool_calls") \
                    and ch.get("finish_reason") == "stop":
                yield Violation("PARAM-002", f'finish_reason "length" when {name}=1 cut the answer',
                                f'"stop" with content {short(content, 40)}', f"/choices/{ch.get('index')}/finish_reason")


@check("PARAM-005", applies=answered)
def stop_sequences(ex):
    stop = req(ex).get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []
    stops = [s for s in stops if s]
    if not stops:
        return
    body = answer_of(ex)
    for ch in choices_of(body or {}):
        content = ch["message"].get("content")
        if isinstance(content, str):
            for s in stops:
                if s in content:
                    at = content.index(s)
                    yield Violation("PARAM-005", f"no stop sequence {s!r} in the returned text",
                                    f"found at offset {at}: …{short(content[max(0, at - 20): at + 20])}…", f"/choices/{ch.get('index')}/message/content")
                    break


@check("PARAM-016", "PARAM-017", "PARAM-018", applies=lambda ex: ok_json(ex) and valid_request(ex))
def logprobs_shape(ex):
    r = req(ex)
    body = answer_of(ex)
    if not body:
        return
    want = r.get("logprobs") is True
    top = r.get("top_logprobs") if is_int(r.get("top_logprobs")) else 0
    for ch in body.get("choices") or []:
        if not isinstance(ch, dict):
            continue
        i = ch.get("index")
        lp = ch.get("logprobs")
        if not want:
            if lp is not None and "logprobs" in ch:
                yield Violation("PARAM-018", "logprobs null when not requested", short(lp, 80), f"/choices/{i}/logprobs")
            continue
        msg = ch.get("message") if isinstance(ch.get("message"), dict) else {}
        if isinstance(lp, dict) and "content" in lp and lp["content"] is None and not msg.get("content"):
            continue                      # no text (a tool call): content logprobs may be null (PARAM-016)
        if not isinstance(lp, dict) or not isinstance(lp.get("content"), list):
            yield Violation("PARAM-016", "a logprobs object with a content list (logprobs: true)", short(lp, 80), f"/choices/{i}/logprobs")
            continue
        content = (ch.get("message") or {}).get("content") if isinstance(ch.get("message"), dict) else None
        tokens = []
        for k, e in enumerate(lp["content"]):
            if not isinstance(e, dict):
                continue
            tok, val, byts = e.get("token"), e.get("logprob"), e.get("bytes")
            if isinstance(tok, str):
                tokens.append(tok)
            where = f"/choices/{i}/logprobs/content/{k}"
            if isinstance(val, (int, float)) and not isinstance(val, bool) and val > 0:
                yield Violation("PARAM-017", "logprob <= 0", str(val), f"{where}/logprob")
            if isinstance(byts, list) and isinstance(tok, str) and byts != list(tok.encode("utf-8")):
                yield Violation("PARAM-017", "bytes == the UTF-8 bytes of token", f"{short(byts, 40)} for {tok!r}", f"{where}/bytes")
            tl = e.get("top_logprobs")
            if isinstance(tl, list) and len(tl) > top:
                yield Violation("PARAM-017", f"at most top_logprobs={top} alternatives", str(len(tl)), f"{where}/top_logprobs")
            if isinstance(tl, list):
                for alt in tl:
                    if isinstance(alt, dict) and isinstance(alt.get("logprob"), (int, float)) and not isinstance(alt.get("logprob"), bool) and alt["logprob"] > 0:
                        yield Violation("PARAM-017", "logprob <= 0 in top_logprobs", str(alt["logprob"]), f"{where}/top_logprobs")
                        break
        if isinstance(content, str) and tokens and "".join(tokens) != content:
            yield Violation("PARAM-017", "the logprobs tokens joined == message.content", f"{short(''.join(tokens), 60)} vs {short(content, 60)}", f"/choices/{i}/logprobs/content")



@check("PARAM-019", applies=lambda ex: ok_stream(ex) and req(ex).get("logprobs") is True and valid_request(ex))
def stream_logprobs(ex):
    a = _assembled(ex)
    for idx in a.order:
        c = a.choices[idx]
        text = c.text or ""
        if not text:
            continue
        if not c.saw_logprobs:
            yield Violation("PARAM-019", "logprobs.content on the content chunks (logprobs: true)", f"choice {idx}: no logprobs in any chunk", f"choices/{idx}/logprobs")
            continue
        joined = "".join(e.get("token", "") for e in c.logprobs_content if isinstance(e.get("token"), str))
        if joined != text:
            yield Violation("PARAM-019", "the logprobs tokens joined == the streamed content", f"tokens {short(joined, 60)} vs content {short(text, 60)}", f"choices/{idx}/logprobs")


@check("PARAM-024", "PARAM-026", applies=answered)
def json_modes(ex):
    rf = req(ex).get("response_format")
    if not isinstance(rf, dict) or rf.get("type") not in ("json_object", "json_schema"):
        return
    body = answer_of(ex)
    for ch in choices_of(body or {}):
        msg = ch["message"]
        if ch.get("finish_reason") != "stop" or msg.get("tool_calls") or msg.get("refusal"):
            continue                      # a cut or refused answer is not held to the format
        if req(ex).get("stop"):
            continue                      # a stop sequence may legitimately cut the JSON short
        content = msg.get("content")
        where = f"/choices/{ch.get('index')}/message/content"
        rule = "PARAM-024" if rf["type"] == "json_object" else "PARAM-026"
        try:
            parsed = json.loads(content) if isinstance(content, str) else None
        except ValueError:
            parsed = None
        if rf["type"] == "json_object":
            if not isinstance(parsed, dict):
                yield Violation(rule, "content that parses as a JSON object (json_object)", short(content, 80), where)
            continue
        js = rf.get("json_schema") if isinstance(rf.get("json_schema"), dict) else {}
        if parsed is None and content != "null":
            yield Violation(rule, "content that parses as JSON (json_schema)", short(content, 80), where)
            continue
        if js.get("strict") is True and isinstance(js.get("schema"), dict):
            errs = list(Draft202012Validator(js["schema"]).iter_errors(parsed))
            if errs:
                yield Violation(rule, f"content valid against the json_schema {js.get('name')!r}", errs[0].message, where)
