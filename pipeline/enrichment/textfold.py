"""Case and accent folding that keeps every character in place, so offsets found
in folded text are offsets in the original."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache

import numpy as np

from pipeline.enrichment.memo import Memo

# Characters that differ in spelling habits, not meaning.
_EQUIVALENT = {
    "’": "'",
    "ʼ": "'",
    "‘": "'",
    "`": "'",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "\u00a0": " ",
    "\u202f": " ",
    "ё": "е",
}
# Accents are folded in Latin, Greek and Cyrillic only: below this code point.
# Hangul or Arabic letters decompose into parts that are not separate letters.
_FOLD_ACCENTS_BELOW = 0x0530


def _fold_char(char: str) -> str:
    low = char.lower()
    if len(low) != 1:
        low = char
    if ord(low) < _FOLD_ACCENTS_BELOW or 0x1E00 <= ord(low) <= 0x1EFF:
        parts = unicodedata.normalize("NFD", low)
        if len(parts) > 1 and all(unicodedata.combining(p) for p in parts[1:]):
            base = parts[0].lower()
            low = base if len(base) == 1 else parts[0]
    return _EQUIVALENT.get(low, low)


_WORD_CHARACTER = re.compile(r"\w")


def _fold_word_char(char: str) -> str:
    """The character's fold, or a space where that is not part of a word (\\w)."""
    folded = _fold_char(char)
    return folded if _WORD_CHARACTER.match(folded) else " "


class _Table(dict[int, str]):
    """A str.translate table that works out each character's value once."""

    def __init__(self, of: Callable[[str], str]) -> None:
        super().__init__()
        self.of = of

    def __missing__(self, code: int) -> str:
        value = self.of(chr(code))
        # Kept for the Basic Multilingual Plane only: a feed of every astral
        # character must not grow the table by a million entries in a worker.
        if code <= 0xFFFF:
            self[code] = value
        return value


_TABLE = _Table(_fold_char)
_WORDS_TABLE = _Table(_fold_word_char)


@cache
def _bmp(of: Callable[[str], str]) -> np.ndarray:
    """Each Basic Multilingual Plane code point's value (one character each)."""
    return np.array([ord(of(chr(c))) for c in range(0x10000)], dtype=np.uint32)


# Below this length, or in ASCII (CPython's own fast path), str.translate is quicker.
_SHORT = 64


def _translate(text: str, table: _Table) -> str:
    if len(text) < _SHORT or text.isascii():
        return text.translate(table)
    # str.translate looks up every other character through Python objects (a
    # 3 KB French article: 0.2 ms); as code points, one array lookup does them all.
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if int(codes.max()) > 0xFFFF:  # emoji and other astral characters: rare
        return text.translate(table)
    return _bmp(table.of)[codes].tobytes().decode("utf-32-le", "surrogatepass")


def _fold(text: str) -> str:
    return _translate(text, _TABLE)


# Words and short names are folded again and again (each capitalised word a few
# times per article, the same words across articles): a dict lookup is a seventh
# of str.translate's time on them. Bounded like every memo of a worker.
_MEMO_LENGTH = 32
_FOLDED = Memo(_fold, 32_768)


def fold(text: str) -> str:
    """Lower-case, strip Latin/Greek/Cyrillic accents, unify apostrophes and
    hyphens; the result has exactly the length of `text`."""
    return _FOLDED(text) if len(text) <= _MEMO_LENGTH else _translate(text, _TABLE)


def folded_words(text: str) -> list[str]:
    r"""The words of the folded text, as `re.findall(r"\w+", fold(text))` finds
    them, at a fraction of the regex's time: word characters are never spaces."""
    return _translate(text, _WORDS_TABLE).split()


# Scripts written without spaces between words: a match there cannot be checked
# against word boundaries (Korean particles also attach to the noun).
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x9FFF),  # CJK
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility
)


def is_unspaced(char: str) -> bool:
    code = ord(char)
    return code >= 0x0E00 and any(low <= code <= high for low, high in _UNSPACED_RANGES)


def is_arabic(char: str) -> bool:
    return 0x0600 <= ord(char) <= 0x06FF


def is_latin_like(text: str) -> bool:
    """True when the letters of `text` are Latin script (where case and words
    collide across languages)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(ord(c) < 0x0250 or 0x1E00 <= ord(c) <= 0x1EFF for c in letters)
