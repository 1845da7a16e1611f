"""The comparison model: rules × targets, built once and rendered as HTML (compare_html)
or Markdown (compare_md).

Why a separate model: both renderings must agree on what a row is, which rows are
"failing" and which failures every target shares.  A rule that fails on every
target compared is more likely a rule that is too strict (or wrong) than a bug
everyone shares, so those rows are flagged for a human to look at the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import LEVELS, first_violation, rule, rule_text, target_labels

# A target "fails" a rule when it violated it, whether or not the violation fails the run.
FAILING = ("fail", "known-deviation", "warning")
MISSING = "missing"  # the run has no entry for the rule (another suite version)


@dataclass
class Target:
    label: str
    path: str
    data: dict


@dataclass
class Cell:
    outcome: str
    violation: dict | None = None  # the first violation of the rule in that run, if any
    reason: str = ""  # why it could not be judged (outcome "error")

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING


@dataclass
class Row:
    rule: str
    level: str
    area: str
    text: str
    cells: list[Cell] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return any(c.failing or c.outcome == "error" for c in self.cells)

    @property
    def fail_count(self) -> int:
        return sum(c.failing for c in self.cells)

    @property
    def shared(self) -> bool:
        """Every target (two or more) violates it: suspect the rule before the servers."""
        return len(self.cells) > 1 and all(c.failing for c in self.cells)


@dataclass
class Matrix:
    targets: list[Target]
    rows: list[Row]

    def areas(self) -> list[str]:
        seen: list[str] = []
        for r in self.rows:
            if r.area not in seen:
                seen.append(r.area)
        return seen

    def level_counts(self, i: int) -> dict[str, dict[str, int]]:
        """For target i: {level: {"pass": n, "fail": n, "other": n}} over its rules."""
        out = {lv: {"pass": 0, "fail": 0, "other": 0} for lv in LEVELS}
        for r in self.rows:
            c = r.cells[i]
            if c.outcome == MISSING or r.level not in out:
                continue
            key = "pass" if c.outcome == "pass" else "fail" if c.failing else "other"
            out[r.level][key] += 1
        return out


def build(runs: list[tuple[str, dict]]) -> Matrix:
    """runs: [(file name, results)] in the order given on the command line."""
    targets = [Target(label, path, data) for label, (path, data) in zip(target_labels(runs), runs)]
    # Catalogue order first (it groups by area and reads naturally), then IDs only the
    # results know (a newer suite version), sorted.
    ids: list[str] = []
    for _, data in runs:
        ids += [rid for rid in data.get("rules", {}) if rid not in ids]
    from .. import rules as rules_mod

    order = {rid: i for i, rid in enumerate(rules_mod.catalogue())}
    ids.sort(key=lambda rid: (order.get(rid, len(order)), rid))
    rows = []
    for rid in ids:
        entries = [d.get("rules", {}).get(rid) for _, d in runs]
        known = next((e for e in entries if e), {})
        cat = rule(rid)
        row = Row(
            rid,
            known.get("level") or (cat.level if cat else "?"),
            known.get("area") or (cat.area if cat else "?"),
            rule_text(rid),
        )
        for (_, d), e in zip(runs, entries):
            outcome = (e or {}).get("outcome", MISSING)
            row.cells.append(
                Cell(
                    outcome,
                    first_violation(d, rid) if outcome in FAILING else None,
                    _error_reason(d, rid) if outcome == "error" else "",
                )
            )
        rows.append(row)
    # Keep each area's rows together even when IDs interleave areas.
    area_order: dict[str, int] = {}
    for r in rows:
        area_order.setdefault(r.area, len(area_order))
    rows.sort(key=lambda r: area_order[r.area])
    return Matrix(targets, rows)


def _error_reason(data: dict, rid: str) -> str:
    for t in data.get("tests", []):
        if t.get("outcome") == "error" and rid in (t.get("rules") or []):
            return t.get("reason") or "could not be judged"
    return "could not be judged"
