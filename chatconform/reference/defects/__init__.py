"""The defect (mutant) catalogue: each defect turns the reference server into a server
with exactly ONE deviation from the rules in RULES.md.

The suite's kill matrix runs the suite against `start(defects=[name])` for every
entry and expects at least the rules in `breaks` to be reported as failed. So each
defect is

  * single: one deviation, showing up only in the situation it is about (a
    streaming defect leaves non-streaming answers alone, a tool defect leaves text
    answers alone...), so a failure elsewhere means the suite, not the mutant,
    is imprecise;
  * observable black-box with the deterministic probes RULES.md describes;
  * honest about `breaks`: the rule(s) a faithful suite must report. Knock-on
    failures that depend on how a suite attributes them (e.g. a schema error also
    failing RESP-001 / STREAM-001 unless an x-rule points elsewhere) are not listed.

Hook points, in pipeline order (all optional; see server.py):

  skip_checks   names of validation checks switched off (validate.py, auth.py, server.py)
  flags         behaviour switches read by the server ("auth-scheme-case-sensitive")
  on_parsed(call) -> ApiError | None          after JSON parsing, before validation
  on_request(call) -> ApiError | None         after validation and model lookup; may edit call.body
  on_completion(call, completion) -> None     edit the generated model.Completion in place
  on_response(call, body) -> body             the non-streaming JSON body
  on_chunks(call, chunks) -> chunks           the stream's chunk objects
  on_events(call, events) -> events           the raw SSE events ("data: ...\\n\\n")
  on_error(call, reply) -> reply              any error reply (reply.check names its cause)
  on_reply(call, reply) -> reply              every reply, last (headers, status)
"""

from __future__ import annotations

import re

# The area modules register their defects on import, in this order (the catalogue's order).
from . import http, auth, request, response, stream, errors, tools, params, structured, vision, audio  # noqa: F401
from . import inputs  # noqa: F401,E402  (defects that show only for some inputs: the property tests' own)
from .base import _DEFECTS, AREAS, Defect


__all__ = ["AREAS", "DEFECTS", "Defect"]

_NAME_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_RULE_RE = re.compile(r"[A-Z]+-\d{3}")


def _build() -> dict[str, Defect]:
    out: dict[str, Defect] = {}
    hook_fields = (
        "on_parsed",
        "on_request",
        "on_completion",
        "on_response",
        "on_chunks",
        "on_events",
        "on_error",
        "on_reply",
    )
    for d in _DEFECTS:
        assert _NAME_RE.fullmatch(d.name), d.name
        assert d.name not in out, f"duplicate defect {d.name}"
        assert d.area in AREAS, (d.name, d.area)
        assert d.breaks and all(_RULE_RE.fullmatch(r) for r in d.breaks), (d.name, d.breaks)
        assert d.skip_checks or d.flags or any(getattr(d, f) for f in hook_fields), f"{d.name} changes nothing"
        out[d.name] = d
    return out


DEFECTS: dict[str, Defect] = _build()
