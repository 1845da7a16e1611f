"""The report pages in a real browser: headless Chromium runs their JS (tests/browser/check_pages.py).

Skipped, with the reason, where Chromium is not installed: it is a Debian package
(`apt-get install -y chromium`, ~40 s on an idle machine), which CI may not carry.
"""

from __future__ import annotations

import pytest

from tests.browser import check_pages, samples

CHROMIUM = check_pages.find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium, or set CHATCONFORM_CHROMIUM)"
)


def test_pages_in_headless_chromium(tmp_path):
    runs = samples.make()
    results = [runs["reference"], runs["faulty-a"], runs["faulty-b"]]
    problems = check_pages.check(results, CHROMIUM, pages=tmp_path / "pages")
    assert not problems, "\n".join(problems)
    for shot in ("matrix-failures.png", "matrix-all.png", "report-faulty-a.png"):
        assert (check_pages.SHOTS / shot).stat().st_size > 5000


def test_check_catches_a_broken_script(tmp_path):
    """The check must fail when the page's JS breaks: otherwise a green run proves nothing."""
    from chatconform.reporting import compare_html

    runs = samples.make(("reference",))
    original = compare_html.SCRIPT
    try:
        compare_html.SCRIPT = original.replace("var rows =", "var rows = undefinedThing.x;", 1)
        pages = check_pages.render_pages([runs["reference"]], tmp_path)
        d, _ = check_pages.dom(CHROMIUM, pages["matrix"].resolve().as_uri() + "#filter=failures")
    finally:
        compare_html.SCRIPT = original
    assert d.body.get("data-js-ok") != "1"
    assert "undefinedThing" in d.body.get("data-js-error", "")
