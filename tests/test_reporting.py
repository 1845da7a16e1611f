"""The report renderers (chatconform/reporting): single-run HTML, comparison HTML/Markdown, badges.

Rendered from real runs (tests/browser/samples.py: the reference and two faulty
reference servers), so the renderers are checked against what results.py really
writes; hostile and odd inputs are hand-edited copies of those runs.
"""

from __future__ import annotations

import copy
import html.parser
import json
import pathlib
import re

import pytest

from chatconform import rules as rules_mod
from chatconform.reporting import badge as badge_mod
from chatconform.reporting import compare, main_badge, main_compare, main_report
from tests.browser import samples

SCRIPT = "<script>alert('pwned')</script>"
ATTR = '"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def runs() -> dict[str, pathlib.Path]:
    return samples.make()


@pytest.fixture(scope="module")
def data(runs) -> dict[str, dict]:
    return {n: json.loads(p.read_text()) for n, p in runs.items()}


def write(path: pathlib.Path, d: dict) -> pathlib.Path:
    path.write_text(json.dumps(d))
    return path


class Dom(html.parser.HTMLParser):
    """Elements by tag with attributes, and the text under each card, for structural asserts."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, cls: str | None = None, **attrs) -> list[dict]:
        out = []
        for t, a in self.tags:
            if t != tag or (cls and cls not in a.get("class", "").split()):
                continue
            if all(a.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(a)
        return out


def failed(d: dict) -> set[str]:
    return {rid for rid, r in d["rules"].items() if r["outcome"] == "fail"}


# -- single-run report ---------------------------------------------------------------------
def test_report_of_reference(runs, data, tmp_path):
    out = tmp_path / "report.html"
    assert main_report([str(runs["reference"]), "-o", str(out)]) == 0
    text = out.read_text()
    dom = Dom(text)
    for name in data["reference"]["profiles"]:
        assert dom.find("span", "chip", data_profile=name), name
    assert {c["data-rule"] for c in dom.find("div", "card")} == failed(data["reference"])
    assert 'id="counts"' in text and 'id="capabilities"' in text and 'id="spend"' in text
    assert f"<b>{data['reference']['spend']['requests']}</b> requests" in text


def test_report_of_faulty_run_has_a_card_per_failed_rule(runs, data, tmp_path):
    d = data["faulty-a"]
    out = tmp_path / "report.html"
    assert main_report([str(runs["faulty-a"]), "-o", str(out)]) == 0
    text = out.read_text()
    dom = Dom(text)
    assert failed(d), "the faulty sample must fail some rules"  # which ones is test_mutants' business
    cards = {c["data-rule"] for c in dom.find("div", "card")}
    assert cards == failed(d)
    for rid in failed(d):
        card = text[text.index(f'id="rule-{rid}"') :]
        card = card[: card.index('</div>\n<div class="card') if '</div>\n<div class="card' in card else len(card)]
        rule = rules_mod.get(rid)
        assert f"{rid} <span" in card
        assert _esc(rule.text) in card, rid
        assert f"{rule.level} fail" in card
        assert '<pre class="curl">curl ' in card
        assert 'class="transcript"' in card and "&lt; HTTP " in card  # the response, escaped
        v = next(v for t in d["tests"] for v in t["violations"] if v["rule"] == rid)
        assert _esc(v["expected"]) in card and _esc(v["actual"]) in card
    # the profile verdicts and the failed MUST rules they name
    for name, p in d["profiles"].items():
        chip = dom.find("span", "chip", data_profile=name)[0]
        assert chip["data-verdict"] == p["verdict"]


def _esc(s: str) -> str:
    import html

    return html.escape(s, quote=True)


def test_report_is_self_contained(runs, tmp_path):
    out = tmp_path / "r.html"
    main_report([str(runs["faulty-a"]), "-o", str(out)])
    text = out.read_text()
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r'(src|href)="(https?:)?//', text), "a page must not load anything"
    assert "default-src 'none'" in text


def test_transcripts_are_capped(data, tmp_path):
    d = copy.deepcopy(data["faulty-a"])
    t = next(t for t in d["tests"] if t["violations"])
    ex = t["exchanges"][t["violations"][0].get("exchange") or 0]
    ex["response"]["body"] = "x" * 200_000
    out = tmp_path / "r.html"
    assert main_report([str(write(tmp_path / "big.json", d)), "-o", str(out)]) == 0
    text = out.read_text()
    assert "x" * 7000 not in text and "more characters in results.json" in text


# -- escaping and secrets --------------------------------------------------------------------
def hostile(d: dict) -> dict:
    """A run whose server put markup everywhere it could reach."""
    d = copy.deepcopy(d)
    d["target"]["name"] = "evil" + ATTR
    d["target"]["model"] = SCRIPT
    for t in d["tests"]:
        for v in t["violations"]:
            v["actual"] = SCRIPT + v["actual"]
            v["where"] = ATTR
        for ex in t["exchanges"]:
            if ex["response"]:
                ex["response"]["body"] = SCRIPT + "</pre></details></div>" + ex["response"]["body"]
                ex["response"]["headers"]["x-evil"] = ATTR + SCRIPT
            ex["label"] = SCRIPT
        t["reason"] = SCRIPT
    return d


def test_server_text_is_escaped_everywhere(data, tmp_path):
    bad = write(tmp_path / "hostile.json", hostile(data["faulty-a"]))
    other = write(tmp_path / "other.json", hostile(data["faulty-b"]))
    report, matrix, md = tmp_path / "r.html", tmp_path / "m.html", tmp_path / "m.md"
    assert main_report([str(bad), "-o", str(report)]) == 0
    assert main_compare([str(bad), str(other), "-o", str(matrix)]) == 0
    assert main_compare([str(bad), str(other), "--format", "md", "-o", str(md)]) == 0
    for page in (report, matrix):
        text = page.read_text()
        assert text.count("<script") == 1, f"{page.name}: only the page's own script"
        assert "alert('pwned')</script>" not in text
        assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in text
        assert "<img" not in text and "onerror=alert(1)>" not in text
        dom = Dom(text)
        assert not any(a.get("onerror") for _, a in dom.tags)
    assert "<script" not in md.read_text() and "<img" not in md.read_text()


def test_no_api_key_leaks(runs, data, tmp_path, monkeypatch):
    """The faulty server echoes the key (auth-key-echoed); results are redacted, and the
    renderers must not add anything: not from the environment, not from headers."""
    secret_env = "sk-env-secret-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret_env)
    monkeypatch.setenv(samples.KEY_ENV, samples.KEY)
    # A hand-made file that was NOT redacted (foreign or edited): headers must be masked anyway.
    d = copy.deepcopy(data["faulty-a"])
    raw = "sk-unredacted-abcdef0123456789"
    for t in d["tests"]:
        for ex in t["exchanges"]:
            ex["request"]["headers"]["Authorization"] = f"Bearer {raw}"
            ex["request"]["headers"]["x-api-key"] = raw
            if ex["response"]:
                ex["response"]["headers"]["set-cookie"] = f"session={raw}"
    unredacted = write(tmp_path / "unredacted.json", d)
    outs = tmp_path / "out"
    assert main_report([str(runs["faulty-a"]), "-o", str(outs / "a.html")]) == 0
    assert main_report([str(unredacted), "-o", str(outs / "u.html")]) == 0
    assert main_compare([str(runs["faulty-a"]), str(unredacted), "-o", str(outs / "m.html")]) == 0
    assert main_compare([str(runs["faulty-a"]), str(unredacted), "--format", "md", "-o", str(outs / "m.md")]) == 0
    assert main_badge([str(runs["faulty-a"]), "-o", str(outs / "badges")]) == 0
    assert "AUTH-005" in (outs / "a.html").read_text()  # the echo was caught ...
    for f in outs.rglob("*"):
        if f.is_file():
            text = f.read_text()
            for secret in (samples.KEY, secret_env, raw):
                assert secret not in text, f"{secret} leaked into {f.name}"  # ... and not repeated


# -- comparison ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def matrix_html(runs, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("cmp") / "matrix.html"
    assert main_compare([str(runs["reference"]), str(runs["faulty-a"]), str(runs["faulty-b"]), "-o", str(out)]) == 0
    return out.read_text()


def test_matrix_has_every_target_and_rule(runs, data, matrix_html):
    dom = Dom(matrix_html)
    heads = [a["data-target"] for a in dom.find("th", "target")]
    # faulty-a and faulty-b are ad hoc targets, named by where they listened
    assert heads[0] == "reference" and len(heads) == 3 and len(set(heads)) == 3
    rows = dom.find("tr", "rule-row")
    assert {r["data-rule"] for r in rows} == set().union(*(d["rules"] for d in data.values()))
    assert len(rows) == len({r["data-rule"] for r in rows})
    for label in heads:
        assert dom.find("tr", data_target=label), f"no counts row for {label}"
    cells = [a for t, a in dom.tags if t == "td" and "cell" in a.get("class", "")]
    assert len(cells) == 3 * len(rows)


def test_matrix_rows_are_grouped_by_area_and_flag_shared_failures(data, matrix_html):
    names = ["reference", "faulty-a", "faulty-b"]
    body_by_area = re.findall(r'<tbody class="area" data-area="([^"]+)">(.*?)</tbody>', matrix_html, re.S)
    assert len({a for a, _ in body_by_area}) == len(body_by_area), "one group per area"
    for area, body in body_by_area:
        for rid, row_area, failing, shared in re.findall(
            r'data-rule="([^"]+)" data-area="([^"]+)" data-level="[^"]+" data-failing="(\d)" data-shared="(\d)"', body
        ):
            assert row_area == area
            outcomes = [data[n]["rules"][rid]["outcome"] for n in names]
            bad = [o in ("fail", "known-deviation", "warning") for o in outcomes]
            assert shared == str(int(all(bad))), rid
            assert failing == str(int(any(bad) or "error" in outcomes)), rid
    # the failure every sample shares (the defects share usage-total-wrong, so RESP-017 fails on
    # both faulty ones; a rule failing on all three would be flagged)
    assert 'data-rule="RESP-017"' in matrix_html


def test_matrix_cells_show_first_violation(data, matrix_html):
    v = next(v for t in data["faulty-a"]["tests"] for v in t["violations"] if v["rule"] == "RESP-017")
    row = re.search(r'<tr class="[^"]*" data-rule="RESP-017".*?</tr>', matrix_html, re.S).group(0)
    assert f'title="expected: {_esc(v["expected"])}' in row
    assert f"<dd>{_esc(v['actual'])}</dd>" in row


def test_duplicate_names_in_same_file_name_fall_back_to_path(runs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    text = runs["faulty-a"].read_text()
    (a / "results.json").write_text(text), (b / "results.json").write_text(text)
    m = compare.build([(str(a / "results.json"), json.loads(text)), (str(b / "results.json"), json.loads(text))])
    labels = [t.label for t in m.targets]
    assert len(set(labels)) == 2 and all(str(tmp_path) in lab for lab in labels)


def md_tables(text: str) -> list[list[str]]:
    tables, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            tables.append(cur)
            cur = []
    return tables + ([cur] if cur else [])


def test_markdown_is_well_formed(runs, data, capsys):
    assert main_compare([str(runs["reference"]), str(runs["faulty-a"]), str(runs["faulty-b"]), "--format", "md"]) == 0
    text = capsys.readouterr().out
    tables = md_tables(text)
    assert len(tables) >= 5
    for table in tables:
        width = len(re.findall(r"(?<!\\)\|", table[0]))
        assert re.fullmatch(r"\|(---\|)+", table[1]), table[1]
        for line in table:
            assert line.endswith("|") and len(re.findall(r"(?<!\\)\|", line)) == width, line
    full = tables[-1]
    assert {line.split("|")[1].strip() for line in full[2:]} == set(data["reference"]["rules"])
    for rid in failed(data["faulty-a"]) | failed(data["faulty-b"]):
        assert f"**{rid}** on *" in text


def test_markdown_escapes_pipes_and_newlines(data, tmp_path, capsys):
    d = copy.deepcopy(data["faulty-a"])
    d["target"]["name"] = "a|b\nc"
    for t in d["tests"]:
        for v in t["violations"]:
            v["actual"] = "x | y\n| z"
    f = write(tmp_path / "pipes.json", d)
    assert main_compare([str(f), "--format", "md"]) == 0
    for table in md_tables(capsys.readouterr().out):
        width = len(re.findall(r"(?<!\\)\|", table[0]))
        assert all(len(re.findall(r"(?<!\\)\|", line)) == width for line in table)


# -- badges --------------------------------------------------------------------------------
def test_badges(runs, data, tmp_path):
    for name in ("reference", "faulty-a"):
        out = tmp_path / name
        assert main_badge([str(runs[name]), "-o", str(out)]) == 0
        d = data[name]
        from chatconform.reporting.common import slug

        target = slug(d["target"]["name"])
        assert sorted(p.name for p in out.iterdir()) == sorted(f"badge-{target}-{p}.json" for p in d["profiles"])
        for profile, p in d["profiles"].items():
            b = json.loads((out / f"badge-{target}-{profile}.json").read_text())
            assert set(b) == {"schemaVersion", "label", "message", "color"} and b["schemaVersion"] == 1
            assert b["label"] == f"chat completions: {profile}"
            want = {
                "met": ("passing", "brightgreen"),
                "not met": (f"{len(p['failed'])} failing", "red"),
                "incomplete": ("incomplete", "yellow"),
                "not claimed": ("not claimed", "lightgrey"),
            }[p["verdict"]]
            assert (b["message"], b["color"]) == want
    faulty = next((tmp_path / "faulty-a").glob("badge-*-core.json"))
    assert json.loads(faulty.read_text())["color"] == "red"


@pytest.mark.parametrize(
    "verdict, failed_rules, message, color",
    [
        ("met", [], "passing", "brightgreen"),
        ("not met", ["A-001", "B-002"], "2 failing", "red"),
        ("incomplete", [], "incomplete", "yellow"),
        ("not claimed", [], "not claimed", "lightgrey"),
        ("something new", [], "incomplete", "yellow"),
    ],
)
def test_badge_messages(verdict, failed_rules, message, color):
    b = badge_mod.badge("core", {"verdict": verdict, "failed": failed_rules})
    assert b == {"schemaVersion": 1, "label": "chat completions: core", "message": message, "color": color}


# -- other outcomes and forward compatibility --------------------------------------------------
def test_warnings_known_deviations_errors_and_unknown_rules(data, tmp_path):
    d = copy.deepcopy(data["faulty-a"])
    tests = [t for t in d["tests"] if t["violations"]]
    tests[0]["violations"][0]["disposition"] = "warning"
    tests[-1]["violations"][0]["disposition"] = "known-deviation"
    plain = next(t for t in d["tests"] if t["outcome"] == "pass")
    plain["outcome"], plain["reason"] = "error", "CannotJudge: the server closed the connection"
    d["rules"]["ZZZ-999"] = {
        "level": "MUST",
        "area": "future",
        "profile": "core",
        "outcome": "pass",
        "tests": [],
        "violations": 0,
    }
    f = write(tmp_path / "mixed.json", d)
    out = tmp_path / "r.html"
    assert main_report([str(f), "-o", str(out)]) == 0
    text = out.read_text()
    assert "Warnings" in text and "Known deviations" in text and "Could not be judged" in text
    assert "the server closed the connection" in text
    assert main_compare([str(f), "-o", str(tmp_path / "m.html")]) == 0
    assert 'data-rule="ZZZ-999"' in (tmp_path / "m.html").read_text()


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("not json", "not JSON"),
        ("{}", "not a chatconform results file"),
        ('{"format": "chatconform-results/1"}', "not a valid results file"),
    ],
)
@pytest.mark.parametrize("main", [main_report, main_compare, main_badge])
def test_bad_input_exits_4_with_one_line(main, content, message, tmp_path, capsys):
    f = tmp_path / "results.json"
    if content is not None:
        f.write_text(content)
    assert main([str(f), "-o", str(tmp_path / "out")]) == 4
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_schema_invalid_outcome_is_rejected(data, tmp_path, capsys):
    d = copy.deepcopy(data["reference"])
    next(iter(d["rules"].values()))["outcome"] = "bogus"
    assert main_report([str(write(tmp_path / "r.json", d))]) == 4
    assert "not a valid results file" in capsys.readouterr().err


def test_usage_errors_exit_4_and_help_exits_0(runs, tmp_path, capsys):
    assert main_report([]) == 4
    assert main_compare([str(runs["reference"]), "--format", "pdf"]) == 4
    assert main_badge([str(runs["reference"]), "--bogus"]) == 4
    assert "Traceback" not in capsys.readouterr().err
    assert main_report(["--help"]) == 0
    (tmp_path / "file").write_text("")
    assert main_report([str(runs["reference"]), "-o", str(tmp_path / "file" / "r.html")]) == 4
    assert "cannot write" in capsys.readouterr().err


def test_md_to_stdout_html_to_default_file(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main_compare([str(runs["reference"])]) == 0
    assert (tmp_path / "matrix.html").exists()
    assert main_report([str(runs["reference"])]) == 0
    assert (tmp_path / "report.html").exists()
