"""Self-tests for the committed fixtures (fixtures/media, fixtures/structured, fixtures/tools).

The parsers here are written independently of fixtures/make_fixtures.py: they read
the committed bytes and check them against the file-format specifications (PNG
chunk CRCs, JPEG markers plus a small baseline Huffman/IDCT decoder, RIFF/WAVE via
the `wave` module, MPEG audio frame headers).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import subprocess
import sys
import wave
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
MEDIA = FIXTURES / "media"
MAKE = FIXTURES / "make_fixtures.py"

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# ---------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def read_png(path: Path) -> tuple[dict, list[tuple[int, ...]]]:
    """Parse an 8-bit RGB, non-interlaced PNG; return (ihdr, rows of pixels)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIG, "bad PNG signature"
    pos = 8
    chunks = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert len(body) == length, f"truncated {kind!r} chunk"
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC in {kind!r} chunk"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data), "trailing bytes after the last chunk"
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", chunks[0][1])
    ihdr = dict(width=w, height=h, depth=depth, color_type=ctype, interlace=inter)
    assert (depth, ctype, comp, filt, inter) == (8, 2, 0, 0, 0), "expected 8-bit RGB"
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    stride = 1 + 3 * w
    assert len(raw) == h * stride
    rows = []
    for y in range(h):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0, "fixture rows use filter type None"
        rows.append([tuple(line[1 + 3 * x : 4 + 3 * x]) for x in range(w)])
    return ihdr, rows


def test_red_png():
    ihdr, rows = read_png(MEDIA / "red-16x16.png")
    assert (ihdr["width"], ihdr["height"]) == (16, 16)
    assert all(px == (255, 0, 0) for row in rows for px in row)


def test_checker_png():
    ihdr, rows = read_png(MEDIA / "checker-32x32.png")
    assert (ihdr["width"], ihdr["height"]) == (32, 32)
    colors = {px for row in rows for px in row}
    assert colors == {(0, 0, 0), (255, 255, 255)}
    assert rows[0][0] == (0, 0, 0) and rows[0][8] == (255, 255, 255)
    assert rows[8][0] == (255, 255, 255) and rows[8][8] == (0, 0, 0)
    assert rows[31][31] == (0, 0, 0)


def test_not_an_image_is_not_png():
    data = (MEDIA / "not-an-image.png").read_bytes()
    assert data and not data.startswith(PNG_SIG)
    data.decode("ascii")  # plain text


# ---------------------------------------------------------------------------
# JPEG
# ---------------------------------------------------------------------------


def zigzag_order() -> list[int]:
    """Natural (row-major) index of each zig-zag position, derived, not tabulated."""
    order = []
    for s in range(15):
        rows = range(max(0, s - 7), min(s, 7) + 1)
        if s % 2 == 0:
            rows = reversed(rows)
        order += [r * 8 + (s - r) for r in rows]
    return order


def jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Marker segments up to and including SOS, and the entropy-coded data after it."""
    assert data[:2] == b"\xff\xd8", "missing SOI"
    assert data[-2:] == b"\xff\xd9", "missing EOI"
    segments = []
    pos = 2
    while True:
        assert data[pos] == 0xFF, f"expected a marker at offset {pos}"
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            return segments, data[pos:-2]


def build_huffman(bits: bytes, vals: bytes) -> dict[tuple[int, int], int]:
    lookup = {}
    code = k = 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            lookup[(length, code)] = vals[k]
            code += 1
            k += 1
        code <<= 1
    return lookup


class BitReader:
    def __init__(self, data: bytes):
        assert re.search(rb"\xff[^\x00]", data) is None, "unexpected marker in scan"
        self.bytes = data.replace(b"\xff\x00", b"\xff")
        self.pos = 0  # in bits

    def bit(self) -> int:
        assert self.pos < len(self.bytes) * 8, "scan data ended inside a block"
        b = (self.bytes[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return b

    def bits(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v

    def decode(self, table: dict[tuple[int, int], int]) -> int:
        code = 0
        for length in range(1, 17):
            code = (code << 1) | self.bit()
            if (length, code) in table:
                return table[(length, code)]
        raise AssertionError("invalid Huffman code")

    def receive_extend(self, s: int) -> int:
        if s == 0:
            return 0
        v = self.bits(s)
        return v if v >= 1 << (s - 1) else v - (1 << s) + 1


def decode_baseline_gray(data: bytes) -> list[list[int]]:
    """A small baseline (SOF0), single-component JPEG decoder for the fixture."""
    segments, scan = jpeg_segments(data)
    markers = [m for m, _ in segments]
    assert markers[0] == 0xE0 and segments[0][1][:5] == b"JFIF\x00", "APP0 JFIF first"
    assert markers[-1] == 0xDA
    assert 0xC0 in markers and 0xDB in markers and 0xC4 in markers
    assert not {0xC1, 0xC2, 0xC3} & set(markers), "baseline only"

    qt, dc_tabs, ac_tabs = {}, {}, {}
    for marker, body in segments:
        if marker == 0xDB:
            p = 0
            while p < len(body):
                pq, tq = body[p] >> 4, body[p] & 15
                assert pq == 0, "baseline uses 8-bit quantisation tables"
                qt[tq] = body[p + 1 : p + 65]
                assert len(qt[tq]) == 64 and 0 not in qt[tq]
                p += 65
        elif marker == 0xC4:
            p = 0
            while p < len(body):
                tc, th = body[p] >> 4, body[p] & 15
                bits = body[p + 1 : p + 17]
                n = sum(bits)
                vals = body[p + 17 : p + 17 + n]
                assert len(vals) == n
                table = build_huffman(bits, vals)
                # No code may be all 1-bits (T.81 C): that prefix is reserved for padding.
                assert all(code != (1 << ln) - 1 for ln, code in table), "all-ones code"
                (ac_tabs if tc else dc_tabs)[th] = table
                if tc == 0:
                    assert all(v <= 11 for v in vals)
                p += 17 + n
        elif marker == 0xC0:
            precision, height, width, ncomp = struct.unpack(">BHHB", body[:6])
            assert precision == 8 and ncomp == 1 and len(body) == 6 + 3 * ncomp
            comp_id, sampling, tq = body[6:9]
            assert sampling == 0x11
    ns = segments[-1][1][0]
    sos = segments[-1][1]
    assert ns == 1 and sos[1] == comp_id and tuple(sos[3:6]) == (0, 63, 0)
    dc_tab, ac_tab = dc_tabs[sos[2] >> 4], ac_tabs[sos[2] & 15]
    q = qt[tq]
    zz = zigzag_order()

    reader = BitReader(scan)
    bw, bh = (width + 7) // 8, (height + 7) // 8
    image = [[0] * (bw * 8) for _ in range(bh * 8)]
    pred = 0
    for by in range(bh):
        for bx in range(bw):
            coef = [0] * 64
            pred += reader.receive_extend(reader.decode(dc_tab))
            coef[0] = pred * q[0]
            k = 1
            while k < 64:
                rs = reader.decode(ac_tab)
                r, s = rs >> 4, rs & 15
                if s == 0:
                    if r != 15:
                        break  # EOB
                    k += 16
                    continue
                k += r
                coef[zz[k]] = reader.receive_extend(s) * q[k]
                k += 1
            for y in range(8):
                for x in range(8):
                    acc = 0.0
                    for v in range(8):
                        for u in range(8):
                            c = coef[v * 8 + u]
                            if c:
                                cu = math.sqrt(0.5) if u == 0 else 1.0
                                cv = math.sqrt(0.5) if v == 0 else 1.0
                                acc += (
                                    cu * cv * c
                                    * math.cos((2 * x + 1) * u * math.pi / 16)
                                    * math.cos((2 * y + 1) * v * math.pi / 16)
                                )  # fmt: skip
                    image[by * 8 + y][bx * 8 + x] = min(255, max(0, round(acc / 4 + 128)))
    # Whatever is left must be < 8 bits of 1-padding.
    left = len(reader.bytes) * 8 - reader.pos
    assert left < 8 and reader.bits(left) == (1 << left) - 1, "bad scan padding"
    return [row[:width] for row in image[:height]]


def test_jpeg_marker_structure():
    data = (MEDIA / "gray-8x8.jpg").read_bytes()
    segments, scan = jpeg_segments(data)
    assert [m for m, _ in segments] == [0xE0, 0xDB, 0xC0, 0xC4, 0xDA]
    app0 = segments[0][1]
    assert app0[:5] == b"JFIF\x00" and len(app0) == 14
    assert struct.unpack(">BHHB", segments[2][1][:6]) == (8, 8, 8, 1)
    assert scan, "empty scan"


def test_jpeg_uses_standard_luminance_huffman_tables():
    segments, _ = jpeg_segments((MEDIA / "gray-8x8.jpg").read_bytes())
    (dht,) = [b for m, b in segments if m == 0xC4]
    assert dht[0] == 0x00 and list(dht[1:17]) == [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert list(dht[17:29]) == list(range(12))
    ac = dht[29:]
    assert ac[0] == 0x10 and list(ac[1:17]) == [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125]
    # The 162 AC symbols: EOB, ZRL and every (run 0..15, size 1..10).
    expected = {0x00, 0xF0} | {(r << 4) | s for r in range(16) for s in range(1, 11)}
    assert len(ac[17:]) == 162 and set(ac[17:]) == expected


def test_jpeg_decodes_to_uniform_gray():
    pixels = decode_baseline_gray((MEDIA / "gray-8x8.jpg").read_bytes())
    assert len(pixels) == 8 and all(len(row) == 8 for row in pixels)
    assert {p for row in pixels for p in row} == {160}


# ---------------------------------------------------------------------------
# WAV
# ---------------------------------------------------------------------------


def test_wav_tone():
    with wave.open(str(MEDIA / "tone-440hz.wav"), "rb") as w:
        assert w.getnchannels() == 1
        assert w.getsampwidth() == 2
        assert w.getframerate() == 8000
        assert w.getcomptype() == "NONE"
        n = w.getnframes()
        frames = w.readframes(n)
    assert n == 2000  # 0.25 s
    samples = struct.unpack(f"<{n}h", frames)
    assert 16000 <= max(samples) <= 16384 and -16384 <= min(samples) <= -16000
    # 440 Hz over 0.25 s: 110 cycles, ~220 sign changes.
    rises = sum(1 for a, b in zip(samples, samples[1:]) if a < 0 <= b)
    assert abs(rises - 110) <= 1


# ---------------------------------------------------------------------------
# MP3
# ---------------------------------------------------------------------------

MPEG1_L3_KBPS = [None, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, None]
MPEG1_RATES = [44100, 48000, 32000, None]


def test_mp3_frames():
    data = (MEDIA / "silence.mp3").read_bytes()
    pos = 0
    if data[:3] == b"ID3":
        assert data[3] in (2, 3, 4) and data[5] & 0x1F == 0
        size_bytes = data[6:10]
        assert all(b < 0x80 for b in size_bytes), "ID3v2 size must be syncsafe"
        size = 0
        for b in size_bytes:
            size = (size << 7) | b
        pos = 10 + size
    frames = 0
    while pos < len(data):
        (hdr,) = struct.unpack(">I", data[pos : pos + 4])
        assert hdr >> 21 == 0x7FF, f"no frame sync at offset {pos}"
        version, layer = (hdr >> 19) & 3, (hdr >> 17) & 3
        assert (version, layer) == (0b11, 0b01), "MPEG-1 Layer III"
        protected = not (hdr >> 16) & 1
        kbps = MPEG1_L3_KBPS[(hdr >> 12) & 15]
        rate = MPEG1_RATES[(hdr >> 10) & 3]
        padding = (hdr >> 9) & 1
        mono = (hdr >> 6) & 3 == 3
        assert (kbps, rate, mono, protected) == (32, 32000, True, False)
        length = 144 * kbps * 1000 // rate + padding
        assert length == 144
        assert pos + length <= len(data), "truncated frame"
        side_info = data[pos + 4 : pos + 4 + 17]
        assert side_info == bytes(17), "silent frame: all-zero side info"
        pos += length
        frames += 1
    assert pos == len(data)
    assert frames >= 3


# ---------------------------------------------------------------------------
# make_fixtures.py
# ---------------------------------------------------------------------------


def test_make_fixtures_check_passes():
    proc = subprocess.run([sys.executable, str(MAKE), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_make_fixtures_check_detects_drift(tmp_path):
    out = tmp_path / "media"
    shutil.copytree(MEDIA, out)
    (out / "red-16x16.png").write_bytes(b"tampered")
    (out / "silence.mp3").unlink()
    proc = subprocess.run([sys.executable, str(MAKE), "--check", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "red-16x16.png" in proc.stderr and "silence.mp3" in proc.stderr
    # Regenerating into the directory repairs it.
    subprocess.run([sys.executable, str(MAKE), "--out", str(out)], check=True, capture_output=True)
    for f in MEDIA.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes()


# ---------------------------------------------------------------------------
# Structured-output schemas and tool definitions
# ---------------------------------------------------------------------------

STRUCTURED = sorted((FIXTURES / "structured").glob("*.json"))
TOOLS = sorted((FIXTURES / "tools").glob("*.json"))


def closed_and_all_required(schema, where="schema"):
    """Assert OpenAI strict-mode shape: every object closed with all properties required."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            assert schema.get("additionalProperties") is False, f"{where}: not closed"
            assert sorted(schema.get("required", [])) == sorted(props), f"{where}: not all required"
        for key, sub in schema.items():
            if key in ("enum", "const", "required"):
                continue
            closed_and_all_required(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            closed_and_all_required(sub, f"{where}/{i}")


def test_fixture_counts():
    assert len(STRUCTURED) == 6
    assert len(TOOLS) == 5


@pytest.mark.parametrize("path", STRUCTURED, ids=lambda p: p.stem)
def test_structured_schema_valid(path):
    doc = json.loads(path.read_text())
    assert set(doc) == {"name", "schema"}
    assert NAME_RE.match(doc["name"]) and doc["name"] == path.stem
    Draft202012Validator.check_schema(doc["schema"])
    assert doc["schema"]["type"] == "object"


# One valid and one invalid instance per structured schema.
STRUCTURED_SAMPLES = {
    "contact_card": (
        {"full_name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 0000 0000"},
        {"full_name": "Ada Lovelace", "email": "ada@example.com"},
    ),
    "shipping_order": (
        {
            "order_id": "A-1",
            "customer": {
                "name": "Bo",
                "address": {"street": "1 Main St", "city": "Oslo", "postal_code": "0150", "country": "NO"},
            },
        },
        {"order_id": "A-1", "customer": {"name": "Bo", "address": {"city": "Oslo"}}},
    ),
    "todo_list": (
        {"tasks": [{"title": t, "done": False} for t in ("a", "b", "c")]},
        {"tasks": [{"title": "a", "done": False}]},
    ),
    "product_review": (
        {"sentiment": "positive", "rating": 5, "confidence_percent": 90},
        {"sentiment": "positive", "rating": 6, "confidence_percent": 90},
    ),
    "calendar_event_strict": (
        {
            "title": "Standup",
            "date": "2024-05-01",
            "all_day": False,
            "location": None,
            "attendees": [{"name": "Cy", "email": None}],
        },
        {"title": "Standup", "date": "2024-05-01", "all_day": False, "location": None, "attendees": [], "x": 1},
    ),
    "math_reasoning": (
        {
            "steps": [{"explanation": "8x + 7 = -23, so 8x = -30", "output": "8x = -30"}],
            "check": {"explanation": "8(-3.75) + 7 = -23", "output": "ok"},
            "final_answer": "x = -3.75",
        },
        {"steps": [{"explanation": "no output"}], "check": {"explanation": "", "output": ""}, "final_answer": ""},
    ),
}


@pytest.mark.parametrize("path", STRUCTURED, ids=lambda p: p.stem)
def test_structured_schema_samples(path):
    doc = json.loads(path.read_text())
    good, bad = STRUCTURED_SAMPLES[doc["name"]]
    validator = Draft202012Validator(doc["schema"])
    validator.validate(good)
    assert not validator.is_valid(bad)


def test_structured_strict_and_ref_shapes():
    docs = {p.stem: json.loads(p.read_text())["schema"] for p in STRUCTURED}
    closed_and_all_required(docs["calendar_event_strict"])
    ref = docs["math_reasoning"]
    assert "$defs" in ref and '"$ref": "#/$defs/' in json.dumps(ref)
    closed_and_all_required(ref)
    assert docs["todo_list"]["properties"]["tasks"]["minItems"] >= 1
    nested = docs["shipping_order"]["properties"]["customer"]["properties"]["address"]
    assert nested["type"] == "object"


@pytest.mark.parametrize("path", TOOLS, ids=lambda p: p.stem)
def test_tool_definition_valid(path):
    doc = json.loads(path.read_text())
    assert set(doc) == {"type", "function"} and doc["type"] == "function"
    fn = doc["function"]
    assert set(fn) <= {"name", "description", "parameters", "strict"}
    assert NAME_RE.match(fn["name"]) and fn["name"] == path.stem
    assert isinstance(fn["description"], str) and fn["description"]
    if "parameters" in fn:
        Draft202012Validator.check_schema(fn["parameters"])
        assert fn["parameters"]["type"] == "object"
    if fn.get("strict"):
        assert fn["strict"] is True
        closed_and_all_required(fn["parameters"])


def test_tool_variety():
    tools = {p.stem: json.loads(p.read_text())["function"] for p in TOOLS}
    weather = tools["get_weather"]["parameters"]
    assert weather["required"] == ["city"]
    assert weather["properties"]["city"]["type"] == "string"
    assert set(weather["properties"]["unit"]["enum"]) == {"celsius", "fahrenheit"}
    assert [n for n, f in tools.items() if "parameters" not in f] == ["get_server_time"]
    assert [n for n, f in tools.items() if f.get("strict")] == ["book_meeting_room"]
    enums = json.dumps(tools["classify_ticket"]).count('"enum"')
    assert enums >= 5
    shipment = tools["create_shipment"]["parameters"]["properties"]
    assert shipment["packages"]["type"] == "array"
    assert shipment["recipient"]["properties"]["address"]["type"] == "object"
