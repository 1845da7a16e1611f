"""`chatconform rejudge results.json`: re-score recorded exchanges with the current rules.

No request is sent.  The observer's checks run again on every recorded exchange; the
violations a test body raised are kept as recorded (their probe logic lives in the
test, not in the data); the catalogue's current levels, the recorded level and the
target's expectations decide each outcome again.  Prints what changed.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import pathlib
import sys

from . import checks, results
from .client import Exchange
from .sse import SSEParser
from .targets import Expectation
from .verdict import judge
from .violations import Violation


def exchange_from(rec: dict) -> Exchange | None:
    req, resp = rec.get("request") or {}, rec.get("response")
    body = (req.get("body") or "").encode("utf-8")
    try:
        req_json = json.loads(body) if body else None
    except ValueError:
        req_json = None
    ex = Exchange(method=req.get("method", "POST"), url=req.get("url", ""), request_headers=req.get("headers") or {},
                  request_body=body, request_json=req_json, label=rec.get("label", ""))
    if resp is None:
        ex.transport_error = rec.get("transport_error") or "no response"
        return ex
    ex.status = resp["status"]
    ex.headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
    ex.body = (resp.get("body") or "").encode("utf-8")
    ex.truncated = resp.get("cut_by_suite")
    ex.elapsed = resp.get("elapsed") or 0.0
    if "text/event-stream" in ex.headers.get("content-type", "") or (ex.wants_stream and ex.status == 200 and "json" not in ex.headers.get("content-type", "")):
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


def rejudge_test(test: dict, expectations, level: str) -> dict:
    exchanges = [exchange_from(r) for r in test.get("exchanges", [])]
    violations: list[Violation] = []
    keep_recorded = set()
    for i, (rec, ex) in enumerate(zip(test.get("exchanges", []), exchanges)):
        resp = rec.get("response") or {}
        if resp.get("body_truncated"):
            keep_recorded.add(i)             # the stored body is cut: its recorded verdict stands
            continue
        if ex.status is None:
            continue
        found, _notes = checks.run(ex)
        violations.extend(found)
    for v in test.get("violations", []):
        if v.get("origin") == "test" or v.get("exchange") in keep_recorded or v.get("exchange") is None and v.get("origin") != "check":
            ex = exchanges[v["exchange"]] if isinstance(v.get("exchange"), int) and v["exchange"] < len(exchanges) else None
            violations.append(Violation(v["rule"], v["expected"], v["actual"], v.get("where", ""), ex, origin=v.get("origin", "test")))
    seen, unique = set(), []
    for v in violations:
        if v.key() not in seen:
            seen.add(v.key())
            unique.append(v)
    if test["outcome"] in ("not-claimed", "not-applicable", "disabled", "skip"):
        return dict(test)
    error = test.get("reason") if test["outcome"] == "error" else None
    verdict = judge(unique, exchanges, test["rules"], expectations, level, error=error)
    new = dict(test)
    new["outcome"] = verdict["outcome"]
    new["violations"] = verdict["violations"]
    new["reason"] = verdict.get("reason", test.get("reason", ""))
    return new


def rejudge(data: dict) -> tuple[dict, list[tuple[str, str, str]]]:
    exps = tuple(Expectation(e["rule"], e["reason"], e["link"], _dt.date.fromisoformat(e["expires"]), bool(e.get("intermittent")))
                 for e in data["target"].get("expectations", []))
    new_tests = [rejudge_test(t, exps, data["level"]) for t in data["tests"]]
    changes = [(t["nodeid"], t["outcome"], n["outcome"]) for t, n in zip(data["tests"], new_tests) if t["outcome"] != n["outcome"]]
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
    rule_changes = [(rid, old_rules.get(rid), r["outcome"]) for rid, r in new["rules"].items() if old_rules.get(rid) != r["outcome"]]
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
