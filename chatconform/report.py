"""Renderings of violations and results for the terminal.  Values in, text out."""

from __future__ import annotations

from . import rules as rules_mod
from .violations import short


def render_failure(violations, expected, today) -> str:
    lines = []
    for v in violations:
        rule = rules_mod.catalogue().get(v.rule)
        head = f"{v.rule} {rule.level if rule else '?'}: {rule.text if rule else '(unknown rule)'}"
        lines.append(head if len(head) <= 220 else head[:219] + "…")
        lines.append(f"  expected: {v.expected}")
        lines.append(f"  actual:   {v.actual}")
        if v.where:
            lines.append(f"  at:       {v.where}")
        exp = expected.get(v.rule)
        if exp and exp.expired(today):
            lines.append(
                f"  note:     a known deviation was declared until {exp.expires} ({exp.reason}); it has expired"
            )
        ex = v.exchange
        if ex is not None:
            body = ex.request_json if isinstance(ex.request_json, dict) else None
            lines.append(f"  sent:     {ex.method} {ex.url} {short(body, 200) if body is not None else ''}")
            lines.append(f"  got:      HTTP {ex.status} {ex.headers.get('content-type', '')}")
            if ex.body:
                lines.append(f"  body:     {body_excerpt(ex.body)}")
            lines.append(f"  reproduce: {ex.curl()}")
        lines.append("")
    from . import redact

    return redact.text("\n".join(lines).rstrip())


def body_excerpt(body: bytes, limit: int = 300) -> str:
    """What came back, on one line: the evidence an error-format failure is about."""
    text = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
    more = f" …({len(body)} bytes)" if len(text) > limit or len(body) > limit * 4 else ""
    return text[:limit] + more


def summary_lines(data: dict) -> list[str]:
    out = ["", "=" * 30 + " chatconform verdict " + "=" * 30]
    t = data["target"]
    out.append(f"target: {t['name']}  model: {t['model']}  base_url: {t['base_url']}  level: {data['level']}")
    out.append(f"claimed: {', '.join(t['capabilities']) or '(nothing beyond the core)'}")
    if t.get("lacks"):
        out.append(f"lacks (declared): {', '.join(t['lacks'])}")
    # per area
    areas: dict[str, dict[str, int]] = {}
    for rid, r in data["rules"].items():
        a = areas.setdefault(r["area"], {})
        a[r["outcome"]] = a.get(r["outcome"], 0) + 1
    cols = (
        ("pass", ("pass",)),
        ("fail", ("fail",)),
        ("error", ("error",)),
        ("known dev.", ("known-deviation",)),
        ("warning", ("warning",)),
        ("not judged", ("not-judged",)),
        ("not exerc.", ("not-exercised",)),
        ("not claimed", ("not-claimed",)),
        ("n/a or off", ("not-applicable", "disabled", "skip")),
        ("untested", ("untested",)),
    )
    out.append("")
    out.append(f"{'rules by area':<14}" + "".join(f"{name:>12}" for name, _ in cols))
    for area, counts in areas.items():
        out.append(f"{area:<14}" + "".join(f"{sum(counts.get(k, 0) for k in keys):>12}" for _, keys in cols))
    failing = [
        (rid, r) for rid, r in data["rules"].items() if r["outcome"] in ("fail", "warning", "known-deviation", "error")
    ]
    if failing:
        out.append("")
        out.append("rules not passing:")
        cat = rules_mod.catalogue()
        for rid, r in failing:
            text = cat[rid].text
            out.append(
                f"  {r['outcome'].upper():<16} {rid:<11} {r['level']:<6} {text[:90]}{'…' if len(text) > 90 else ''}"
            )
    out.append("")
    out.append("profiles (met = every MUST rule in it that could be exercised was judged and passed):")
    for name, p in data["profiles"].items():
        extra = ""
        if p["failed"]:
            extra = f"  failed: {', '.join(p['failed'])}"
        elif p["not_run"]:
            extra = f"  not judged: {', '.join(p['not_run'])}"
        if not p["failed"] and p.get("not_exercised"):
            extra += f"  not exercised (the situation never arose): {', '.join(p['not_exercised'])}"
        out.append(f"  {name:<11} {p['verdict']:<12}{extra}")
    out += disabled_lines(data["rules"])
    exps = data.get("expectations") or []
    if exps:
        out.append("")
        out.append("declared deviations (targets.yaml expectations):")
        advice = {
            "seen": "still occurs",
            "stale": "NO LONGER OCCURS: remove it (fails the run)",
            "expired": "EXPIRED: renew or fix (fails the run)",
            "unexercised": "not exercised in this run",
        }
        for e in exps:
            out.append(f"  {e['rule']:<11} {advice[e['status']]:<44} {e['reason'][:60]}")
    out += run_lines(data.get("run") or {})
    sp = data["spend"]
    out.append("")
    out.append(f"spent: {sp['requests']} requests, {sp['completion_tokens']} completion tokens")
    return out


def disabled_lines(by_rule: dict) -> list[str]:
    """Rules the target's configuration turned off, grouped by the reason their test gave,
    which says how to turn them on (e.g. VISION-001: --allow-remote-images)."""
    groups: dict[str, list[str]] = {}
    for rid, r in by_rule.items():
        if r["outcome"] == "disabled" and r.get("reason"):
            groups.setdefault(r["reason"].removeprefix("disabled: "), []).append(rid)
    if not groups:
        return []
    out = ["", "disabled by the target's configuration (how to enable):"]
    for why, rids in groups.items():
        names = ", ".join(rids[:6]) + (f" and {len(rids) - 6} more" if len(rids) > 6 else "")
        out.append(f"  {names} disabled: {why[:200]}")
    return out


def run_lines(run: dict) -> list[str]:
    """The run's bounds (plugin/guard.py record): why it stopped early, the requests that tripped
    the breaker (a finding about the target: each with its curl), the preflight's notes."""
    out = []
    limit = run.get("time_limit") or {}
    if limit.get("reached"):
        out += [
            "",
            f"RUN STOPPED: {limit['why']}; {limit['not_judged']} test(s) not judged (error), the verdict "
            "above is the run's so far",
        ]
    breaker = run.get("breaker")
    if breaker:
        out += [
            "",
            f"TARGET UNRESPONSIVE: {breaker['tripped']}; the tests after it were not judged (error).",
            "  the requests that tripped it:",
        ]
        for i, e in enumerate(breaker.get("trail", []), 1):
            label = f" [{e['label']}]" if e.get("label") else ""
            out.append(f"  {i}. {e['method']} {e['url']}{label} after {e.get('elapsed', 0):g}s: {e['what'][:200]}")
            out.append(f"     reproduce: {e['curl'][:600]}")
    pre = run.get("preflight")
    if pre:
        took = f"the target takes {pre['token_field']}" if pre.get("token_field") else "token field not established"
        out += ["", f"preflight: {len(pre.get('requests', []))} request(s), {pre.get('elapsed', 0):.1f}s; {took}"]
        out += [f"  note: {n}" for n in pre.get("notes", [])]
    return out
