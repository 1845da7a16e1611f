"""Report renderers over results.json: `chatconform report | compare | badge`.

    main_report(["results.json", "-o", "report.html"])          single-run HTML report
    main_report(["results.json", "--format", "md"])              its verdict as Markdown, to stdout
    main_compare(["a.json", "b.json", "-o", "matrix.html"])      rules × targets matrix (HTML)
    main_compare(["a.json", "b.json", "--format", "md"])         the same as Markdown, to stdout
    main_badge(["results.json", "-o", "badges/"])                shields.io endpoint JSON per profile

Each returns an exit status (0 ok, 4 bad input or usage, as `chatconform run`) and
reports a problem as one line on stderr, never a traceback: these run in CI steps
where a traceback hides the one thing the user must fix (usually the file path).
Set CHATCONFORM_DEBUG=1 to get the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

from .common import BadInput, load

USAGE_ERROR = 4


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as BadInput (exit 4) instead of exiting 2."""

    def error(self, message):
        raise BadInput(f"{message} (see {self.prog} --help)")


def _run(prog: str, fn, argv) -> int:
    try:
        return fn(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except BadInput as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as e:  # a file that passed the schema but still breaks a renderer
        if os.environ.get("CHATCONFORM_DEBUG"):
            raise
        print(
            f"{prog}: cannot render: {type(e).__name__}: {e} (CHATCONFORM_DEBUG=1 shows the traceback)", file=sys.stderr
        )
        return USAGE_ERROR


def _write(path: pathlib.Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot write {path}: {e.strerror or e}") from None


def main_report(argv: list[str] | None = None) -> int:
    def run(args):
        p = _Parser(
            prog="chatconform report",
            description="Render one run's results.json as a self-contained "
            "HTML page, or its verdict as Markdown (a CI job summary, a pull-request comment).",
        )
        p.add_argument("results", help="results.json written by `chatconform run --results`")
        p.add_argument("-o", "--output", help="file to write (default: report.html for html, stdout for md)")
        p.add_argument("--format", choices=("html", "md"), default="html")
        ns = p.parse_args(args)
        if ns.format == "md":
            from . import verdict_md

            text = verdict_md.render(load(ns.results), source=ns.results)
            if not ns.output:
                sys.stdout.write(text)
                return 0
        else:
            from . import html

            text = html.render(load(ns.results), source=ns.results)
        out = pathlib.Path(ns.output or "report.html")
        _write(out, text)
        print(f"report written to {out}")
        return 0

    return _run("chatconform report", run, argv)


def main_compare(argv: list[str] | None = None) -> int:
    def run(args):
        p = _Parser(prog="chatconform compare", description="Compare runs: a matrix of rules × targets.")
        p.add_argument("results", nargs="+", help="results.json files, one per target (column order)")
        p.add_argument("-o", "--output", help="file to write (default: matrix.html for html, stdout for md)")
        p.add_argument("--format", choices=("html", "md"), default="html")
        ns = p.parse_args(args)
        from . import compare, compare_html, compare_md

        matrix = compare.build([(path, load(path)) for path in ns.results])
        if ns.format == "md":
            text = compare_md.render(matrix)
            if not ns.output:
                sys.stdout.write(text)
                return 0
        else:
            text = compare_html.render(matrix)
        out = pathlib.Path(ns.output or "matrix.html")
        _write(out, text)
        print(f"comparison written to {out}")
        return 0

    return _run("chatconform compare", run, argv)


def main_badge(argv: list[str] | None = None) -> int:
    def run(args):
        p = _Parser(
            prog="chatconform badge",
            description="Write shields.io endpoint JSON, one file per profile: badge-<target>-<profile>.json.",
        )
        p.add_argument("results", help="results.json written by `chatconform run --results`")
        p.add_argument("-o", "--output", default=".", metavar="DIR", help="directory to write into (default: .)")
        p.add_argument("--label", default=None, help='label prefix (default: "chat completions")')
        ns = p.parse_args(args)
        from . import badge

        data = load(ns.results)
        out = pathlib.Path(ns.output)
        files = badge.badges(data, ns.label) if ns.label else badge.badges(data)
        for name, b in files.items():
            _write(out / name, json.dumps(b) + "\n")
            print(out / name)
        return 0

    return _run("chatconform badge", run, argv)


__all__ = ["main_report", "main_compare", "main_badge", "BadInput", "load"]
