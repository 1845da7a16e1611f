"""Tools (TOOL): what a request's tools and tool_choice oblige the answer to, streamed or not,
and how streamed tool calls are fragmented.  What the model chooses (whether `auto`
calls, which arguments it writes without `strict`) is a Note, never a failure."""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from ..violations import Note, Violation, short
from . import answer_of, answered, check, choices_of, ok_stream, req
from .stream import _assembled


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
    body = answer_of(ex)
    if not body:
        return
    choice = r.get("tool_choice")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) and isinstance(choice.get("function"), dict) else None
    forced = choice == "required" or named is not None
    stream = ex.is_stream
    for ch in choices_of(body):
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



@check("TOOL-019", "TOOL-020", "TOOL-022", applies=ok_stream)
def tool_fragments(ex):
    a = _assembled(ex)
    for idx in a.order:
        c = a.choices[idx]
        order = c.tool_call_order
        for k in order:
            t = c.tool_calls[k]
            if isinstance(k, tuple) and k and k[0] == "missing-index":
                yield Violation("TOOL-019", "an integer index on every delta.tool_calls item", f"a fragment without index in chunk {k[1]}", f"chunk[{k[1]}]/choices/{idx}/delta/tool_calls")
                continue
            if not t.first_has_id_and_name:
                yield Violation("TOOL-020", "id, type and function.name in the first fragment of each tool call",
                                f"choice {idx} call {k}: first fragment lacks {'id' if not t.id else 'function.name'}", f"chunk[{t.first_chunk}]")
            if t.ids_seen > 1 or t.names_seen > 1:
                yield Violation("TOOL-020", "id and function.name exactly once per tool call (clients concatenate repeats)",
                                f"choice {idx} call {k}: id in {t.ids_seen} fragments, name in {t.names_seen}", f"choices/{idx}/tool_calls/{k}")
        ints = [k for k in order if isinstance(k, int) and not isinstance(k, bool)]
        if ints and ints != list(range(len(ints))):
            yield Violation("TOOL-022", "tool-call indexes 0, 1, 2… in order of first appearance", f"choice {idx}: {ints}", f"choices/{idx}/tool_calls")


