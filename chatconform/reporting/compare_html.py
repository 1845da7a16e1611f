"""The comparison matrix as one self-contained HTML page (rules × targets).

All data is rendered server-side into escaped HTML with data-* attributes; the inline
JS only hides and shows rows.  So the page works offline, with JS off it still shows
everything, and no results text ever sits inside <script>.

Filters live in the URL (`#filter=failures&area=stream&q=usage`, or the same as a query
string), so a link can point at a view and the headless-browser test can load a
filtered page and check the DOM after the script ran.
"""

from __future__ import annotations

import datetime as _dt

from .common import esc, outcome_badge, page, verdict_badge
from .compare import Cell, Matrix, Row

SHORT = 110  # characters of a violation's `actual` shown in the cell itself

EXTRA_CSS = """
#matrix thead th{position:sticky;top:0;z-index:1;background:#e8e8e8}
#matrix td.cell{min-width:140px;max-width:340px}
#matrix tr.area-row th{background:#455a64;color:#fff;font-size:13px}
#matrix tr.shared td{background:#fff8e1}
#matrix tr.shared td.flag{font-weight:600;color:#bf360c}
#matrix td.rid{white-space:nowrap}
#matrix td.text{max-width:420px;color:#424242}
.why summary{list-style:none;color:#212121}
.why summary::-webkit-details-marker{display:none}
.why .short{display:block;font-size:11px;color:#b71c1c;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-word}
.why dl{margin:4px 0;font-size:12px}.why dt{color:#757575}.why dd{margin:0 0 4px 8px;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-word}
#filters{background:#fff;border:1px solid #ddd;padding:8px 12px;margin:8px 0;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
"""

SCRIPT = r"""
(function () {
  try {
    var rows = Array.prototype.slice.call(document.querySelectorAll('tr.rule-row'));
    var groups = Array.prototype.slice.call(document.querySelectorAll('tbody.area'));
    var fFail = document.getElementById('f-failures'), fShared = document.getElementById('f-shared');
    var fArea = document.getElementById('f-area'), fQ = document.getElementById('f-q');
    var shown = document.getElementById('shown');

    // State from the query string, then the fragment (the fragment wins): filter, area, q.
    function readState() {
      var s = {};
      [location.search, location.hash].forEach(function (part) {
        (part || '').replace(/^[?#]/, '').split('&').forEach(function (kv) {
          if (!kv) return;
          var i = kv.indexOf('=');
          var k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
          s[k] = decodeURIComponent((i < 0 ? '' : kv.slice(i + 1)).replace(/\+/g, ' '));
        });
      });
      return s;
    }
    function setControls(s) {
      fShared.checked = s.filter === 'shared';
      fFail.checked = s.filter === 'failures' || s.filter === 'shared';
      var area = s.area || '';
      fArea.value = Array.prototype.some.call(fArea.options, function (o) { return o.value === area; }) ? area : '';
      fQ.value = s.q || '';
    }
    function mode() { return fShared.checked ? 'shared' : (fFail.checked ? 'failures' : 'all'); }
    function apply() {
      var m = mode(), area = fArea.value, q = fQ.value.trim().toLowerCase(), n = 0;
      rows.forEach(function (r) {
        var ok = (m === 'all' || (m === 'failures' && r.getAttribute('data-failing') === '1') ||
                  (m === 'shared' && r.getAttribute('data-shared') === '1')) &&
                 (!area || r.getAttribute('data-area') === area) &&
                 (!q || r.getAttribute('data-rule').toLowerCase().indexOf(q) >= 0 ||
                  r.getAttribute('data-text').toLowerCase().indexOf(q) >= 0);
        r.hidden = !ok;
        if (ok) n++;
      });
      groups.forEach(function (g) { g.hidden = !g.querySelector('tr.rule-row:not([hidden])'); });
      shown.textContent = 'showing ' + n + ' of ' + rows.length + ' rules';
      document.body.setAttribute('data-filter', m);
      document.body.setAttribute('data-area', area);
      document.body.setAttribute('data-visible-rows', String(n));
    }
    function writeHash() {
      var parts = [];
      if (mode() !== 'all') parts.push('filter=' + mode());
      if (fArea.value) parts.push('area=' + encodeURIComponent(fArea.value));
      if (fQ.value) parts.push('q=' + encodeURIComponent(fQ.value));
      try { location.hash = parts.join('&'); } catch (e) { /* some file:// contexts refuse; filtering still works */ }
    }
    [fFail, fShared, fArea].forEach(function (el) { el.addEventListener('change', function () {
      if (el === fShared && fShared.checked) fFail.checked = true;
      if (el === fFail && !fFail.checked) fShared.checked = false;
      apply(); writeHash();
    }); });
    fQ.addEventListener('input', function () { apply(); writeHash(); });
    window.addEventListener('hashchange', function () { setControls(readState()); apply(); });
    setControls(readState());
    apply();
    document.body.setAttribute('data-js-ok', '1');
  } catch (e) {
    document.body.setAttribute('data-js-error', String(e));
  }
})();
"""


def render(m: Matrix) -> str:
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    failing = sum(r.failing for r in m.rows)
    shared = sum(r.shared for r in m.rows)
    body = [
        "<h1>chatconform comparison</h1>",
        f'<p class="meta">{len(m.targets)} targets × {len(m.rows)} rules; {failing} rules fail on some target'
        f"{f', {shared} on every target (flagged ⚑: check the rule)' if shared else ''}. Generated {esc(now)}.</p>",
        _targets(m),
        _filters(m),
        _matrix(m),
        _runs(m),
    ]
    return page("chatconform comparison: " + ", ".join(t.label for t in m.targets), "\n".join(body), SCRIPT, EXTRA_CSS)


def _targets(m: Matrix) -> str:
    """One compact row per target: who it is, its rule counts per level, and which profiles are
    not met.  Kept short so the matrix starts within the first screen."""
    head = "".join(f'<th colspan="3">{lv}</th>' for lv in ("MUST", "SHOULD", "MAY"))
    sub = "<th>pass</th><th>fail</th><th>other</th>" * 3
    rows = []
    for i, t in enumerate(m.targets):
        d, tg = t.data, t.data.get("target", {})
        c = m.level_counts(i)
        cells = "".join(
            f'<td class="num">{c[lv]["pass"]}</td><td class="num">{_fail_num(c[lv]["fail"])}</td>'
            f'<td class="num">{c[lv]["other"]}</td>'
            for lv in ("MUST", "SHOULD", "MAY")
        )
        profiles = d.get("profiles") or {}
        off = [
            f"{esc(name)}: {verdict_badge(p.get('verdict', '?'))}"
            for name, p in profiles.items()
            if p.get("verdict") != "met"
        ]
        met = len(profiles) - len(off)
        verdicts = " ".join(off) + (
            f' <span class="meta">{"all " if not off else ""}{met} {"other " if off else ""}'
            f"profile{'s' * (met != 1)} met</span>"
            if met
            else ""
        )
        rows.append(
            f'<tr data-target="{esc(t.label)}"><th title="{esc(t.path)}">{esc(t.label)}</th>'
            f'<td>{esc(tg.get("model"))}<br><span class="mono meta">{esc(tg.get("base_url"))}</span></td>'
            f"{cells}<td>{verdicts}</td></tr>"
        )
    return (
        f'<table id="targets"><tr><th rowspan="2">target</th><th rowspan="2">model / base URL</th>{head}'
        f'<th rowspan="2">profiles</th></tr><tr>{sub}</tr>{"".join(rows)}</table>'
        '<p class="meta">rules per level: fail = fail, known deviation or warning; other = not claimed, '
        "not applicable, skipped, disabled, error or untested</p>"
    )


def _runs(m: Matrix) -> str:
    """Provenance, at the end: which file, suite version and time each column came from."""
    rows = []
    for t in m.targets:
        d, s = t.data, t.data.get("suite", {})
        rows.append(
            f'<tr><th>{esc(t.label)}</th><td class="mono">{esc(t.path)}</td><td>{esc(d.get("level"))}</td>'
            f"<td>{esc(s.get('version'))}{esc(' @ ' + s['commit'][:10] if s.get('commit') else '')}</td>"
            f"<td>{esc(d.get('started'))} → {esc(d.get('finished'))}</td>"
            f"<td>{esc(', '.join(d.get('target', {}).get('capabilities') or []))}</td></tr>"
        )
    return (
        '<h2>Runs</h2><table id="runs"><tr><th>target</th><th>file</th><th>level</th><th>suite</th><th>run</th>'
        f"<th>claimed capabilities</th></tr>{''.join(rows)}</table>"
    )


def _fail_num(n: int) -> str:
    return f'<span class="o o-fail">{n}</span>' if n else "0"


def _filters(m: Matrix) -> str:
    opts = "".join(f'<option value="{esc(a)}">{esc(a)}</option>' for a in m.areas())
    return (
        '<form id="filters" onsubmit="return false">'
        '<label><input type="checkbox" id="f-failures"> failures only</label>'
        '<label><input type="checkbox" id="f-shared"> failing on every target only</label>'
        f'<label>area <select id="f-area"><option value="">all areas</option>{opts}</select></label>'
        '<label>rule <input id="f-q" type="search" placeholder="ID or text"></label>'
        f'<span id="shown" class="meta">showing {len(m.rows)} of {len(m.rows)} rules</span></form>'
        '<p class="meta">Hover a cell for the first violation; click it for expected / actual / where. '
        "Rows marked ⚑ fail on every target: suspect the rule (too strict or wrong) before the servers.</p>"
    )


def _matrix(m: Matrix) -> str:
    n = len(m.targets)
    head = "".join(f'<th class="target" data-target="{esc(t.label)}">{esc(t.label)}</th>' for t in m.targets)
    out = [
        f'<table id="matrix"><thead><tr><th>rule</th><th>level</th><th>text</th>{head}<th>fails on</th></tr></thead>'
    ]
    for area in m.areas():
        rows = [r for r in m.rows if r.area == area]
        bad = sum(r.failing for r in rows)
        out.append(
            f'<tbody class="area" data-area="{esc(area)}"><tr class="area-row"><th colspan="{n + 4}">'
            f'{esc(area)} <span style="font-weight:400">({len(rows)} rules, {bad} failing somewhere)</span></th></tr>'
        )
        out += [_row(r, n) for r in rows]
        out.append("</tbody>")
    out.append("</table>")
    return "\n".join(out)


def _row(r: Row, n: int) -> str:
    text = r.text if len(r.text) <= 140 else r.text[:139] + "…"
    flag = f"{r.fail_count}/{n}" + (" ⚑ all fail: check the rule" if r.shared else "") if r.fail_count else ""
    cls = "rule-row" + (" failing" if r.failing else "") + (" shared" if r.shared else "")
    return (
        f'<tr class="{cls}" data-rule="{esc(r.rule)}" data-area="{esc(r.area)}" data-level="{esc(r.level)}" '
        f'data-failing="{int(r.failing)}" data-shared="{int(r.shared)}" data-text="{esc(r.text)}">'
        f'<td class="mono rid"><b>{esc(r.rule)}</b></td><td>{esc(r.level)}</td><td class="text" title="{esc(r.text)}">{esc(text)}</td>'
        + "".join(_cell(c) for c in r.cells)
        + f'<td class="flag">{esc(flag)}</td></tr>'
    )


def _cell(c: Cell) -> str:
    label = "—" if c.outcome == "missing" else c.outcome
    if c.violation is None and not c.reason:
        return f'<td class="cell" data-outcome="{esc(c.outcome)}">{outcome_badge(c.outcome, label)}</td>'
    v = c.violation or {}
    actual = v.get("actual", c.reason)
    # The cell says why at a glance: what came back, then what the rule wanted.
    short = f"got {actual}; want {v.get('expected')}" if c.violation else f"could not judge: {c.reason}"
    short = short if len(short) <= SHORT else short[: SHORT - 1] + "…"
    title = f"expected: {v.get('expected', '')}\nactual: {actual}" if c.violation else f"error: {c.reason}"
    fields = (
        [("expected", v.get("expected")), ("actual", actual), ("where", v.get("where"))]
        if c.violation
        else [("could not judge", c.reason)]
    )
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(val)}</dd>" for k, val in fields if val)
    return (
        f'<td class="cell" data-outcome="{esc(c.outcome)}" title="{esc(title)}"><details class="why"><summary>'
        f'{outcome_badge(c.outcome, label)}<span class="short">{esc(short)}</span></summary><dl>{dl}</dl></details></td>'
    )
