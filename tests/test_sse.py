"""The SSE parser accepts everything the standard allows and names every framing fault."""

import pytest

from chatconform.sse import SSEParser, parse


def kinds(p):
    return [f.kind for f in p.faults]


def test_clean_stream():
    p = parse(b'data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n')
    assert [c["a"] for c in p.chunks] == [1, 2] and p.done and p.faults == []


@pytest.mark.parametrize("sep", ["\r\n", "\r", "\n"])
def test_any_line_ending(sep):
    raw = f'data: {{"a":1}}{sep}{sep}data: [DONE]{sep}{sep}'.encode()
    p = parse(raw)
    assert p.chunks == [{"a": 1}] and p.done and p.faults == []


def test_comments_fields_and_bom_are_legal():
    raw = (
        '\ufeff: ping\n\nevent: message\nid: 7\nretry: 100\ndata: {"a":1}\n\n: keep-alive\n\ndata: [DONE]\n\n'.encode()
    )
    p = parse(raw)
    assert p.chunks == [{"a": 1}] and p.faults == []


def test_incremental_feed_split_everywhere():
    raw = b'data: {"a":1}\r\n\r\ndata: {"b":"\xc3\xa9"}\r\n\r\ndata: [DONE]\r\n\r\n'
    p = SSEParser()
    for i in range(len(raw)):
        p.feed(raw[i : i + 1])
    p.close()
    assert p.chunks == [{"a": 1}, {"b": "é"}] and p.faults == []


def test_mixed_line_endings_whole_or_split_alike():
    """CR, LF and CRLF mixed, a CR at the end of one read and its LF at the start of the
    next: fed whole, byte by byte or in uneven pieces, the same events and no fault."""
    raw = b'data: {"a":1}\r\n\r\ndata: {"a":2}\r\rdata: {"a":3}\n\n: c\rdata: [DONE]\r\n\r\n'
    whole = parse(raw)
    assert [c["a"] for c in whole.chunks] == [1, 2, 3] and whole.done and whole.faults == []
    for size in (1, 2, 3, 7, 13):
        p = SSEParser()
        for i in range(0, len(raw), size):
            p.feed(raw[i : i + size])
        p.close()
        assert p.chunks == whole.chunks and p.faults == [] and p.done, size
    big = b"".join(b'data: {"i":%d}\n\n' % i for i in range(20000)) + b"data: [DONE]\n\n"
    assert len(parse(big).chunks) == 20000  # one read of a large body (was quadratic)


@pytest.mark.parametrize(
    "raw,kind",
    [
        (b'data: {"a":1}\ndata: {"a":2}\n\ndata: [DONE]\n\n', "merged-events"),
        (b'data: {"a":1}\n\ndata: [DONE]', "unterminated-event"),
        (b'data:{"a":1}\n\ndata: [DONE]\n\n', "no-space-after-colon"),
        (b'data: {"a":\ndata: 1}\n\ndata: [DONE]\n\n', "multi-line-data"),
        (b"data: hello\n\ndata: [DONE]\n\n", "non-json-data"),
        (b"data: [1,2]\n\ndata: [DONE]\n\n", "not-an-object"),
        (b'data: {"a":1}\n\ndata: [DONE]\n\ndata: {"a":2}\n\n', "data-after-done"),
        (b'data: {"a":1}\n\n', "no-done"),
        (b'data: {"a":"\xff"}\n\ndata: [DONE]\n\n', "invalid-utf8"),
        (b"", "empty-stream"),
    ],
)
def test_faults_are_named(raw, kind):
    assert kind in kinds(parse(raw))


def test_merged_events_still_yield_chunks():
    p = parse(b'data: {"a":1}\ndata: {"a":2}\ndata: [DONE]\n\n')
    assert [c["a"] for c in p.chunks] == [1, 2] and p.done


def test_fault_rules_exist():
    from chatconform import rules
    from chatconform.sse import FAULT_RULES

    for rid in FAULT_RULES.values():
        assert rid in rules.catalogue()
