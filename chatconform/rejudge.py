"""`chatconform rejudge results.json`: re-score recorded exchanges with the current rules.

No request is sent.  Every exchange is rebuilt as it was recorded (its arrival time,
so that RESP-022 compares `created` with when the answer came, not with today's clock;
the test's intent, so that the intent and ERR checks judge it again), and the registered
checks run on it as in a live run; findings under a capability the target does not
claim are set aside as in a live run.  What the record cannot replay stands as recorded:
the violations a test body raised, the relations a test asked for between exchanges
(recorder.relate), an exchange whose stored body was cut, and, in a file written before
intents were recorded, what only the intent judged.  The catalogue's current levels, the
recorded level and the target's expectations decide each outcome again.  Prints what
changed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import pathlib
import sys

from . import checks, results
from .checks import extensions
from .client import Exchange
from .observer import PREMISE_RULES
from .outcomes import Outcome
from .sse import SSEParser
from .targets import Expectation
from .verdict import judge, set_aside_unclaimed
from .violations import Intent, Violation


def exchange_from(rec: dict) -> Exchange | None:
    req, resp = rec.get("request") or {}, rec.get("response")
    body = (req.get("body") or "").encode("utf-8")
    try:
        req_json = json.loads(body) if body else None
    except ValueError:
        req_json = None
    ex = Exchange(
        method=req.get("method", "POST"),
        url=req.get("url", ""),
        request_headers=req.get("headers") or {},
        request_body=body,
        request_json=req_json,
        label=rec.get("label", ""),
    )
    intent = rec.get("intent")
    if isinstance(intent, dict) and intent.get("kind") in ("accept", "refuse") and intent.get("rule"):
        ex.intent = Intent(intent["kind"], intent["rule"], intent.get("param"))
    if resp is None:
        ex.transport_error = rec.get("transport_error") or "no response"
        return ex
    ex.status = resp["status"]
    ex.headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
    ex.body = (resp.get("body") or "").encode("utf-8")
    ex.truncated = resp.get("cut_by_suite")
    ex.elapsed = resp.get("elapsed") or 0.0
    ex.at = resp.get("at")
    if "text/event-stream" in ex.headers.get("content-type", "") or (
        ex.wants_stream and ex.status == 200 and "json" not in ex.headers.get("content-type", "")
    ):
        ex.sse = SSEParser()
        ex.sse.feed(ex.body)
        if not ex.truncated:
            ex.sse.close()
    elif ex.body:
        try:
            ex.json = json.loads(ex.body)
        except ValueError as exc:
            ex.json_error = str(exc)
    return ex


def _relation_rules() -> set[str]:
    return {r for rel in checks.RELATIONS.values() for r in rel.rules}


def rejudge_test(test: dict, expectations, level: str, claims=lambda capability: True, declared=None) -> dict:
    """One test again: `claims` says which capabilities the target claims, `declared` its
    response extensions (targets.yaml), as the live run had them."""
    if test["outcome"] in ("not-claimed", "not-applicable", "disabled", "skip"):
        return dict(test)
    records = test.get("exchanges", [])
    exchanges = [exchange_from(r) for r in records]
    violations: list[Violation] = []
    judged: dict[str, int] = {}
    unjudged: dict[str, str] = {}
    refused: list[Violation] = []
    spoken: dict[int, set[str]] = {}  # exchange -> rules the checks judged, skipped or broke on it
    replayed: set[int] = set()
    for i, (rec, ex) in enumerate(zip(records, exchanges)):
        if (rec.get("response") or {}).get("body_truncated"):
            continue  # the stored body is cut: its recorded verdict stands
        if ex.status is None:
            continue
        found = checks.run(ex)
        if declared:
            found.violations += extensions.response_violations(ex, declared)  # DIALECT-002, as the plugin does
        replayed.add(i)
        violations.extend(found.violations)
        for rule in found.judged:
            judged[rule] = judged.get(rule, 0) + 1
        for rule, why in found.unjudged.items():
            unjudged.setdefault(rule, why)
        spoken[i] = (
            found.judged
            | set(found.unjudged)
            | {v.rule for v in found.violations}
            | ({extensions.RULE} if declared else set())
        )
        if ex.intent is not None and ex.intent.kind == "accept":
            refused += [v for v in found.violations if v.rule in (ex.intent.rule, *PREMISE_RULES)]
    found_keys = {(v.rule, v.where, v.expected, id(v.exchange)) for v in violations}
    relation_rules = _relation_rules()
    for v in test.get("violations", []):
        idx = v.get("exchange")
        ex = exchanges[idx] if isinstance(idx, int) and 0 <= idx < len(exchanges) else None
        if v.get("origin") == "check" and idx in replayed:
            if v["rule"] in relation_rules:
                pass  # a relation between exchanges: not replayed, stands
            elif "intent" not in records[idx] and v["rule"] not in spoken[idx]:
                pass  # judged by the intent of an older record: stands
            else:
                continue  # the checks judged this exchange again
        kept = Violation(v["rule"], v["expected"], v["actual"], v.get("where", ""), ex, origin=v.get("origin", "test"))
        if (kept.rule, kept.where, kept.expected, id(ex)) not in found_keys:
            violations.append(kept)
    seen, unique = set(), []
    for v in violations:
        if v.key() not in seen:
            seen.add(v.key())
            unique.append(v)
    unique, _notes = set_aside_unclaimed(unique, claims)
    # What no replayed check speaks about (a relation, an intent an older record lacks)
    # keeps the word the live run gave it.
    said = set().union(*spoken.values()) if spoken else set()
    recorded = test.get("rule_outcomes") or {}
    for rid, r in recorded.items():
        if rid not in said and r.get("outcome") == Outcome.PASS.value:
            judged.setdefault(rid, 1)
    error = test.get("reason") if test["outcome"] == "error" else None
    verdict = judge(
        unique,
        exchanges,
        test["rules"],
        expectations,
        level,
        error=error,
        judged=judged,
        unjudged=unjudged,
        refused=refused,
    )
    for rid, r in recorded.items():
        now = verdict["rules"].get(rid)
        if (
            now
            and rid not in said
            and r.get("outcome") == Outcome.NOT_JUDGED.value
            and now["outcome"] == Outcome.NOT_EXERCISED.value
        ):
            verdict["rules"][rid] = dict(r)
    new = dict(test)
    new["outcome"] = verdict["outcome"]
    new["violations"] = verdict["violations"]
    new["reason"] = verdict.get("reason", test.get("reason", ""))
    new["rule_outcomes"] = verdict["rules"]
    return new


def rejudge(data: dict) -> tuple[dict, list[tuple[str, str, str]]]:
    exps = tuple(
        Expectation(
            e["rule"], e["reason"], e["link"], _dt.date.fromisoformat(e["expires"]), bool(e.get("intermittent"))
        )
        for e in data["target"].get("expectations", [])
    )
    claimed = set(data["target"].get("capabilities") or ())
    declared = (data["target"].get("extensions") or {}).get("response")
    new_tests = [rejudge_test(t, exps, data["level"], claimed.__contains__, declared) for t in data["tests"]]
    changes = [
        (t["nodeid"], t["outcome"], n["outcome"])
        for t, n in zip(data["tests"], new_tests)
        if t["outcome"] != n["outcome"]
    ]
    started = _dt.datetime.fromisoformat(data["started"])
    new = results.build(new_tests, data["target"], data["level"], started)
    new["rejudged_from"] = {"suite": data["suite"], "finished": data["finished"]}
    return new, changes


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="chatconform rejudge", description=__doc__.splitlines()[0])
    p.add_argument("results", help="a results.json written by a run")
    p.add_argument("-o", "--output", help="write the re-judged results here")
    ns = p.parse_args(argv)
    try:
        data = json.loads(pathlib.Path(ns.results).read_text(encoding="utf-8"))
        if data.get("format") != "chatconform-results/1":
            raise ValueError("not a chatconform results file (format chatconform-results/1)")
    except (OSError, ValueError) as exc:
        print(f"chatconform rejudge: {ns.results}: {exc}", file=sys.stderr)
        return 4
    new, changes = rejudge(data)
    old_rules = {rid: r["outcome"] for rid, r in data["rules"].items()}
    rule_changes = [
        (rid, old_rules.get(rid), r["outcome"]) for rid, r in new["rules"].items() if old_rules.get(rid) != r["outcome"]
    ]
    if not changes and not rule_changes:
        print(f"rejudged {len(data['tests'])} tests: no change (verdict reproduced)")
    for nodeid, old, now in changes:
        print(f"  test {nodeid}: {old} -> {now}")
    for rid, old, now in rule_changes:
        print(f"  rule {rid}: {old} -> {now}")
    for name, prof in new["profiles"].items():
        before = data["profiles"].get(name, {}).get("verdict")
        mark = "" if before == prof["verdict"] else f"  (was {before})"
        print(f"  profile {name:<11} {prof['verdict']}{mark}")
    if ns.output:
        pathlib.Path(ns.output).write_text(json.dumps(new, indent=1, ensure_ascii=False), encoding="utf-8")
    return 1 if new["counts"].get("fail") or new["counts"].get("error") else 0
