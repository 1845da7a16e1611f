"""The comparison as GitHub-flavoured Markdown, for pasting into a pull request.

A PR reader wants the differences, not 150 green rows: the page leads with verdicts,
per-level counts and the rules that fail somewhere (with why), and folds the full
matrix into a <details> block.  Cell text is server-controlled, so it is escaped for
Markdown tables (`|`, newlines) and for the HTML GitHub renders inline (`<`, `&`).
"""

from __future__ import annotations

from .compare import Matrix, Row

ICON = {"pass": "✅", "fail": "❌", "error": "💥", "known-deviation": "🟣", "warning": "⚠️"}
SHORT = 120


def cell(value) -> str:
    """One table cell's text: no raw pipes, newlines or HTML."""
    s = "" if value is None else str(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    return " ".join(s.split())


def _short(s, n: int = SHORT) -> str:
    s = "" if s is None else " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows are already-escaped cell texts."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _outcome(o: str) -> str:
    return f"{ICON[o]} {o}" if o in ICON else ("—" if o == "missing" else o)


def _rule_row(r: Row, n: int) -> list[str]:
    note = (
        ("⚑ fails on every target: check the rule" if r.shared else f"fails on {r.fail_count}/{n}")
        if r.fail_count
        else ""
    )
    return [cell(r.rule), r.level, cell(r.area)] + [_outcome(c.outcome) for c in r.cells] + [note]


def render(m: Matrix) -> str:
    labels = [cell(t.label) for t in m.targets]
    n = len(m.targets)
    out = ["## chatconform comparison", ""]
    out += table(
        ["target", "model", "level", "suite", "run", "file"],
        [
            [
                cell(t.label),
                cell(t.data.get("target", {}).get("model")),
                cell(t.data.get("level")),
                cell(t.data.get("suite", {}).get("version")),
                cell(t.data.get("started")),
                cell(t.path),
            ]
            for t in m.targets
        ],
    )
    profiles: list[str] = []
    for t in m.targets:
        profiles += [p for p in (t.data.get("profiles") or {}) if p not in profiles]
    out += ["", "### Verdict per profile", ""]
    out += table(
        ["profile"] + labels,
        [[cell(p)] + [_verdict(t.data.get("profiles", {}).get(p)) for t in m.targets] for p in profiles],
    )
    out += ["", "### Rules per level (pass / fail / other)", ""]
    out += table(
        ["target", "MUST", "SHOULD", "MAY"],
        [[labels[i]] + [_counts(m.level_counts(i)[lv]) for lv in ("MUST", "SHOULD", "MAY")] for i in range(n)],
    )
    bad = [r for r in m.rows if r.failing]
    out += ["", f"### Rules failing on some target ({len(bad)})", ""]
    if bad:
        out += table(["rule", "level", "area"] + labels + ["note"], [_rule_row(r, n) for r in bad])
        out += ["", "Why (first violation per target):", ""]
        for r in bad:
            for t, c in zip(m.targets, r.cells):
                if c.violation:
                    v = c.violation
                    out.append(
                        f"- **{cell(r.rule)}** on *{cell(t.label)}*: expected {cell(_short(v.get('expected')))}; "
                        f"actual {cell(_short(v.get('actual')))}"
                        + (f" (at {cell(_short(v.get('where'), 80))})" if v.get("where") else "")
                    )
                elif c.outcome == "error":
                    out.append(f"- **{cell(r.rule)}** on *{cell(t.label)}*: could not judge: {cell(_short(c.reason))}")
    else:
        out.append("None: every rule passes (or does not apply) on every target.")
    out += ["", f"<details><summary>Full matrix ({len(m.rows)} rules)</summary>", ""]
    out += table(["rule", "level", "area"] + labels + ["note"], [_rule_row(r, n) for r in m.rows])
    out += ["", "</details>", ""]
    return "\n".join(out)


def _verdict(p: dict | None) -> str:
    if not p:
        return "—"
    v = p.get("verdict", "?")
    icon = {"met": "✅", "not met": "❌", "incomplete": "🟡", "not claimed": "⚪"}.get(v, "")
    extra = f" ({len(p['failed'])} failing)" if p.get("failed") else ""
    return cell(f"{icon} {v}{extra}".strip())


def _counts(c: dict) -> str:
    return f"{c['pass']} / {'**%d**' % c['fail'] if c['fail'] else 0} / {c['other']}"
