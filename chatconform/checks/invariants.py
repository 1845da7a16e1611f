"""Invariants that follow from the request, checked on every answer, streamed or not.

They hold for any model, because the server enforces them: a token limit, stop
sequences, tool_choice, parallel_tool_calls, logprobs, JSON modes.  What depends on the
model (a tool call's arguments under `auto`) is a Note, never a failure.
"""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from ..violations import Note, Violation, short
from . import check, ok_json, ok_stream, req, valid_request
from .stream import _assembled


def _answer(ex):
    """The answer as a non-streaming body (assembled for streams), or None."""
    if ex.is_stream:
        return _assembled(ex).as_response()
    return ex.json if isinstance(ex.json, dict) else None


def _choices(body):
    out = []
    for ch in body.get("choices") or []:
        if isinstance(ch, dict) and isinstance(ch.get("message"), dict):
            out.append(ch)
    return out


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def answered(ex) -> bool:
    return (ok_json(ex) or (ok_stream(ex) and not ex.truncated)) and valid_request(ex)


@check("PARAM-001", "PARAM-002", applies=answered)
def token_limit(ex):
    r = req(ex)
    # Only valid limits bind: an invalid one (0, -1) is the business of PARAM-003.
    limits = [(k, r[k]) for k in ("max_tokens", "max_completion_tokens") if _is_int(r.get(k)) and r[k] >= 1]
    if not limits:
        return
    name, limit = min(limits, key=lambda kv: kv[1])
    body = _answer(ex)
    if not body:
        return
    usage = body.get("usage")
    n = r.get("n") if _is_int(r.get("n")) else 1
    if isinstance(usage, dict) and _is_int(usage.get("completion_tokens")):
        # completion_tokens counts all n choices together.
        if usage["completion_tokens"] > limit * max(1, n):
            yield Violation("PARAM-001", f"completion_tokens <= {name} ({limit}{' x n=' + str(n) if n > 1 else ''})",
                            str(usage["completion_tokens"]), "/usage/completion_tokens")
    if limit == 1 and not r.get("stop"):      # a stop sequence inside that one token ends it with "stop" legitimately
        # One token allowed: a visible token means the limit ended the answer (an
        # end-of-sequence token shows no text), so the reason must be "length".
        for ch in _choices(body):
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
    body = _answer(ex)
    for ch in _choices(body or {}):
        content = ch["message"].get("content")
        if isinstance(content, str):
            for s in stops:
                if s in content:
                    at = content.index(s)
                    yield Violation("PARAM-005", f"no stop sequence {s!r} in the returned text",
                                    f"found at offset {at}: …{short(content[max(0, at - 20): at + 20])}…", f"/choices/{ch.get('index')}/message/content")
                    break


def _tools(r):
    out = {}
    for t in r.get("tools") or []:
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str):
            out[t["function"]["name"]] = t["function"]
    return out


@check("TOOL-006", "TOOL-007", "TOOL-008", "TOOL-011", "TOOL-012", "TOOL-013", "TOOL-015", "TOOL-021", "TOOL-023", applies=answered)
def tool_choice_honoured(ex):
    r = req(ex)
    tools = _tools(r)
    if not tools and not r.get("tools"):
        return
    body = _answer(ex)
    if not body:
        return
    choice = r.get("tool_choice")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) and isinstance(choice.get("function"), dict) else None
    forced = choice == "required" or named is not None
    stream = ex.is_stream
    for ch in _choices(body):
        i = ch.get("index")
        calls = [c for c in ch["message"].get("tool_calls") or [] if isinstance(c, dict)]
        fr = ch.get("finish_reason")
        where = f"/choices/{i}/message/tool_calls"
        if choice == "none" and calls:
            yield Violation("TOOL-011", 'no tool_calls under tool_choice "none"', f"{len(calls)} call(s)", where)
        if choice == "required" and not calls and fr != "length":
            yield Violation("TOOL-012", 'at least one tool call under tool_choice "required"', f"no tool_calls (finish_reason {fr!r})", where)
        if named is not None and named in tools:   # a name not offered is TOOL-014's business
            names = [c.get("function", {}).get("name") for c in calls if isinstance(c.get("function"), dict)]
            if fr != "length" and (not names or any(n != named for n in names)):
                yield Violation("TOOL-013", f"a call to exactly {named!r}", f"calls to {names}", where)
        if r.get("parallel_tool_calls") is False and len(calls) > 1:
            yield Violation("TOOL-015", "at most one tool call with parallel_tool_calls: false", f"{len(calls)} calls", where)
        ids = [c.get("id") for c in calls]
        if any(not x for x in ids) or len(set(map(str, ids))) != len(ids):
            yield Violation("TOOL-007", "non-empty, unique tool-call ids", short(ids), where)
        if calls:
            ok = {"tool_calls", "stop"} if named is not None else {"tool_calls"}
            if fr not in ok and fr != "length":
                rule = "TOOL-023" if stream else "TOOL-008"
                yield Violation(rule, f"finish_reason {' or '.join(sorted(ok))} after tool calls", repr(fr), f"/choices/{i}/finish_reason")
        for k, call in enumerate(calls):
            fn = call.get("function") if isinstance(call.get("function"), dict) else {}
            name, args = fn.get("name"), fn.get("arguments")
            loc = f"{where}/{k}/function"
            if name not in tools:
                item = Violation("TOOL-006", f"a call to an offered tool ({', '.join(tools)})", repr(name), f"{loc}/name")
                yield item if forced else Note("TOOL-006", f"call to a tool that was not offered: {name!r} (under tool_choice {choice!r}: the model's choice)")
                continue
            if not isinstance(args, str):
                continue                  # TOOL-005, the schema's business
            if fr == "length":
                continue                  # arguments cut by the token limit cannot be complete
            try:
                parsed = json.loads(args) if args.strip() else {}
            except ValueError:
                rule = "TOOL-021" if stream else "TOOL-006"
                v = Violation(rule, "arguments that parse as a JSON object", f"unparsable: {short(args, 80)}", f"{loc}/arguments")
                yield v if forced or fn_strict(tools[name]) else Note(rule, f"model wrote unparsable arguments under tool_choice {choice!r}: {short(args, 60)}")
                continue
            if not isinstance(parsed, dict):
                yield Violation("TOOL-006", "arguments that parse as a JSON object", short(parsed, 80), f"{loc}/arguments")
                continue
            params = tools[name].get("parameters")
            if isinstance(params, dict):
                errs = list(Draft202012Validator(params).iter_errors(parsed))
                if errs:
                    # Only strict mode promises schema-valid arguments (TOOL-006); without
                    # it, even a forced call's arguments are the model's quality.
                    v = Violation("TOOL-006", f"arguments valid against {name}'s parameters (strict: true)", errs[0].message, f"{loc}/arguments")
                    yield v if fn_strict(tools[name]) else Note("TOOL-006", f"arguments do not match {name}'s schema (not strict): {errs[0].message}")


def fn_strict(fn: dict) -> bool:
    return fn.get("strict") is True


@check("PARAM-016", "PARAM-017", "PARAM-018", applies=lambda ex: ok_json(ex) and valid_request(ex))
def logprobs_shape(ex):
    r = req(ex)
    body = _answer(ex)
    if not body:
        return
    want = r.get("logprobs") is True
    top = r.get("top_logprobs") if _is_int(r.get("top_logprobs")) else 0
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


@check("PARAM-024", "PARAM-026", applies=answered)
def json_modes(ex):
    rf = req(ex).get("response_format")
    if not isinstance(rf, dict) or rf.get("type") not in ("json_object", "json_schema"):
        return
    body = _answer(ex)
    for ch in _choices(body or {}):
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
