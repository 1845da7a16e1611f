"""Registered checks: small functions `(exchange) -> None | raise Violation`.

The observer runs every registered check whose `applies` predicate holds on EVERY
exchange, so a fault is never missed because the test was about something else.  A
check judges the rules it declares and no other (enforced here: a check that raises an
undeclared rule is a suite bug, and the test ends as an error).  What it yields:

* `Violation`: the exchange broke one of its rules;
* `Note`: information, never a failure (what the model chose, a dialect's habit);
* `NotJudged(reason, rules)`: this exchange cannot judge those rules (nothing to look
  at, or an answer the rule does not bind); without `rules`, none of the check's rules.

Every declared rule the check neither reported as NotJudged nor broke counts as
*judged and met* on that exchange; a test's rule that no exchange judged is "not
exercised", never "pass".  A rule is judged by one check only (tests/test_rules.py).
Importing this package registers the checks of every area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..client import Exchange
from ..violations import Note, NotJudged, Violation

INTENT = "(the rule the request's intent names)"  # the intent checks' rules come from the exchange


@dataclass(frozen=True)
class Check:
    name: str
    rules: tuple[str, ...]
    applies: Callable[[Exchange], bool]
    fn: Callable[[Exchange], Iterable | None]

    def declared(self, ex: Exchange) -> tuple[str, ...]:
        if self.rules == (INTENT,):
            return (ex.intent.rule,) if ex.intent is not None else ()
        return self.rules


REGISTRY: list[Check] = []


def check(*rules: str, applies: Callable[[Exchange], bool]):
    """Register a check that judges `rules` on every exchange where `applies` holds."""

    def deco(fn):
        REGISTRY.append(Check(fn.__name__, rules, applies, fn))
        return fn

    return deco


@dataclass(frozen=True)
class Relation:
    name: str
    rules: tuple[str, ...]
    fn: Callable[..., Iterable | None]


RELATIONS: dict[str, Relation] = {}


def relation(*rules: str):
    """Register a check over several exchanges (a relation between requests: the stream
    assembles like the plain answer; one more message means more prompt tokens).  A
    test sends the requests and asks for the relation by name (Recorder.relate)."""

    def deco(fn):
        RELATIONS[fn.__name__] = Relation(fn.__name__, rules, fn)
        return fn

    return deco


class UndeclaredRule(RuntimeError):
    """A check reported a rule it does not declare: a fault of the suite, not the server."""


@dataclass
class Findings:
    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    judged: set[str] = field(default_factory=set)  # rules judged on this exchange
    unjudged: dict[str, str] = field(default_factory=dict)  # rule -> why it could not be judged here


def _apply(name: str, declared: tuple[str, ...], call: Callable[[], Iterable | None], out: Findings) -> list[Violation]:
    """Run one check (or relation) and sort what it yields into `out`."""
    skipped: dict[str, str] = {}
    found: list[Violation] = []
    try:
        for item in call() or ():
            if isinstance(item, Note):
                out.notes.append(item)
            elif isinstance(item, NotJudged):
                skipped.update({r: item.reason for r in item.rules or declared})
            else:
                found.append(item)
    except Violation as v:
        found.append(v)
    except NotJudged as nj:
        skipped.update({r: nj.reason for r in nj.rules or declared})
    for v in found:
        if v.rule not in declared:
            raise UndeclaredRule(f"check {name} reported {v.rule}, which it does not declare ({', '.join(declared)})")
    broken = {v.rule for v in found}
    for r in declared:
        if r in skipped and r not in broken:
            out.unjudged.setdefault(r, skipped[r])
        else:
            out.judged.add(r)
    return found


def _unique(violations: list[Violation]) -> list[Violation]:
    seen, unique = set(), []
    for v in violations:
        v.origin = "check"
        if v.key() not in seen:
            seen.add(v.key())
            unique.append(v)
    return unique


def run(exchange: Exchange) -> Findings:
    out = Findings()
    for c in REGISTRY:
        if c.applies(exchange):
            for v in _apply(c.name, c.declared(exchange), lambda c=c: c.fn(exchange), out):
                v.exchange = exchange
                out.violations.append(v)
    out.violations = _unique(out.violations)
    return out


def relate(name: str, *exchanges: Exchange) -> Findings:
    """Judge a registered relation over these exchanges (a violation points at the exchange
    the relation names, else the last one)."""
    rel = RELATIONS[name]
    out = Findings()
    for v in _apply(rel.name, rel.rules, lambda: rel.fn(*exchanges), out):
        v.exchange = v.exchange or exchanges[-1]
        out.violations.append(v)
    out.violations = _unique(out.violations)
    return out


# -- predicates shared by the check modules --------------------------------------------
def is_chat(ex: Exchange) -> bool:
    return ex.url.rstrip("/").endswith("/chat/completions") and ex.method == "POST"


def ok_json(ex: Exchange) -> bool:
    return is_chat(ex) and ex.status == 200 and not ex.is_stream


def ok_stream(ex: Exchange) -> bool:
    return is_chat(ex) and ex.status == 200 and ex.is_stream


def is_error(ex: Exchange) -> bool:
    return ex.status is not None and ex.status >= 400


def req(ex: Exchange) -> dict:
    return ex.request_json if isinstance(ex.request_json, dict) else {}


def generic_pointer(pointer: str) -> str:
    """/choices/7/message/role -> /choices/#/message/role: the same place in every item."""
    return "/".join("#" if part.isdigit() else part for part in pointer.split("/"))


def valid_request(ex: Exchange) -> bool:
    """Was the request valid (schemas/request.schema.json)?  Request-derived invariants
    bind only then: a server that wrongly accepts `n: 0` or five stop sequences is
    judged for accepting them, not again for what it did with them."""
    v = getattr(ex, "_valid_request", None)
    if v is None:
        from .. import schemas

        v = isinstance(ex.request_json, dict) and schemas.is_valid("request", ex.request_json)
        ex._valid_request = v
    return v


def answer_of(ex: Exchange):
    """The answer as a non-streaming body (a stream assembled), or None."""
    if ex.is_stream:
        from .stream import _assembled

        return _assembled(ex).as_response()
    return ex.json if isinstance(ex.json, dict) else None


def choices_of(body) -> list[dict]:
    """The choices of an answer body that have a message object."""
    return [
        ch for ch in (body or {}).get("choices") or [] if isinstance(ch, dict) and isinstance(ch.get("message"), dict)
    ]


def stop_strings(r: dict) -> list[str]:
    """The request's non-empty stop sequences (a string or a list of them)."""
    stop = r.get("stop")
    stops = (
        [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []
    )
    return [s for s in stops if s]


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def answered(ex: Exchange) -> bool:
    """A complete 200 answer to a valid request: what request-derived rules bind."""
    return (ok_json(ex) or (ok_stream(ex) and not ex.truncated)) and valid_request(ex)


from . import errors, http, intent, params, relations, response, stream, tools  # noqa: E402,F401  (registration)
from . import auth, extensions, media  # noqa: E402,F401  (registration: AUTH, DIALECT-002, CONTENT-003)
