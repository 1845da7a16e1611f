"""The single-run HTML report: one self-contained file a person can open or attach to a bug.

Reading order follows the questions a reader has: is it conformant (profile verdicts),
how much was tested and what did it cost (counts, spend, per-capability summary), and
then, for each rule that failed, the evidence needed to believe it and reproduce it.
Failures are grouped per rule (one card per failed rule) because one server defect
typically fails dozens of tests for the same rule; the first occurrence carries the
full evidence and the others are listed under it.
"""

from __future__ import annotations

import datetime as _dt

from .common import (
    LEVELS,
    OUTCOMES,
    cap,
    capability,
    citation,
    esc,
    exchange_of,
    outcome_badge,
    page,
    rule,
    rule_text,
    verdict_badge,
    violations_by_rule,
)

MORE_LIMIT = 25  # further occurrences listed per card; beyond that, a count (results.json has all)

# Tiny on purpose: the report is static HTML; JS only adds "expand all" and marks a clean init
# (data-js-ok) for the headless-browser check.
EXTRA_CSS = """
#profiles{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0 2px}
#profiles .chip{background:#fff;border:1px solid #ddd;border-radius:6px;padding:3px 8px}
#profiles .chip[data-verdict="not met"]{border-color:var(--fail)}
#profiles .why{font-size:12px;margin-left:4px}
.summary{display:flex;flex-wrap:wrap;gap:12px 40px;align-items:flex-start}
.summary h2{margin-top:12px}
#failing-index a{margin-right:10px}
"""

SCRIPT = """
(function(){
  try {
    var b = document.getElementById('expand-all');
    if (b) b.addEventListener('click', function(){
      var open = b.getAttribute('data-open') !== '1';
      document.querySelectorAll('details').forEach(function(d){ d.open = open; });
      b.setAttribute('data-open', open ? '1' : '0');
      b.textContent = open ? 'collapse all' : 'expand all';
    });
    document.body.setAttribute('data-js-ok', '1');
  } catch (e) { document.body.setAttribute('data-js-error', String(e)); }
})();
"""


def render(data: dict, source: str = "results.json") -> str:
    t = data.get("target", {})
    title = f"chatconform report: {t.get('name', '?')}"
    # Verdict and failures first (what a reader came for), provenance last.
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(t.get("model"))} at <span class="mono">{esc(t.get("base_url"))}</span>, '
        f"level {esc(data.get('level'))}, run {esc(data.get('started'))}</p>",
        _profiles(data),
        f'<div class="summary">{_counts(data)}{_capabilities(data)}</div>',
        _cards(data, ("fail",), "Failures", "fail"),
        _cards(data, ("known-deviation",), "Known deviations (declared, not failing the run)", "known-deviation"),
        _cards(data, ("warning",), "Warnings (SHOULD rules at --level must)", "warning"),
        _errors(data),
        _details(data, source),
        f'<p class="meta">generated {esc(_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))} '
        f"from {esc(source)} by chatconform</p>",
    ]
    return page(title, "\n".join(p for p in parts if p), SCRIPT, EXTRA_CSS)


def _details(data: dict, source: str) -> str:
    """Provenance: which server, which suite, when; enough to rerun the same thing."""
    t, s = data.get("target", {}), data.get("suite", {})
    caps = ", ".join(t.get("capabilities") or []) or "(nothing beyond the core)"
    rows = [
        ("target", t.get("name")),
        ("model", t.get("model")),
        ("base URL", t.get("base_url")),
        ("API key", t.get("api_key") or "(none)"),
        ("claimed capabilities", caps),
        ("level", data.get("level")),
        (
            "suite",
            f"{s.get('name', 'chatconform')} {s.get('version', '?')}"
            + (f" @ {s['commit'][:12]}" if s.get("commit") else ""),
        ),
        ("spec", f"{data.get('spec', {}).get('file', '?')} {data.get('spec', {}).get('version', '')}"),
        ("run", f"{data.get('started', '?')} → {data.get('finished', '?')}"),
        ("results file", source),
    ]
    for e in t.get("expectations") or []:
        rows.append(("declared deviation", f"{e.get('rule')} until {e.get('expires')}: {e.get('reason')}"))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<h2>Run</h2><table id="target">{table}</table>'


def _profiles(data: dict) -> str:
    """One chip per profile, the reason spelled out for any profile not met."""
    chips = []
    for name, p in (data.get("profiles") or {}).items():
        detail = []
        for key, what in (("failed", "failed"), ("not_run", "not run"), ("not_claimed", "not claimed")):
            if p.get(key):
                links = ", ".join(
                    f'<a href="#rule-{esc(r)}">{esc(r)}</a>' if key == "failed" else esc(r) for r in p[key]
                )
                detail.append(f"{what}: {links}")
        why = f'<span class="why">{"; ".join(detail)}</span>' if detail else ""
        chips.append(
            f'<span class="chip" data-profile="{esc(name)}" data-verdict="{esc(p.get("verdict"))}">'
            f"<b>{esc(name)}</b> {verdict_badge(p.get('verdict', '?'))}{why}</span>"
        )
    return (
        f'<div id="profiles">{"".join(chips)}</div>'
        '<p class="meta">profile met = every MUST rule of the profile ran and passed</p>'
    )


def _counts(data: dict) -> str:
    tc = data.get("counts") or {}
    rc: dict[str, int] = {}
    for r in (data.get("rules") or {}).values():
        rc[r.get("outcome", "?")] = rc.get(r.get("outcome", "?"), 0) + 1
    cols = [o for o in OUTCOMES if o in tc or o in rc]
    head = "".join(f"<th>{outcome_badge(o)}</th>" for o in cols)
    row = lambda name, c: (
        f"<tr><th>{name}</th>" + "".join(f'<td class="num">{c.get(o, 0)}</td>' for o in cols) + "</tr>"
    )
    sp = data.get("spend") or {}
    return (
        "<div><h2>Counts</h2>"
        f'<table id="counts"><tr><th></th>{head}</tr>{row("tests", tc)}{row("rules", rc)}</table>'
        f'<p id="spend">spent: <b>{esc(sp.get("requests", 0))}</b> requests, '
        f"<b>{esc(sp.get('completion_tokens', 0))}</b> completion tokens</p></div>"
    )


def _capabilities(data: dict) -> str:
    """Rules per capability (core = rules every server must follow) × outcome."""
    table: dict[str, dict[str, int]] = {}
    for rid, r in (data.get("rules") or {}).items():
        row = table.setdefault(capability(rid), {})
        row[r.get("outcome", "?")] = row.get(r.get("outcome", "?"), 0) + 1
    cols = [o for o in OUTCOMES if any(o in row for row in table.values())]
    claimed = set(data.get("target", {}).get("capabilities") or [])
    order = sorted(table, key=lambda c: (c != "core", c))
    rows = []
    for c in order:
        mark = "" if c == "core" or c in claimed else ' <span class="meta">(not claimed)</span>'
        rows.append(
            f'<tr data-capability="{esc(c)}"><th>{esc(c)}{mark}</th>'
            + "".join(f'<td class="num">{table[c].get(o, "") or ""}</td>' for o in cols)
            + "</tr>"
        )
    head = "".join(f"<th>{outcome_badge(o)}</th>" for o in cols)
    return (
        f'<div><h2>Rules by capability</h2><table id="capabilities"><tr><th>capability</th>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


def _cards(data: dict, dispositions: tuple, heading: str, css: str) -> str:
    groups = violations_by_rule(data, dispositions)
    if not groups:
        return "" if css != "fail" else '<h2>Failures</h2><p id="no-failures">No rule failed.</p>'
    level_rank = {lv: i for i, lv in enumerate(LEVELS)}
    order = sorted(groups, key=lambda rid: (level_rank.get(_level(data, rid), 9), rid))
    cards = [_card(data, rid, groups[rid], css) for rid in order]
    index = ""
    if css == "fail":  # a clickable table of contents, and the one button the JS drives
        links = " ".join(
            f'<a href="#rule-{esc(rid)}">{esc(rid)}</a> <span class="meta">{esc(_level(data, rid))}'
            f" ×{len(groups[rid])}</span>"
            for rid in order
        )
        index = f'<p id="failing-index">{links} <button id="expand-all" type="button">expand all</button></p>'
    return f'<h2>{esc(heading)} <span class="meta">({len(order)} rules)</span></h2>' + index + "\n".join(cards)


def _level(data: dict, rid: str) -> str:
    r = rule(rid)
    return (data.get("rules", {}).get(rid) or {}).get("level") or (r.level if r else "?")


def _card(data: dict, rid: str, hits: list[tuple[dict, dict]], css: str) -> str:
    test, v = hits[0]
    cite = citation(rid)
    out = [
        f'<div class="card {css}" id="rule-{esc(rid)}" data-rule="{esc(rid)}">',
        f'<h3>{esc(rid)} <span class="o o-{css}">{esc(_level(data, rid))} {esc(css)}</span> '
        f'<span class="meta">{len(hits)} violation{"s" * (len(hits) != 1)}</span></h3>',
        f'<p class="rule-text">{esc(rule_text(rid))}</p>',
        f'<p class="meta citation">cited: {esc(cite)}</p>' if cite else "",
        _evidence(test, v, full=True),
    ]
    rest = hits[1:]
    if rest:
        items = "".join(f"<li>{_evidence(t, w, full=False)}</li>" for t, w in rest[:MORE_LIMIT])
        more = (
            f"<p class=meta>… and {len(rest) - MORE_LIMIT} more in results.json</p>" if len(rest) > MORE_LIMIT else ""
        )
        out.append(
            f"<details><summary>{len(rest)} more violation{'s' * (len(rest) != 1)} of {esc(rid)}</summary>"
            f"<ul>{items}</ul>{more}</details>"
        )
    out.append("</div>")
    return "\n".join(o for o in out if o)


def _evidence(test: dict, v: dict, full: bool) -> str:
    ex = exchange_of(test, v)
    rows = [
        ("test", test.get("nodeid")),
        ("expected", v.get("expected")),
        ("actual", v.get("actual")),
        ("where", v.get("where") or "—"),
    ]
    if ex and ex.get("label"):
        rows.append(("exchange", ex["label"]))
    grid = "".join(f'<span class="k">{esc(k)}</span><span class="mono {esc(k)}">{esc(val)}</span>' for k, val in rows)
    out = f'<div class="ea">{grid}</div>'
    if ex is None:
        return out
    curl = f'<pre class="curl">{esc(ex.get("curl", ""))}</pre>'
    transcript = (
        f'<details class="transcript"><summary>transcript</summary><pre>{esc(transcript_text(ex))}</pre></details>'
    )
    if full:
        return out + '<div class="meta">reproduce:</div>' + curl + transcript
    return out + f"<details><summary>reproduce + transcript</summary>{curl}{transcript}</details>"


def transcript_text(ex: dict) -> str:
    """The exchange as a person reads it on the wire: request line, headers, bodies (capped)."""
    req, resp = ex.get("request") or {}, ex.get("response")
    lines = [f"> {req.get('method', '?')} {req.get('url', '?')}"]
    lines += [f"> {k}: {val}" for k, val in (req.get("headers") or {}).items()]
    lines += [">", cap(req.get("body")) + (" (truncated in results)" if req.get("body_truncated") else ""), ""]
    if ex.get("transport_error"):
        lines.append(f"! transport error: {ex['transport_error']}")
    if resp:
        elapsed = f"  ({resp['elapsed']} s)" if resp.get("elapsed") is not None else ""
        lines.append(f"< HTTP {resp.get('status')}{elapsed}")
        lines += [f"< {k}: {val}" for k, val in (resp.get("headers") or {}).items()]
        lines += ["<", cap(resp.get("body"))]
        if resp.get("body_truncated"):
            lines.append("(body truncated in results.json)")
        if resp.get("cut_by_suite"):
            lines.append(f"(the suite stopped reading: {resp['cut_by_suite']})")
    return "\n".join(lines)


def _errors(data: dict) -> str:
    errs = [t for t in data.get("tests", []) if t.get("outcome") == "error"]
    if not errs:
        return ""
    cards = []
    for t in errs:
        ex = (t.get("exchanges") or [None])[-1]
        evidence = ""
        if ex:
            evidence = (
                f'<pre class="curl">{esc(ex.get("curl", ""))}</pre><details class="transcript"><summary>transcript'
                f"</summary><pre>{esc(transcript_text(ex))}</pre></details>"
            )
        cards.append(
            f'<div class="card error" data-test="{esc(t.get("nodeid"))}"><h3>{esc(t.get("nodeid"))} '
            f"{outcome_badge('error')}</h3><p>rules: {esc(', '.join(t.get('rules') or []))}</p>"
            f'<p class="mono">{esc(t.get("reason"))}</p>{evidence}</div>'
        )
    return f'<h2>Could not be judged <span class="meta">({len(errs)} tests)</span></h2>' + "\n".join(cards)
