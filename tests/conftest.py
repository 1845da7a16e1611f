"""Self-test session hooks: print the kill matrix the mutant harness recorded."""

import json
import os
import pathlib
import shutil

from chatconform.paths import cache_dir

# Tests that give a run an empty CHATCONFORM_CACHE_DIR (a cold run) would also make
# each of its processes rebuild hypothesis' Unicode tables there (~1.5 s and ~150 MB
# each, chatconform/strategies/__init__.py): they stay in the user's cache instead,
# for this process and every run it starts.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_dir() / "hypothesis"))


def pytest_configure(config):
    # The suite runs these tests start judge the reference on loopback, which answers in
    # milliseconds: xdist workers (8 for an ad hoc target) would cost seconds of start-up
    # each and gain nothing.  Tests about concurrency ask for it with -n or --concurrency.
    # Only for the self-tests: pytest may load this file for a suite run from the
    # checkout too (`chatconform run` there), which must keep its concurrency.
    from chatconform.plugin.options import asks_for_suites

    if not asks_for_suites(config):
        os.environ.setdefault("CHATCONFORM_CONCURRENCY", "1")
        # Self-tests import suite modules (their parameters) outside a suite run, where
        # the plugin is inert and has not registered the suite's markers.
        from chatconform.plugin.options import MARKERS

        for line in MARKERS:
            config.addinivalue_line("markers", line)


MATRIX_DIR = pathlib.Path(__file__).resolve().parents[1] / "artifacts" / "kill-matrix"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput") and MATRIX_DIR.exists():
        shutil.rmtree(MATRIX_DIR, ignore_errors=True)  # another run may be writing there


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput") or not MATRIX_DIR.exists():
        return
    rows = [json.loads(p.read_text()) for p in sorted(MATRIX_DIR.glob("*.json"))]
    if not rows:
        return
    lines = ["| defect | area | breaks | caught by (failed rules) | verdict |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["area"], r["defect"])):
        ok = set(r["breaks"]) <= set(r["caught"]) and (r["rc"] == 1 if r["breaks"] else r["rc"] == 0)
        lines.append(
            f"| {r['defect']} | {r['area']} | {', '.join(r['breaks'])} | {', '.join(r['caught']) or '-'} | {'killed' if ok and r['breaks'] else ('clean' if ok else 'SURVIVED')} |"
        )
    text = "\n".join(lines)
    (MATRIX_DIR.parent / "kill-matrix.md").write_text("# Kill matrix\n\n" + text + "\n")
    terminalreporter.section("kill matrix (defect x rules that caught it)")
    for line in lines:
        terminalreporter.write_line(line)
