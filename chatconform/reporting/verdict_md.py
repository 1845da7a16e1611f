"""One run's verdict as GitHub-flavoured Markdown: a CI job summary or a pull-request comment.

`chatconform report RESULTS --format md`.  A CI reader wants to know, in a screen,
whether the run passed, which profiles are met, which rules failed and why, and what
the run cost; the evidence (transcripts, curl) stays in the HTML report and in
results.json.  The headline follows the run's exit status: PASS when every check that
ran passed (warnings and declared deviations included), FAIL when a check failed, could
not be judged, or a declared deviation went stale or expired.

Server-controlled text (a violation's `actual`, an error's reason) goes through the
comparison's Markdown cell escaping, so a body cannot break the table or inject HTML.
"""

from __future__ import annotations

from .common import LEVELS, rule_text, violations_by_rule
from .compare_md import ICON, _short, _verdict, cell, table

MAX_ROWS = 50  # failing rules listed; the rest are counted (a job summary is capped at 1 MiB)


def headline(data: dict) -> tuple[str, str]:
    """("pass" | "fail", one line saying why), as the run's exit status would say it."""
    tests = data.get("tests") or []
    failed = sorted(rid for rid, r in (data.get("rules") or {}).items() if r.get("outcome") == "fail")
    failed_tests = sum(1 for t in tests if t.get("outcome") == "fail")
    errors = sum(1 for t in tests if t.get("outcome") == "error")
    lapsed = [e for e in data.get("expectations") or [] if e.get("status") in ("stale", "expired")]
    why = []
    if failed or failed_tests:
        why.append(
            f"{len(failed)} rule{'s' * (len(failed) != 1)} failed"
            if failed
            else f"{failed_tests} test{'s' * (failed_tests != 1)} failed"
        )
    if errors:
        why.append(f"{errors} test{'s' * (errors != 1)} could not be judged")
    if lapsed:
        why.append(f"{len(lapsed)} declared deviation{'s' * (len(lapsed) != 1)} stale or expired")
    if why:
        return "fail", "; ".join(why)
    extra = [
        f"{n} {what}"
        for what, n in (
            ("with warnings", _count(tests, "warning")),
            ("with known deviations", _count(tests, "known-deviation")),
        )
        if n
    ]
    return "pass", f"every check that ran passed ({_count(tests, 'pass')} tests passed" + "".join(
        f", {e}" for e in extra
    ) + ")"


def _count(tests: list[dict], outcome: str) -> int:
    return sum(1 for t in tests if t.get("outcome") == outcome)


def render(data: dict, source: str = "results.json") -> str:
    t = data.get("target") or {}
    verdict, why = headline(data)
    icon = ICON["pass"] if verdict == "pass" else ICON["fail"]
    claimed = ", ".join(t.get("capabilities") or []) or "nothing beyond the core"
    out = [
        f"## chatconform: {icon} {verdict.upper()} on {cell(t.get('name'))}",
        "",
        f"**{cell(why[:1].upper() + why[1:])}.** Model {cell(t.get('model'))}, "
        + f"level {cell(data.get('level'))}, claimed: {cell(claimed)}.",
        "",
    ]
    out += _profiles(data)
    out += _failing(data)
    out += _errors(data)
    out += _others(data)
    sp, budget = data.get("spend") or {}, data.get("budget")
    s = data.get("suite") or {}
    out += [
        "### Spend",
        "",
        f"{sp.get('requests', 0)} requests, {sp.get('completion_tokens', 0)} completion tokens"
        + (f" (budget: {cell(_budget(budget))})" if budget else "")
        + ".",
        "",
        f"<sub>chatconform {cell(s.get('version', '?'))}"
        + (f" @ {cell(s['commit'][:12])}" if s.get("commit") else "")
        + f", run {cell(data.get('started'))}, from {cell(source)}</sub>",
        "",
    ]
    return "\n".join(out)


def _budget(b) -> str:
    return ", ".join(f"{k} {v}" for k, v in b.items()) if isinstance(b, dict) else str(b)


def _profiles(data: dict) -> list[str]:
    rows = []
    for name, p in (data.get("profiles") or {}).items():
        why = []
        if p.get("failed"):
            why.append("failed: " + ", ".join(p["failed"]))
        if p.get("not_run"):
            why.append(f"{len(p['not_run'])} of {p.get('must_rules', '?')} MUST rules not run")
        if p.get("not_claimed") and p.get("verdict") != "not claimed":
            why.append(f"{len(p['not_claimed'])} not claimed")
        rows.append([cell(name), _verdict(p), cell("; ".join(why))])
    if not rows:
        return []
    met = sum(1 for p in data["profiles"].values() if p.get("verdict") == "met")
    return (
        [f"### Profiles ({met} of {len(rows)} met)", ""]
        + table(["profile", "verdict", "why"], rows)
        + ["", "<sub>met = every MUST rule of the profile ran and passed</sub>", ""]
    )


def _failing(data: dict) -> list[str]:
    rules = data.get("rules") or {}
    failed = [rid for rid, r in rules.items() if r.get("outcome") == "fail"]
    if not failed:
        return []
    rank = {lv: i for i, lv in enumerate(LEVELS)}
    failed.sort(key=lambda rid: (rank.get(rules[rid].get("level"), 9), rid))
    hits = violations_by_rule(data)
    rows = []
    for rid in failed[:MAX_ROWS]:
        first = (hits.get(rid) or [(None, {})])[0][1]
        n = len(hits.get(rid) or [])
        actual = _short(first.get("actual"), 100) if first else ""
        rows.append(
            [
                f"**{cell(rid)}**",
                cell(rules[rid].get("level")),
                cell(_short(rule_text(rid), 90)),
                cell(actual) + (f" (×{n})" if n > 1 else ""),
            ]
        )
    out = [f"### Failing rules ({len(failed)})", ""] + table(["rule", "level", "rule says", "actual"], rows)
    if len(failed) > MAX_ROWS:
        out.append(f"\n… and {len(failed) - MAX_ROWS} more in results.json")
    return out + [""]


def _errors(data: dict) -> list[str]:
    errs = [t for t in data.get("tests") or [] if t.get("outcome") == "error"]
    if not errs:
        return []
    out = [f"### Could not be judged ({len(errs)} tests)", ""]
    for t in errs[:MAX_ROWS]:
        rules = ", ".join(t.get("rules") or [])
        out.append(f"- {cell(t.get('nodeid'))} ({cell(rules)}): {cell(_short(t.get('reason')))}")
    if len(errs) > MAX_ROWS:
        out.append(f"- … and {len(errs) - MAX_ROWS} more in results.json")
    return out + [""]


def _others(data: dict) -> list[str]:
    """Declared deviations that lapsed, and what did not fail the run but a reader should see."""
    out = []
    for e in data.get("expectations") or []:
        if e.get("status") in ("stale", "expired"):
            what = "no longer occurs: remove it" if e["status"] == "stale" else f"expired on {e.get('expires')}"
            out.append(f"- declared deviation **{cell(e.get('rule'))}** {cell(what)} (fails the run)")
    rules = data.get("rules") or {}
    for outcome, label in (
        ("warning", "warnings (SHOULD rules at level must)"),
        ("known-deviation", "known deviations (declared, not failing the run)"),
    ):
        ids = sorted(rid for rid, r in rules.items() if r.get("outcome") == outcome)
        if ids:
            out.append(f"- {ICON[outcome]} {len(ids)} {label}: {cell(', '.join(ids))}")
    return (["### Also", ""] + out + [""]) if out else []
