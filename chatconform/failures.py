"""The failures of a run, grouped for a person to read: one block per rule and distinct
actual value, with how many tests hit it and which.

A server that breaks one rule everywhere (no `[DONE]`) would otherwise print the same
block once per test: dozens of near-identical blocks.  Built from the tests' records
(results.py values), never from rendered text; the terminal (plugin/summary.py) renders
the groups at the detail `--tb` asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import rules as rules_mod

SHOWN_TESTS = 5  # test names listed per group; the rest are counted


@dataclass
class Group:
    rule: str
    disposition: str  # fail / warning / error (the suite could not judge)
    expected: str
    actual: str
    where: str = ""
    tests: list[str] = field(default_factory=list)
    evidence: dict | None = None  # the first test's exchange record (request, response, curl)


def groups(tests: list[dict]) -> list[Group]:
    """Failures and errors of the run's test records, grouped; most-hit groups first."""
    out: dict[tuple, Group] = {}
    for t in tests:
        if t["outcome"] == "fail":
            for v in t.get("violations", ()):
                if v.get("disposition") != "fail":
                    continue
                key = (v["rule"], "fail", v["actual"])
                g = out.get(key)
                if g is None:
                    ex = v.get("exchange")
                    evidence = t["exchanges"][ex] if isinstance(ex, int) and ex < len(t.get("exchanges", ())) else None
                    g = out[key] = Group(
                        v["rule"], "fail", v["expected"], v["actual"], v.get("where", ""), evidence=evidence
                    )
                if t["nodeid"] not in g.tests:
                    g.tests.append(t["nodeid"])
        elif t["outcome"] == "error":
            key = ("", "error", t.get("reason", ""))
            g = out.get(key)
            if g is None:
                g = out[key] = Group(
                    "", "error", "a judgeable answer", t.get("reason", ""), evidence=(t.get("exchanges") or [None])[-1]
                )
            g.tests.append(t["nodeid"])
    return sorted(out.values(), key=lambda g: (g.disposition != "fail", -len(g.tests), g.rule))


def lines(gs: list[Group], style: str = "auto") -> list[str]:
    """The groups as text. style is pytest's --tb: no (nothing), line (one line a group),
    short (rule, expected, actual, tests), auto/long (and what was sent and got, and the curl)."""
    if style == "no" or not gs:
        return []
    cat = rules_mod.catalogue()
    out = []
    for g in gs:
        rule = cat.get(g.rule)
        head = f"{g.rule} {rule.level}: {rule.text}" if rule else f"{g.rule or 'ERROR'} (the suite could not judge)"
        head = head if len(head) <= 200 else head[:199] + "…"
        n = len(g.tests)
        if style == "line":
            out.append(f"{g.rule or 'ERROR'}: {g.actual[:150]} ({n} test{'s' if n != 1 else ''})")
            continue
        out += ["", head, f"  expected: {g.expected}", f"  actual:   {g.actual}"]
        if g.where:
            out.append(f"  at:       {g.where}")
        names = ", ".join(t.split("::", 1)[-1] for t in g.tests[:SHOWN_TESTS])
        more = f" and {n - SHOWN_TESTS} more" if n > SHOWN_TESTS else ""
        out.append(f"  hit by {n} test{'s' if n != 1 else ''}: {names}{more}")
        if style in ("auto", "long") and g.evidence:
            req, resp = g.evidence.get("request") or {}, g.evidence.get("response")
            out.append(f"  sent:     {req.get('method', '')} {req.get('url', '')} {req.get('body', '')[:200]}")
            if resp:
                ctype = next((v for k, v in resp.get("headers", {}).items() if k.lower() == "content-type"), "")
                out.append(f"  got:      HTTP {resp['status']} {ctype}")
                body = " ".join(resp.get("body", "").split())
                if body:
                    out.append(f"  body:     {body[:300]}{' …' if len(body) > 300 else ''}")
            elif g.evidence.get("transport_error"):
                out.append(f"  got:      no answer: {g.evidence['transport_error']}")
            if g.evidence.get("curl"):
                out.append(f"  reproduce: {g.evidence['curl']}")
    return out


def verdict_line(data: dict) -> str:
    """The run's verdict in one line: the last thing a run prints."""
    counts = data.get("counts", {})
    failed = sorted(rid for rid, r in data["rules"].items() if r["outcome"] == "fail")
    errors = sorted(rid for rid, r in data["rules"].items() if r["outcome"] == "error")
    unmet = [name for name, p in data.get("profiles", {}).items() if p.get("verdict") == "not met"]
    # Tests in error that cite no rule: parts of the suite that could not even be collected.
    broken = [t["nodeid"] for t in data.get("tests", []) if t["outcome"] == "error" and not t["rules"]]
    if failed:
        shown = ", ".join(failed[:8]) + (f" and {len(failed) - 8} more" if len(failed) > 8 else "")
        head = f"chatconform: NOT CONFORMANT: {len(failed)} rule(s) failed ({shown})"
    elif errors:
        head = f"chatconform: NOT JUDGED COMPLETELY: {len(errors)} rule(s) could not be judged (error)"
    elif broken:
        head = f"chatconform: NOT JUDGED COMPLETELY: the suite could not collect {', '.join(broken)}"
    else:
        head = "chatconform: CONFORMANT: no rule failed"
    if broken and (failed or errors):
        head += f"; the suite could not collect {', '.join(broken)}"
    tail = f"; profiles not met: {', '.join(unmet)}" if unmet else ""
    return f"{head}{tail} [{sum(counts.values())} tests]"
