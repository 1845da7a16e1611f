"""What every renderer shares: loading results.json, escaping, rule lookup, outcome styling.

Results hold server-controlled text (bodies, headers, error messages, even the values
quoted in a violation's `actual`), so every string reaches HTML through `esc()` and
every page is built from escaped fragments only; no results data is ever put inside
a <script> block, which would need a second, JS-specific escaping.
"""

from __future__ import annotations

import html
import json
import pathlib
import re

from .. import redact
from ..paths import SCHEMA_DIR
from .. import rules as rules_mod

FORMAT = "chatconform-results/1"
SCHEMA = SCHEMA_DIR / "results.schema.json"

# Worst first, as outcomes.RULE_ORDER; the display order of outcome columns.
OUTCOMES = (
    "fail",
    "error",
    "known-deviation",
    "warning",
    "pass",
    "not-applicable",
    "disabled",
    "not-claimed",
    "skip",
    "untested",
)
LEVELS = rules_mod.LEVELS
TRANSCRIPT_CAP = 6 * 1024  # per body shown in a page: enough to see the fault, not an archive


class BadInput(Exception):
    """A results file that cannot be rendered; the message is shown to the user as is."""


def load(path: str | pathlib.Path) -> dict:
    """Read and check one results.json.  Raises BadInput with a one-line reason."""
    p = pathlib.Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{p}: cannot read: {e}") from None
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise BadInput(f"{p}: not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadInput(f'{p}: not a chatconform results file (want "format": "{FORMAT}")')
    _validate(data, p)
    # Defence in depth: results are redacted when written, but a hand-edited or foreign
    # file may not be; masking secret-named headers and bearer tokens again costs nothing.
    return redact.deep(data)


def _validate(data: dict, p: pathlib.Path) -> None:
    if not SCHEMA.exists():  # an installed package without the repository's schemas/
        missing = [k for k in ("target", "profiles", "rules", "tests") if k not in data]
        if missing:
            raise BadInput(f"{p}: not a valid results file: missing {', '.join(missing)}")
        return
    import jsonschema
    from jsonschema.exceptions import best_match

    err = best_match(jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).iter_errors(data))
    if err is not None:
        where = "/" + "/".join(str(x) for x in err.absolute_path)
        raise BadInput(f"{p}: not a valid results file: at {where}: {err.message[:200]}")


def esc(value) -> str:
    """HTML-escape anything (None shows as empty); quotes too, so it is safe in attributes."""
    return "" if value is None else html.escape(str(value), quote=True)


def cap(text: str | None, limit: int = TRANSCRIPT_CAP) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters in results.json)"


def rule(rid: str):
    """The catalogue entry, or None for an ID this suite version does not know."""
    return rules_mod.catalogue().get(rid)


def rule_text(rid: str) -> str:
    r = rule(rid)
    return r.text if r else "(rule not in this suite version's catalogue)"


def citation(rid: str) -> str:
    r = rule(rid)
    if not r:
        return ""
    parts = [r.citation.get("source"), r.citation.get("spec") and f"spec {r.citation['spec']}"]
    return "; ".join(p for p in parts if p)


def capability(rid: str, fallback: str = "core") -> str:
    r = rule(rid)
    return r.capability if r and r.capability else fallback


def violations_by_rule(data: dict, dispositions=("fail",)) -> dict[str, list[tuple[dict, dict]]]:
    """rule id -> [(test, violation)], in test order, for violations with these dispositions."""
    out: dict[str, list[tuple[dict, dict]]] = {}
    for t in data.get("tests", []):
        for v in t.get("violations", []):
            if v.get("disposition", "fail") in dispositions:
                out.setdefault(v.get("rule", "?"), []).append((t, v))
    return out


def first_violation(data: dict, rid: str) -> dict | None:
    for t in data.get("tests", []):
        for v in t.get("violations", []):
            if v.get("rule") == rid:
                return v
    return None


def exchange_of(test: dict, violation: dict) -> dict | None:
    i = violation.get("exchange")
    ex = test.get("exchanges") or []
    if isinstance(i, int) and 0 <= i < len(ex):
        return ex[i]
    return ex[-1] if ex else None


def slug(text: str) -> str:
    """A file-name-safe form of a target or profile name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "target"


def target_labels(runs: list[tuple[str, dict]]) -> list[str]:
    """Label each run by its target name; names that repeat get the file name added."""
    names = [d["target"].get("name") or "?" for _, d in runs]
    labels = []
    for (path, d), name in zip(runs, names):
        labels.append(f"{name} ({pathlib.Path(path).name})" if names.count(name) > 1 else name)
    # Two files of the same name in different directories: fall back to the full path.
    if len(set(labels)) < len(labels):
        labels = [f"{n} ({p})" if names.count(n) > 1 else n for (p, _), n in zip(runs, names)]
    return labels


# Shared look.  Colours chosen so pass/fail read at a glance and survive grey-scale
# (fail is dark, pass light), with the outcome word always printed too.
CSS = """
:root{--fail:#c62828;--error:#e65100;--kd:#6a1b9a;--warn:#f9a825;--pass:#2e7d32;--muted:#757575;--bg:#fafafa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;padding:16px 24px;color:#212121;background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:0}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f0f0f0;padding:8px;overflow:auto;max-height:360px;white-space:pre-wrap;word-break:break-all;margin:4px 0}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eee}
.meta{color:var(--muted)}
.o{display:inline-block;padding:0 6px;border-radius:3px;font-weight:600;font-size:12px;white-space:nowrap}
.o-pass{background:#c8e6c9;color:#1b5e20}.o-fail{background:var(--fail);color:#fff}
.o-error{background:var(--error);color:#fff}.o-known-deviation{background:var(--kd);color:#fff}
.o-warning{background:var(--warn);color:#212121}
.o-not-claimed,.o-not-applicable,.o-disabled,.o-skip,.o-untested,.o-missing{background:#e0e0e0;color:#616161;font-weight:400}
.v{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;margin:2px 4px 2px 0}
.v-met{background:#c8e6c9;color:#1b5e20}.v-not-met{background:var(--fail);color:#fff}
.v-incomplete{background:#fff59d;color:#5d4037}.v-not-claimed{background:#e0e0e0;color:#616161}
.card{background:#fff;border:1px solid #ddd;border-left:5px solid var(--fail);border-radius:4px;padding:10px 14px;margin:10px 0}
.card.warning{border-left-color:var(--warn)}.card.known-deviation{border-left-color:var(--kd)}.card.error{border-left-color:var(--error)}
.ea{display:grid;grid-template-columns:90px 1fr;gap:2px 8px;margin:6px 0}
.ea .k{color:var(--muted)}
details>summary{cursor:pointer;color:#1565c0}
.num{text-align:right}
"""


def outcome_badge(outcome: str, text: str | None = None) -> str:
    return f'<span class="o o-{esc(outcome)}">{esc(text or outcome)}</span>'


def verdict_badge(verdict: str) -> str:
    return f'<span class="v v-{esc(slug(verdict))}">{esc(verdict)}</span>'


def page(title: str, body: str, script: str = "", css: str = "") -> str:
    """A whole self-contained document: inline CSS and JS, nothing fetched."""
    # The CSP forbids any network load, so even a renderer bug cannot make the page phone out.
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    js = f"<script>\n{script}\n</script>" if script else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}{css}</style></head>\n<body>\n{body}\n{js}\n</body></html>\n"
    )
