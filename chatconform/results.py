"""results.json: the run as data (schemas/results.schema.json).  Reports render this."""

from __future__ import annotations

import datetime as _dt
import subprocess
from typing import Any

from . import __version__, redact, rules as rules_mod
from .outcomes import RANK as rank
from .client import Exchange

BODY_CAP = 64 * 1024  # per body in results.json: evidence, not an archive


def exchange_record(ex: Exchange) -> dict:
    """An exchange as evidence: enough to reproduce it (curl) and to re-judge it (rejudge)."""
    body = ex.request_body or b""
    return {
        "label": ex.label,
        "request": {
            "method": ex.method,
            "url": redact.text(ex.url),
            "headers": redact.headers(ex.request_headers),
            "body": redact.text(body[:BODY_CAP].decode("utf-8", "replace")),
            "body_truncated": len(body) > BODY_CAP,
        },
        "response": None
        if ex.status is None
        else {
            "status": ex.status,
            "headers": redact.headers(ex.headers),
            "body": redact.text(ex.body[:BODY_CAP].decode("utf-8", "replace")),
            "body_truncated": len(ex.body) > BODY_CAP,
            "cut_by_suite": ex.truncated,
            "elapsed": round(ex.elapsed, 4),
            "at": round(ex.at, 3) if ex.at is not None else None,
        },
        "transport_error": redact.text(ex.transport_error) if ex.transport_error else None,
        "curl": ex.curl(),
        # What the test declared about the request: rejudge needs it to judge the intent again.
        "intent": None
        if ex.intent is None
        else {"kind": ex.intent.kind, "rule": ex.intent.rule, "param": ex.intent.param},
    }


def _commit() -> str | None:
    import pathlib

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=pathlib.Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class ResultsBook:
    def __init__(self, target, level: str):
        self.target = target
        self.level = level
        self.tests: list[dict] = []
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.run_info: Any = (
            None  # () -> dict: the run's bounds (plugin/guard.py record): preflight, time limit, breaker
        )

    def add(self, record: dict) -> None:
        # setup-phase records (skips) and call-phase records of the same test: keep the last.
        self.tests = [t for t in self.tests if t["nodeid"] != record["nodeid"]] + [record]

    def finish(self) -> dict:
        return build(
            self.tests, self.target.redacted(), self.level, self.started, run=self.run_info() if self.run_info else None
        )


def rule_outcomes(tests: list[dict]) -> dict[str, dict]:
    """Each rule's outcome over the run: the worst any test gave it (outcomes.RULE_ORDER),
    where a test's word on a rule is its `rule_outcomes` entry (what its checks judged)
    and every violation counts against the rule it names, cited or not."""
    cat = rules_mod.catalogue()
    out = {rid: {"outcome": "untested", "tests": [], "violations": 0} for rid in cat}

    def worse(rid, outcome, reason=""):
        if rid in out and rank[outcome] < rank[out[rid]["outcome"]]:
            out[rid]["outcome"] = outcome
            if reason:
                out[rid]["reason"] = reason
            else:
                out[rid].pop("reason", None)

    for t in tests:
        per_rule = t.get("rule_outcomes")
        for rid in t["rules"]:
            if rid not in out:
                continue
            out[rid]["tests"].append(t["nodeid"])
            if per_rule is not None and rid in per_rule:
                worse(rid, per_rule[rid]["outcome"], per_rule[rid].get("reason", ""))
                continue
            o = t["outcome"]  # a record without per-rule outcomes (setup skips, older files)
            if o in ("fail", "known-deviation"):
                # The test failed, but perhaps for another rule: this rule passes
                # unless a violation names it (handled below).
                o = o if any(v["rule"] == rid for v in t["violations"]) else "pass"
            worse(rid, o, t.get("reason", "") if o not in ("pass", "fail") else "")
        for v in t["violations"]:
            rid = v["rule"]
            if rid in out:
                out[rid]["violations"] += 1
                worse(
                    rid, {"fail": "fail", "warning": "warning", "known-deviation": "known-deviation"}[v["disposition"]]
                )
    return out


def profile_verdicts(by_rule: dict[str, dict]) -> dict[str, dict]:
    cat = rules_mod.catalogue()
    verdicts: dict[str, dict] = {}
    for profile in rules_mod.profiles():
        musts = [r for r in cat.values() if r.profile == profile and r.level == "MUST" and not r.retired]
        outcomes = {r.id: by_rule[r.id]["outcome"] for r in musts}
        failed = sorted(r for r, o in outcomes.items() if o in ("fail", "known-deviation"))
        not_run = sorted(r for r, o in outcomes.items() if o in ("error", "skip", "untested", "disabled", "not-judged"))
        unclaimed = sorted(r for r, o in outcomes.items() if o == "not-claimed")
        # The situation never arose (nothing provoked a 429): not a failure, but "met" says so.
        unexercised = sorted(r for r, o in outcomes.items() if o in ("not-exercised", "not-applicable"))
        if failed:
            verdict = "not met"
        elif unclaimed and len(unclaimed) == len(outcomes):
            verdict = "not claimed"
        elif not_run or unclaimed:
            verdict = "incomplete"
        else:
            verdict = "met"
        verdicts[profile] = {
            "verdict": verdict,
            "must_rules": len(musts),
            "failed": failed,
            "not_run": not_run,
            "not_claimed": unclaimed,
            "not_exercised": unexercised,
        }
    return verdicts


def expectation_status(tests: list[dict], target: dict, today=None) -> list[dict]:
    """seen: the declared deviation occurred; stale: tests of its rule ran and none saw
    it (the target now conforms: remove it); expired: past its date; unexercised: no
    test of its rule ran (not claimed, skipped)."""
    today = today or _dt.date.today()
    out = []
    for e in target.get("expectations", []):
        rid = e["rule"]
        seen = any(
            v["rule"] == rid and v["disposition"] in ("known-deviation", "fail") for t in tests for v in t["violations"]
        )
        ran = any(rid in t["rules"] and t["outcome"] in ("pass", "known-deviation", "fail", "warning") for t in tests)
        if _dt.date.fromisoformat(e["expires"]) < today:
            status = "expired"
        elif seen:
            status = "seen"
        elif ran and e.get("intermittent"):
            status = "unexercised"  # an intermittent deviation may just not have shown this time
        elif ran:
            status = "stale"
        else:
            status = "unexercised"
        out.append({**e, "status": status})
    return out


def build(tests: list[dict], target: dict, level: str, started, run: dict | None = None) -> dict:
    by_rule = rule_outcomes(tests)
    counts: dict[str, int] = {}
    for t in tests:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    cat = rules_mod.catalogue()
    return {
        "format": "chatconform-results/1",
        "suite": {"name": "chatconform", "version": __version__, "commit": _commit()},
        "spec": {"file": "openai-chat-completions.normalized.openapi.yaml", "version": "2.3.0"},
        "target": target,
        "level": level,
        "started": started.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "counts": counts,
        "spend": {
            "requests": sum(t.get("requests", 0) for t in tests),
            "completion_tokens": sum(t.get("completion_tokens", 0) for t in tests),
        },
        "profiles": profile_verdicts(by_rule),
        "expectations": expectation_status(tests, target),
        "rules": {
            rid: {"level": cat[rid].level, "area": cat[rid].area, "profile": cat[rid].profile, **v}
            for rid, v in by_rule.items()
        },
        "tests": sorted(tests, key=lambda t: t["nodeid"]),
        **({"run": redact.deep(run)} if run else {}),
    }
