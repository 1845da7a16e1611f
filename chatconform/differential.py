"""Differential mode: the same generated requests to a candidate and to a trusted
reference, answers compared by SHAPE, never by text.

    chatconform diff --base-url A --model MA --against-base-url B --against-model MB \\
                     [--examples N] [--seed S] [--capabilities LIST] [--api-key-env VAR] \\
                     [--against-api-key-env VAR] [--budget NAME]

(`main(argv)` is that command; the CLI wiring is `chatconform diff` -> differential.main.)

The shape of an answer (`shape()`) is a flat map of descriptors:

  status               2xx / 4xx / 5xx / no answer (transport error)
  media type           of the answer
  error.type/param     for error answers (param normalised: `messages.[0]` == `messages[0]`)
  /path -> types       every field present in a JSON answer, with its JSON type(s); array
                       items merged under `*`; the number of choices
  stream.*             for event streams: role first, content deltas (0 or >0), a finish
                       chunk per choice, the usage chunk (absent / last / elsewhere), [DONE],
                       framing faults, and the field paths and types of all chunks

Requests come from chatconform.strategies (valid ones for every claimed focus and
invalid ones of every kind), drawn by hypothesis with a fixed seed: the same
arguments send the same requests.  Requests whose answers differ are grouped by the
fields that differ; each group is shown once, with its smallest request, side by side.

Exit status: 0 no difference, 1 differences, 4 usage error, 6 a side cannot be judged
(preflight.py: unreachable, its key refused, no chat endpoint ...).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from . import redact
from .budget import BUDGETS
from .client import Client, Exchange
from .targets import CAPABILITIES, Target, adhoc
from .violations import CannotJudge, UsageError

# -- the shape of an answer --------------------------------------------------------------------


def _type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def field_types(value: Any, prefix: str = "", out: dict[str, set] | None = None) -> dict[str, set]:
    """Every path in a JSON value with the set of types seen there (array items under `*`)."""
    out = {} if out is None else out
    out.setdefault(prefix or "/", set()).add(_type(value))
    if isinstance(value, dict):
        for k, v in value.items():
            field_types(v, f"{prefix}/{k}", out)
    elif isinstance(value, list):
        for v in value:
            field_types(v, f"{prefix}/*", out)
    return out


def _status_class(ex: Exchange | None) -> str:
    if ex is None or ex.status is None:
        return "no answer"
    return f"{ex.status // 100}xx"


def _param(p: Any) -> str:
    return "null" if p is None else re.sub(r"\.\[", "[", str(p))


def shape(ex: Exchange | None, error: str | None = None) -> dict[str, str]:
    """The normalised shape of one answer (see the module docstring)."""
    out = {"status": _status_class(ex)}
    if ex is None or ex.status is None:
        out["no answer"] = "yes"
        return out
    out["media type"] = ex.media_type or "(none)"
    if ex.status >= 400:
        err = ex.json.get("error") if isinstance(ex.json, dict) else None
        out["error envelope"] = "yes" if isinstance(err, dict) else "no"
        if isinstance(err, dict):
            out["error.type"] = str(err.get("type"))
            out["error.param"] = _param(err.get("param"))
        return out
    if ex.is_stream:
        out.update(_stream_shape(ex))
        return out
    if not isinstance(ex.json, dict):
        out["body"] = "not a JSON object"
        return out
    choices = ex.json.get("choices")
    out["choices"] = str(len(choices)) if isinstance(choices, list) else "-"
    for path, types in field_types(ex.json).items():
        out[path] = "|".join(sorted(types))
    return out


def _stream_shape(ex: Exchange) -> dict[str, str]:
    from .assemble import assemble

    chunks = ex.chunks
    a = assemble(chunks)
    out: dict[str, str] = {}
    first = a.choices.get(a.order[0]) if a.order else None
    out["stream.chunks"] = ">0" if chunks else "0"
    out["stream.role first"] = "yes" if first is not None and first.first_delta_has_role else "no"
    out["stream.choices"] = str(len(a.order))
    out["stream.content deltas"] = ">0" if any(c.text for c in a.choices.values()) else "0"
    out["stream.tool call deltas"] = ">0" if any(c.tool_calls for c in a.choices.values()) else "0"
    out["stream.finish chunk"] = (
        "every choice"
        if a.order and all(c.finish_reasons for c in a.choices.values())
        else ("some choices" if any(c.finish_reasons for c in a.choices.values()) else "none")
    )
    if not a.usage_chunks:
        out["stream.usage chunk"] = "absent"
    else:
        last = a.usage_chunks[-1][0] == len(chunks) - 1 and chunks[-1].get("choices") == []
        out["stream.usage chunk"] = "last, choices []" if last and len(a.usage_chunks) == 1 else "elsewhere"
    out["stream.[DONE]"] = "yes" if ex.sse is not None and ex.sse.done else "no"
    faults = sorted({f.kind for f in ex.sse.faults}) if ex.sse is not None else []
    out["stream.framing faults"] = ", ".join(faults) or "none"
    types: dict[str, set] = {}
    for c in chunks:
        field_types(c, "chunk", types)
    for path, ts in types.items():
        out[path] = "|".join(sorted(ts))
    return out


def compare(a: dict[str, str], b: dict[str, str]) -> list[tuple[str, str, str]]:
    """(key, candidate, reference) for every descriptor that differs; absent is "-"."""
    keys = list(dict.fromkeys(list(a) + list(b)))
    return [(k, a.get(k, "-"), b.get(k, "-")) for k in keys if a.get(k, "-") != b.get(k, "-")]


# -- generating the requests ----------------------------------------------------------------------
def generate(profile, examples: int, seed: int) -> list[dict]:
    """`examples` distinct requests (valid for every claimed focus, and invalid ones), fixed by
    `seed` (hypothesis draws up to twice as many, duplicates are dropped)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from . import strategies as S

    foci = [f for f in S.FOCUSES if all(profile.claims(c) for c in profile.needs(f))]
    valid = [S.valid_requests(profile, f) for f in foci]
    invalid = [S.invalid_requests(profile, mutation=m.name) for m in S.mutations(profile=profile)]
    strategy = st.one_of(st.one_of(valid), st.one_of(invalid).map(lambda inv: inv.body))
    out: list[dict] = []
    seen: set[str] = set()

    @hseed(seed)
    @settings(
        max_examples=max(1, examples) * 2,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(strategy)
    def collect(body):
        key = json.dumps(body, sort_keys=True, ensure_ascii=False)
        if key not in seen and len(out) < examples:
            seen.add(key)
            out.append(body)

    from .strategies.harness import fixed_constants

    with fixed_constants():
        collect()
    return out


# -- the run ----------------------------------------------------------------------------------------
@dataclass
class Difference:
    rows: list[tuple[str, str, str]]
    request: dict
    candidate: Exchange | None
    reference: Exchange | None
    count: int = 1
    indexes: list[int] = field(default_factory=list)

    def signature(self) -> tuple:
        """Requests differing in the same fields are one kind of difference."""
        return tuple(sorted(k for k, _, _ in self.rows))


def _send(client: Client, body: dict) -> tuple[Exchange | None, str | None]:
    try:
        return client.chat(body, label="diff"), None
    except CannotJudge as exc:
        return exc.exchange, exc.reason


def with_model(body: dict, model: str) -> dict:
    return {**body, "model": model} if "model" in body else dict(body)


def run(candidate: Target, reference: Target, requests: list[dict]) -> list[Difference]:
    """Send every request to both targets (each with its own model) and group the differences."""
    groups: dict[tuple, Difference] = {}
    ca, cb = Client(candidate), Client(reference)
    try:
        for i, body in enumerate(requests):
            ea, _ = _send(ca, with_model(body, candidate.model))
            eb, _ = _send(cb, with_model(body, reference.model))
            rows = compare(shape(ea), shape(eb))
            if not rows:
                continue
            d = Difference(rows, body, ea, eb, indexes=[i])
            g = groups.get(d.signature())
            if g is None:
                groups[d.signature()] = d
            else:
                g.count += 1
                g.indexes.append(i)
                if len(json.dumps(body, ensure_ascii=False)) < len(json.dumps(g.request, ensure_ascii=False)):
                    # The rows shown are the shown request's own (same fields, maybe other values).
                    g.rows, g.request, g.candidate, g.reference = rows, body, ea, eb
    finally:
        ca.close()
        cb.close()
    return sorted(groups.values(), key=lambda d: (-d.count, d.indexes[0]))


def render(diffs: list[Difference], candidate: Target, reference: Target, sent: int, seed: int) -> str:
    lines = [
        f"chatconform diff: candidate {candidate.base_url} (model {candidate.model}) "
        f"vs reference {reference.base_url} (model {reference.model})",
        f"{sent} generated requests (seed {seed}); answers compared by shape, not text",
        "",
    ]
    if not diffs:
        lines.append(f"no differences in {sent} requests")
        return redact.text("\n".join(lines))
    total = sum(d.count for d in diffs)
    lines.append(f"{len(diffs)} kind(s) of difference in {total} of {sent} requests")
    for n, d in enumerate(diffs, 1):
        lines.append("")
        lines.append(f"difference {n} of {len(diffs)} (in {d.count} request(s); request #{d.indexes[0]} shown)")
        text = json.dumps(d.request, ensure_ascii=False)
        lines.append(f"  request: {text if len(text) <= 600 else text[:599] + '…'}")
        w = max([len("field")] + [len(k) for k, _, _ in d.rows])
        wa = max([len("candidate")] + [len(a) for _, a, _ in d.rows])
        lines.append(f"  {'field':<{w}}  {'candidate':<{wa}}  reference")
        for k, a, b in d.rows:
            lines.append(f"  {k:<{w}}  {a:<{wa}}  {b}")
        if d.candidate is not None:
            lines.append(f"  candidate: {d.candidate.curl()}")
        if d.reference is not None:
            lines.append(f"  reference: {d.reference.curl()}")
    return redact.text("\n".join(lines))


class _Exit(Exception):
    def __init__(self, code: int):
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that returns instead of exiting: usage errors are exit status 4."""

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        raise _Exit(0 if status == 0 else 4)

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="chatconform diff",
        description="Send the same generated requests to two targets and compare the shapes of their answers.",
    )
    p.add_argument("--base-url", required=True, help="the candidate's base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="the candidate's model id")
    p.add_argument("--api-key-env", default=None, help="environment variable holding the candidate's key")
    p.add_argument("--against-base-url", required=True, help="the trusted reference's base URL")
    p.add_argument("--against-model", required=True, help="the reference's model id")
    p.add_argument("--against-api-key-env", default=None, help="environment variable holding the reference's key")
    p.add_argument(
        "--capabilities",
        default="all",
        help=f"what both claim: 'all' (default) or a comma list of {','.join(CAPABILITIES)}",
    )
    p.add_argument("--examples", type=int, default=40, help="how many requests to generate (default 40)")
    p.add_argument("--seed", type=int, default=0, help="the generation seed (default 0): same seed, same requests")
    p.add_argument("--budget", default="standard", choices=tuple(BUDGETS), help="token limit of the requests")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    except _Exit as e:
        return e.code
    if args.examples < 1:
        print("chatconform diff: --examples must be at least 1", file=sys.stderr)
        return 4
    try:
        cand = adhoc(args.base_url, args.model, args.api_key_env, args.capabilities)
        ref = adhoc(args.against_base_url, args.against_model, args.against_api_key_env, args.capabilities)
    except UsageError as exc:
        print(f"chatconform diff: {exc}", file=sys.stderr)
        return 4
    cand.name, ref.name = "candidate", "reference"
    # Differences are about shape only when both sides answer at all: a missing key on
    # one side would make every request "differ" by a 401.  One message, exit status 6.
    from . import preflight

    for side, t, flag in (("candidate", cand, "--api-key-env"), ("reference", ref, "--against-api-key-env")):
        pre = preflight.run(t)
        if not pre.usable:
            print(f"chatconform diff: the {side} cannot be compared ({flag} names its key)", file=sys.stderr)
            print(pre.message(t), file=sys.stderr)
            return preflight.EXIT_UNUSABLE
    from .strategies import Profile

    profile = Profile(
        model=cand.model, capabilities=cand.capabilities, max_tokens=BUDGETS[args.budget].max_tokens or 16
    )
    requests = generate(profile, args.examples, args.seed)
    diffs = run(cand, ref, requests)
    print(render(diffs, cand, ref, len(requests), args.seed))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
