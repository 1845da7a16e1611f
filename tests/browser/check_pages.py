"""Open the rendered report pages in headless Chromium and check what a person would see.

    python tests/browser/check_pages.py [RESULTS.json ...] [--pages DIR] [--shots DIR]

With no results files it makes the standard samples (tests/browser/samples.py: the
reference and two faulty servers).  It renders report-<name>.html per file and
matrix.html over all of them, then, in Chromium (after the page's JS ran):

  * the matrix shows every target and every rule, and its init finished without an
    exception (the page sets data-js-ok="1" on <body>; a JS error sets data-js-error);
  * `#filter=failures` leaves exactly the failing rows visible, `&area=` narrows to one
    area, and `?filter=shared` leaves only the rules failing on every target;
  * each single-run report has one failure card (with a curl line) per failed rule;
  * no "Uncaught" error appears in Chromium's console log;
  * screenshots go to artifacts/screenshots/ for a person to look at.

Exit status 0 when every check passed, 1 otherwise (each problem printed), 2 when no
Chromium is installed.
"""

from __future__ import annotations

import argparse
import html.parser
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = ROOT / "artifacts" / "pages"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--virtual-time-budget=2000",
]


def find_chromium() -> str | None:
    for name in (os.environ.get("CHATCONFORM_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def chromium(binary: str, url: str, *extra: str, timeout: int = 90) -> tuple[str, str]:
    """Run one headless Chromium with a throw-away profile; (stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="cc-chromium-") as profile:
        proc = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True, text=True, timeout=timeout
        )
    return proc.stdout, proc.stderr


class _Dom(html.parser.HTMLParser):
    """The bits of a dumped DOM the checks need: body attributes, rows, cards, targets."""

    def __init__(self):
        super().__init__()
        self.body: dict = {}
        self.rows: list[dict] = []  # tr.rule-row attributes
        self.targets: list[str] = []  # matrix column heads
        self.cards: list[dict] = []  # failure cards
        self.curls = 0
        self.hidden_areas: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        cls = a.get("class", "").split()
        if tag == "body":
            self.body = a
        elif tag == "tr" and "rule-row" in cls:
            self.rows.append(a)
        elif tag == "th" and "target" in cls:
            self.targets.append(a.get("data-target", ""))
        elif tag == "div" and "card" in cls and "fail" in cls:
            self.cards.append(a)
        elif tag == "pre" and "curl" in cls:
            self.curls += 1
        elif tag == "tbody" and "hidden" in a:
            self.hidden_areas.add(a.get("data-area", ""))


def dom(binary: str, url: str) -> tuple[_Dom, list[str]]:
    out, err = chromium(binary, url, "--dump-dom")
    d = _Dom()
    d.feed(out)
    console = [line for line in err.splitlines() if "Uncaught" in line or "CONSOLE" in line and "Error" in line]
    return d, console


def visible(d: _Dom) -> set[str]:
    return {r["data-rule"] for r in d.rows if "hidden" not in r}


def render_pages(results: list[pathlib.Path], pages: pathlib.Path) -> dict[str, pathlib.Path]:
    sys.path.insert(0, str(ROOT))
    from chatconform.reporting import main_compare, main_report

    pages.mkdir(parents=True, exist_ok=True)
    out = {}
    for r in results:
        p = pages / f"report-{r.stem}.html"
        assert main_report([str(r), "-o", str(p)]) == 0, f"report of {r} failed"
        out[f"report-{r.stem}"] = p
    out["matrix"] = pages / "matrix.html"
    assert main_compare([*map(str, results), "-o", str(out["matrix"])]) == 0, "compare failed"
    return out


def check(
    results: list[pathlib.Path], binary: str, pages: pathlib.Path = PAGES, shots: pathlib.Path = SHOTS
) -> list[str]:
    """Every problem found, as one line each (empty: all good)."""
    sys.path.insert(0, str(ROOT))
    from chatconform.reporting import compare, load

    files = render_pages(results, pages)
    matrix = compare.build([(str(r), load(r)) for r in results])
    all_rules = {row.rule for row in matrix.rows}
    failing = {row.rule for row in matrix.rows if row.failing}
    shared = {row.rule for row in matrix.rows if row.shared}
    problems: list[str] = []
    url = files["matrix"].resolve().as_uri()

    def js_ok(d: _Dom, console: list[str], what: str):
        if d.body.get("data-js-ok") != "1":
            problems.append(f"{what}: page JS did not finish init (body {d.body})")
        if "data-js-error" in d.body:
            problems.append(f"{what}: JS error: {d.body['data-js-error']}")
        problems.extend(f"{what}: console: {line}" for line in console)

    d, console = dom(binary, url)
    js_ok(d, console, "matrix")
    if d.targets != [t.label for t in matrix.targets]:
        problems.append(f"matrix: target columns {d.targets} != {[t.label for t in matrix.targets]}")
    if {r["data-rule"] for r in d.rows} != all_rules:
        problems.append(f"matrix: rows missing: {sorted(all_rules - {r['data-rule'] for r in d.rows})}")
    if visible(d) != all_rules:
        problems.append(f"matrix: unfiltered page hides {len(all_rules - visible(d))} rows")

    d, console = dom(binary, url + "#filter=failures")
    js_ok(d, console, "matrix#filter=failures")
    if visible(d) != failing:
        problems.append(f"matrix#filter=failures: visible {sorted(visible(d))} != failing {sorted(failing)}")
    if d.body.get("data-visible-rows") != str(len(failing)):
        problems.append(
            f"matrix#filter=failures: data-visible-rows={d.body.get('data-visible-rows')}, want {len(failing)}"
        )

    if failing:
        area = next(r.area for r in matrix.rows if r.failing)
        want = {r.rule for r in matrix.rows if r.failing and r.area == area}
        d, console = dom(binary, url + f"#filter=failures&area={area}")
        js_ok(d, console, f"matrix#filter=failures&area={area}")
        if visible(d) != want:
            problems.append(f"matrix area filter: visible {sorted(visible(d))} != {sorted(want)}")
        other_areas = {r.area for r in matrix.rows} - {area}
        if not other_areas <= d.hidden_areas:
            problems.append(f"matrix area filter: area groups still shown: {sorted(other_areas - d.hidden_areas)}")

    d, console = dom(binary, files["matrix"].resolve().as_uri() + "?filter=shared")
    js_ok(d, console, "matrix?filter=shared")
    if visible(d) != shared:
        problems.append(f"matrix?filter=shared: visible {sorted(visible(d))} != shared {sorted(shared)}")

    for r in results:
        name = f"report-{r.stem}"
        d, console = dom(binary, files[name].resolve().as_uri())
        js_ok(d, console, name)
        failed = {rid for rid, v in load(r)["rules"].items() if v["outcome"] == "fail"}
        cards = {c.get("data-rule") for c in d.cards}
        if cards != failed:
            problems.append(f"{name}: failure cards {sorted(cards)} != failed rules {sorted(failed)}")
        if d.curls < len(failed):
            problems.append(f"{name}: {d.curls} curl lines for {len(failed)} failure cards")

    shots.mkdir(parents=True, exist_ok=True)
    for shot, target, size in (
        ("matrix-failures.png", url + "#filter=failures", "1400,1000"),
        ("matrix-all.png", url, "1400,1000"),
        *((f"{n}.png", p.resolve().as_uri(), "1400,1400") for n, p in files.items() if n != "matrix"),
    ):
        chromium(binary, target, f"--screenshot={shots / shot}", f"--window-size={size}")
        if not (shots / shot).exists() or (shots / shot).stat().st_size < 5000:
            problems.append(f"screenshot {shot} missing or blank")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="*", type=pathlib.Path)
    p.add_argument("--pages", type=pathlib.Path, default=PAGES)
    p.add_argument("--shots", type=pathlib.Path, default=SHOTS)
    ns = p.parse_args(argv)
    binary = find_chromium()
    if not binary:
        print("no chromium: apt-get install -y chromium (or set CHATCONFORM_CHROMIUM)", file=sys.stderr)
        return 2
    results = ns.results
    if not results:
        sys.path.insert(0, str(ROOT))
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
        import samples

        results = [samples.sample(n) for n in ("reference", *samples.DEFECTS)]
    problems = check(results, binary, ns.pages, ns.shots)
    for line in problems:
        print("PROBLEM:", line)
    print(f"{'ok' if not problems else 'FAILED'}: {len(results)} results files; screenshots in {ns.shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
