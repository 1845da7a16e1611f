"""A strict Server-Sent Events parser for Chat Completions streams.

Accepts everything the WHATWG SSE standard allows (CR, LF or CRLF line ends, comment
lines, `event:`/`id:`/`retry:` fields, a leading BOM, `data:` with or without the
space) and names every framing fault a Chat Completions client trips over instead of
silently repairing it.  Incremental: `feed()` bytes as they arrive, `close()` at EOF.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"
_EOL = re.compile(r"\r\n|\r|\n")

# Fault kinds and the rule each one breaks (the checks translate kinds to Violations).
FAULT_RULES = {
    "unterminated-event": "STREAM-002",  # event not ended by a blank line (EOF reached first)
    "merged-events": "STREAM-002",  # several JSON data lines in one event: a blank line is missing
    "no-space-after-colon": "STREAM-003",  # `data:{...}` — legal SSE, breaks startswith("data: ") clients
    "multi-line-data": "STREAM-003",  # one event split over several data lines
    "non-json-data": "STREAM-001",  # data that is neither JSON nor [DONE]
    "not-an-object": "STREAM-001",  # JSON data that is not an object
    "data-after-done": "STREAM-016",  # anything after data: [DONE]
    "no-done": "STREAM-016",  # stream ended without data: [DONE]
    "invalid-utf8": "HTTP-004",  # SSE streams are UTF-8 by definition
    "empty-stream": "STREAM-001",  # 200 with no event at all
}


@dataclass
class Event:
    data: str
    event: str | None
    line: int  # line number (1-based) of the first field of the event
    data_lines: int
    json: Any = None
    is_done: bool = False
    arrival: float = 0.0  # seconds since the request started (set by the client)


@dataclass
class Fault:
    kind: str
    detail: str
    line: int = 0

    @property
    def rule(self) -> str:
        return FAULT_RULES[self.kind]


@dataclass
class SSEParser:
    events: list[Event] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    done: bool = False
    bytes_seen: int = 0

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._buf = ""
        self._line_no = 0
        self._first = True
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._event_line = 0
        self._has_fields = False
        self._after_done_reported = False

    # -- input -----------------------------------------------------------------
    def feed(self, chunk: bytes, now: float = 0.0) -> list[Event]:
        self.bytes_seen += len(chunk)
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            self._fault("invalid-utf8", f"byte offset ~{self.bytes_seen - len(chunk) + exc.start}: {exc.reason}")
            text = chunk.decode("utf-8", errors="replace")
            self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        return self._consume(text, now)

    def close(self) -> None:
        """EOF: an event still open was never terminated; the standard discards it."""
        rest = self._buf
        self._buf = ""
        if rest:
            self._line(rest, 0.0)
        if self._has_fields:
            what = DONE if self._data and self._data[0] == DONE else "an event"
            self._fault(
                "unterminated-event", f"{what} at line {self._event_line} is not followed by a blank line before EOF"
            )
            # Judge the data anyway, so one framing fault does not hide the content's faults.
            self._dispatch(0.0, terminated=False)
        if not self.events and not self.faults:
            self._fault("empty-stream", "the body held no SSE event")
        elif not self.done:
            self._fault("no-done", "the stream ended without a `data: [DONE]` event")

    # -- internals ---------------------------------------------------------------
    def _fault(self, kind: str, detail: str) -> None:
        self.faults.append(Fault(kind, detail, self._line_no))

    def _consume(self, text: str, now: float) -> list[Event]:
        if self._first and text:
            if text.startswith("\ufeff"):
                text = text[1:]
            self._first = False
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF split across reads
        self._pending_cr = False
        # Lines end at CRLF, LF or CR (the SSE standard).  One pass with an index: slicing
        # the buffer after every line, or searching it whole for "\r", made a body that
        # arrives in one read (a buffered 10k-chunk stream) quadratic.  What is left holds
        # no line ending, so the search starts where the new text does.
        start = len(self._buf)
        buf = self._buf + text
        before = len(self.events)
        pos = 0
        for m in _EOL.finditer(buf, start):
            line = buf[pos : m.start()]
            pos = m.end()
            if pos == len(buf) and m.group() == "\r":
                self._pending_cr = True  # its LF may come with the next read
            self._line(line, now)
        self._buf = buf[pos:]
        return self.events[before:]

    def _line(self, line: str, now: float) -> None:
        self._line_no += 1
        if line == "":
            if self._has_fields:
                self._dispatch(now, terminated=True)
            return
        if line.startswith(":"):
            return  # comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if not self._has_fields:
            self._event_line = self._line_no
        self._has_fields = True
        if name == "data":
            if sep and not line.startswith("data: "):
                self._fault("no-space-after-colon", f"line {self._line_no}: {line[:40]!r}")
            self._data.append(value)
        elif name == "event":
            self._event = value
        # id, retry and unknown field names are legal and ignored, as the standard says.

    def _dispatch(self, now: float, terminated: bool) -> None:
        data_lines = self._data
        self._data, self._has_fields = [], False
        event_name, self._event = self._event, None
        if not data_lines:
            return  # an event with no data is not dispatched
        data = "\n".join(data_lines)
        ev = Event(data=data, event=event_name, line=self._event_line, data_lines=len(data_lines), arrival=now)
        if self.done:
            if not self._after_done_reported:
                self._fault("data-after-done", f"line {ev.line}: {data[:60]!r} follows [DONE]")
                self._after_done_reported = True
            return
        if len(data_lines) > 1:
            parsed_lines = []
            for piece in data_lines:
                try:
                    parsed_lines.append(json.loads(piece))
                except ValueError:
                    parsed_lines = []
                    break
            if parsed_lines or DONE in data_lines:
                # Each line is a JSON document of its own: the server forgot the blank
                # line between events, and a standard client merges them into garbage.
                self._fault(
                    "merged-events", f"line {ev.line}: {len(data_lines)} data lines in one event, each a separate chunk"
                )
                for piece in data_lines:
                    self._emit(Event(data=piece, event=event_name, line=ev.line, data_lines=1, arrival=now))
                return
            self._fault("multi-line-data", f"line {ev.line}: one event split over {len(data_lines)} data lines")
        self._emit(ev)

    def _emit(self, ev: Event) -> None:
        if self.done:
            if not self._after_done_reported:
                self._fault("data-after-done", f"line {ev.line}: {ev.data[:60]!r} follows [DONE]")
                self._after_done_reported = True
            return
        if ev.data.strip() == DONE:
            ev.is_done = True
            self.done = True
            self.events.append(ev)
            return
        try:
            ev.json = json.loads(ev.data)
        except ValueError as exc:
            self._fault("non-json-data", f"line {ev.line}: {ev.data[:80]!r} ({exc.msg})")
            return
        if not isinstance(ev.json, dict):
            self._fault("not-an-object", f"line {ev.line}: {ev.data[:80]!r}")
            ev.json = None
            return
        self.events.append(ev)

    # -- results -----------------------------------------------------------------
    @property
    def chunks(self) -> list[dict]:
        return [e.json for e in self.events if e.json is not None]


def parse(raw: bytes) -> SSEParser:
    """Parse a whole recorded stream at once (tests, re-judging)."""
    p = SSEParser()
    p.feed(raw)
    p.close()
    return p
