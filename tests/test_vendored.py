"""Data that comes from elsewhere is vendored with its source and licence, and pinned.

* schemas/openai/: the official OpenAPI subset for chat completions (openai/openai-openapi,
  MIT), raw and normalized; schemas/openai/SOURCE.md names the upstream commit.
* fixtures/sdk-stream-captures/: twelve streams recorded from the live API by the official
  Python SDK's tests (openai/openai-python, Apache-2.0); upstream names each recording by
  the sha256 of its bytes, and the README lists that hash's prefix for every file.
A change of any of these files is a deliberate re-vendoring: these tests say so.
"""

import hashlib
import re

import pytest

from chatconform.paths import FIXTURES_DIR, SCHEMA_DIR

SPEC_DIR = SCHEMA_DIR / "openai"
CAPTURES = FIXTURES_DIR / "sdk-stream-captures"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_spec_subset_matches_the_checksums_its_source_note_records():
    source = (SPEC_DIR / "SOURCE.md").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^\| `(openai-chat-completions[\w.]*\.yaml)` \| `([0-9a-f]{64})` \|", source, re.M))
    assert set(pinned) == {"openai-chat-completions.openapi.yaml", "openai-chat-completions.normalized.openapi.yaml"}
    for name, digest in pinned.items():
        assert sha256(SPEC_DIR / name) == digest, f"{name} differs from the vendored upstream subset"


def test_spec_subset_names_its_upstream_and_licence():
    source = (SPEC_DIR / "SOURCE.md").read_text(encoding="utf-8")
    assert "openai/openai-openapi" in source and "f85dbe223d40e1a31cba812ab2d755c7e98a92a3" in source
    licence = (SPEC_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "The MIT License" in licence and "Copyright (c) OpenAI" in licence


CAPTURE_ROWS = re.findall(
    r"^\| `([\w]+\.sse)` \| `([0-9a-f]{12})` \|", (CAPTURES / "README.md").read_text(encoding="utf-8"), re.M
)


def test_every_capture_is_listed_with_its_upstream_hash():
    assert sorted(name for name, _ in CAPTURE_ROWS) == sorted(p.name for p in CAPTURES.glob("*.sse"))
    assert len(CAPTURE_ROWS) == 12


@pytest.mark.parametrize("name,prefix", CAPTURE_ROWS, ids=[n for n, _ in CAPTURE_ROWS])
def test_capture_is_byte_for_byte_the_upstream_recording(name, prefix):
    assert sha256(CAPTURES / name).startswith(prefix)


def test_captures_name_their_source_and_licence():
    readme = (CAPTURES / "README.md").read_text(encoding="utf-8")
    assert "openai/openai-python" in readme and "e43b422412a9e96c9cc5192c61fffbe2d7e04836" in readme
    assert "Apache License" in (CAPTURES / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
