"""No false alarm on the real thing: every recorded OpenAI stream passes every stream check."""

import pytest

from chatconform import checks
from chatconform.assemble import assemble
from chatconform.paths import FIXTURES_DIR
from chatconform.sse import parse
from tests.helpers import stream_exchange

CAPTURES = FIXTURES_DIR / "sdk-stream-captures"  # vendored: see its README.md and tests/test_vendored.py
FILES = sorted(CAPTURES.glob("*.sse"))


def request_for(raw: bytes) -> dict:
    """The request a capture answered, rebuilt from what the stream shows (README table)."""
    p = parse(raw)
    a = assemble(p.chunks)
    req = {"model": "gpt-4o-2024-08-06", "messages": [{"role": "user", "content": "x"}], "stream": True}
    if a.usage_chunks:
        req["stream_options"] = {"include_usage": True}
    if len(a.order) > 1:
        req["n"] = len(a.order)
    if any(c.saw_logprobs for c in a.choices.values()):
        req["logprobs"] = True
    names = {t.name for c in a.choices.values() for t in c.tool_calls.values()}
    if names:
        req["tools"] = [{"type": "function", "function": {"name": n}} for n in sorted(names)]
    return req


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_capture_passes_every_check(path):
    raw = path.read_bytes()
    ex = stream_exchange(raw, request_for(raw))
    violations = checks.run(ex).violations
    assert violations == [], "\n".join(v.headline() for v in violations)
