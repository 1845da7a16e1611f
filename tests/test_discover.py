"""discover proposes an entry from what a server accepts, marked as detected."""

import yaml

from chatconform.discover import main
from chatconform.reference import start


def test_discover_reference_with_auth(tmp_path, monkeypatch):
    monkeypatch.setenv("CC_DISCOVER_KEY", "sk-discover-0123456789")
    out = tmp_path / "t.yaml"
    with start(api_key="sk-discover-0123456789") as srv:
        assert (
            main(
                [
                    "--base-url",
                    srv.base_url,
                    "--model",
                    "chatconform-reference",
                    "--api-key-env",
                    "CC_DISCOVER_KEY",
                    "-o",
                    str(out),
                ]
            )
            == 0
        )
    text = out.read_text()
    assert "DETECTED" in text and "sk-discover-0123456789" not in text
    entry = yaml.safe_load(text)["targets"]["discovered"]
    assert {"streaming", "tools", "n", "logprobs", "json_schema", "vision", "audio", "auth"} <= set(
        entry["capabilities"]
    )
    assert entry["api_key"] == "${CC_DISCOVER_KEY}"


def test_discover_without_a_capability(tmp_path):
    from chatconform.reference import DEFECTS

    name = next((n for n, d in DEFECTS.items() if n == "n-ignored"), None)
    if name is None:
        import pytest

        pytest.skip("no n-ignored defect in this reference build")
    with start(defects=[name]) as srv:
        assert (
            main(["--base-url", srv.base_url, "--model", "chatconform-reference", "-o", str(tmp_path / "t.yaml")]) == 0
        )
    entry = yaml.safe_load((tmp_path / "t.yaml").read_text())["targets"]["discovered"]
    assert "n" not in entry["capabilities"] and "auth" not in entry["capabilities"]


def test_discover_unreachable_is_a_clean_error(capsys):
    assert main(["--base-url", "http://127.0.0.1:9/v1", "--model", "m"]) == 1
    assert "cannot connect" in capsys.readouterr().err
