"""What a collected suite test says about itself: the rules it cites, the capabilities it
needs, the requests it is expected to send."""

from __future__ import annotations

import pytest

from .. import rules as rules_mod


def cited_rules(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for m in item.iter_markers("rules"):
        ids.extend(m.args)
    return tuple(dict.fromkeys(ids))


def is_suite_item(item: pytest.Item) -> bool:
    """A conformance test (it cites rules); in an active run only (options.py)."""
    return bool(cited_rules(item))


def needed_capabilities(item: pytest.Item) -> list[str]:
    caps: list[str] = []
    for rid in cited_rules(item):
        rule = rules_mod.catalogue().get(rid)
        if rule is not None and rule.capability and rule.capability not in caps:
            caps.append(rule.capability)
    for m in item.iter_markers("needs"):
        caps.extend(c for c in m.args if c not in caps)
    return caps


def expected_requests(item: pytest.Item, examples: int) -> int:
    """About how many requests the test sends: one, or one per example for a property test
    (two per example when it relates a pair of requests).  An estimate for --plan and for
    the order in which xdist's workers take the tests (xdist.py)."""
    mark = item.get_closest_marker("property")
    if mark is None:
        return 1
    return examples * mark.kwargs.get("per_example", 1)
