"""Strings and numbers: unicode of every plane, edges of every documented range.

No lone surrogates anywhere (JSON encoders disagree about them: Python writes
`"\\ud800"`, others refuse or replace), so every generated string is valid UTF-8.
"""

from __future__ import annotations

import functools
import math

from hypothesis import strategies as st

# Text a tokenizer or a JSON layer can trip on, each valid Unicode.
TRICKY = (
    "",
    " ",
    "hello",
    "😀",  # astral (plane 1) emoji: a UTF-16 surrogate pair
    "👩🏽‍💻",  # ZWJ sequence with a skin-tone modifier
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # mathematical alphanumerics (plane 1)
    "\U00020000\U0002a6d6",  # CJK extension B (plane 2)
    "\U000e0041\U000e007f",  # tag characters (plane 14)
    "\U000f0000\U0010fffd",  # private use planes 15 and 16
    "e\u0301",  # e + combining acute
    "Z\u0324\u0354\u0367\u0311\u0313",  # stacked combining marks
    "\u200b\u200d\ufeff",  # zero-width space, joiner, BOM
    "\u202eevil",  # right-to-left override
    "中文 日本語 한국어",
    "עברית العربية",
    "line\nbreak\r\nand\ttab",
    'quote " backslash \\ slash /',
    "\x00\x01\x1f\x7f",  # control characters (escaped in JSON)
    "<|endoftext|>",
    "</s><s>[INST]",
    '{"json": [1, 2]}',
    "\u2028\u2029",  # JavaScript line terminators
)

# Characters that are more interesting than a uniform draw makes them.
_SPECIAL_CHARS = st.sampled_from(
    [
        "\u0301",
        "\u0308",
        "\u0324",
        "\u200d",
        "\ufe0f",
        "\U0001f600",
        "\U0001f9d1",
        "\U0001d518",
        "\U00020000",
        "\U0010fffd",
        "\x00",
        "\n",
        "\t",
        '"',
        "\\",
        "\u2028",
        "ß",
        "İ",
        "ﬁ",
    ]
)
CHARS = st.characters(codec="utf-8")  # every plane, surrogates excluded
ASTRAL = st.characters(min_codepoint=0x10000, codec="utf-8")
COMBINING = st.characters(categories=("Mn", "Mc", "Me"))

LONG_MAX = 2000  # long strings stay bounded: cost and speed


@functools.lru_cache(maxsize=None)
def texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Short text of any plane, empty included; for max_size >= 40, rarely long (up to
    LONG_MAX chars).

    Built from whole-string draws (one choice per string, not one per character): the
    suite draws thousands of strings per run and must stay fast."""
    half = max(1, max_size // 2)
    spiced = st.builds(
        lambda a, special, b: a + special + b,
        st.text(CHARS, max_size=half),
        _SPECIAL_CHARS,
        st.text(st.one_of(ASTRAL, COMBINING), max_size=half),
    )
    branches = [
        st.sampled_from(TRICKY),
        st.text(CHARS, max_size=max_size),
        spiced,
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=max_size),
    ]
    if max_size >= 40:
        branches.append(long_texts())  # message text only: names, stops, ids stay short
    return st.one_of(branches)


@functools.lru_cache(maxsize=None)
def long_texts() -> st.SearchStrategy[str]:
    return st.builds(
        lambda word, n: (word + " ") * n,
        st.sampled_from(["lorem", "日本", "😀", "e\u0301"]),
        st.integers(50, LONG_MAX // 6),
    )


_LOWER = "abcdefghijklmnopqrstuvwxyz"
_IDENT = _LOWER + "0123456789_"
_NAME = _LOWER + _LOWER.upper() + "0123456789_-"


@functools.lru_cache(maxsize=None)
def words() -> st.SearchStrategy[str]:
    """Short ASCII identifiers (property names, enum values): [a-z][a-z0-9_]{0,11}."""
    return st.builds(str.__add__, st.sampled_from(_LOWER), st.text(_IDENT, max_size=11))


@functools.lru_cache(maxsize=None)
def names(max_len: int = 64) -> st.SearchStrategy[str]:
    """Function / schema / participant names: ^[a-zA-Z0-9_-]{1,64}$, edges included."""
    return st.one_of(
        st.builds(str.__add__, st.sampled_from(_LOWER + "_"), st.text(_NAME, max_size=15)),
        st.sampled_from(["a", "_", "-", "0", "x" * max_len, "Tool-Name_9"]),
    )


# -- numbers -------------------------------------------------------------------------------
def _forms(value: float) -> list:
    """A value in both JSON number forms when it is whole (1 and 1.0)."""
    if float(value).is_integer():
        return [int(value), float(value)]
    return [value]


@functools.lru_cache(maxsize=None)
def number_in(lo: float, hi: float) -> st.SearchStrategy[float | int]:
    """Any number in [lo, hi]: often an edge in either JSON form (2 and 2.0), else the
    middle, 1, or any float in between (subnormals and exponent forms like 1e-05
    included) or any integer in between."""
    bounds = [f for v in (lo, hi) for f in _forms(v)]
    inner = [f for v in ((lo + hi) / 2, 1 if lo < 1 < hi else (lo + hi) / 4) for f in _forms(v)]
    return st.one_of(
        st.sampled_from(bounds),
        st.sampled_from(bounds + inner),
        st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False),
        st.integers(math.ceil(lo), math.floor(hi)),
    )


@functools.lru_cache(maxsize=None)
def integer_in(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi], the bounds often.  JSON integers stay integers (never 2.0)."""
    return st.one_of(st.sampled_from(sorted({lo, hi})), st.integers(lo, hi))
