"""Registered checks: small functions `(exchange) -> None | raise Violation`.

A check may also yield several Violations (a schema walk finds many at once).  The
observer runs every registered check whose predicate applies on EVERY exchange, so a
fault is never missed because the test was about something else.  Importing this
package registers the checks of every area.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from ..client import Exchange
from ..violations import Note, Violation


@dataclass(frozen=True)
class Check:
    name: str
    rules: tuple[str, ...]
    applies: Callable[[Exchange], bool]
    fn: Callable[[Exchange], Iterable | None]


REGISTRY: list[Check] = []


def check(*rules: str, applies: Callable[[Exchange], bool]):
    """Register a check that enforces `rules` on every exchange where `applies` holds."""
    def deco(fn):
        REGISTRY.append(Check(fn.__name__, rules, applies, fn))
        return fn
    return deco


def run(exchange: Exchange) -> tuple[list[Violation], list[Note]]:
    violations: list[Violation] = []
    notes: list[Note] = []
    for c in REGISTRY:
        if not c.applies(exchange):
            continue
        try:
            for item in c.fn(exchange) or ():
                (notes if isinstance(item, Note) else violations).append(item)
        except Violation as v:
            violations.append(v)
    seen, unique = set(), []
    for v in violations:
        v.exchange = exchange
        v.origin = "check"
        if v.key() not in seen:
            seen.add(v.key())
            unique.append(v)
    return unique, notes


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


from . import errors, http, invariants, response, stream  # noqa: E402,F401  (registration)
