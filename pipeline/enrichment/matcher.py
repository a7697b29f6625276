"""One-pass multi-pattern matching (Aho-Corasick) of gazetteer names in text,
respecting word boundaries and the case a name requires."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

import ahocorasick_rs

from pipeline.enrichment.textfold import fold, is_arabic, is_unspaced
from vigie.article import EntityType

# One-letter Arabic proclitics (and, with, for, so, like) written joined to the
# next word: "وروسيا" is "and Russia".
_ARABIC_PROCLITICS = frozenset("وبلفك")
# The letters and digits that continue a word: what str.isalnum() accepts is what
# re's \w accepts, less "_" (one C-level scan instead of a loop over characters).
_WORD_TAIL = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Pattern:
    """One way of writing one entity."""

    id: str  # "": a name that holds an entity's name but is none (Latin America)
    type: EntityType
    form: str  # as written in the source list
    # "exact": every letter's case as in `form` (acronyms: UN, not "un").
    # "cased": the capitals of `form` must be capitals in the text.
    case: Literal["exact", "cased"] = "cased"
    # How many more letters the word may have after the form: inflected endings in
    # languages where listing them is impractical (Russian, Arabic theme stems).
    max_extra: int = 0
    # Languages whose documents may match it; None: any document.
    languages: frozenset[str] | None = None


class Match(NamedTuple):
    pattern: Pattern
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Candidate:
    """A pattern with its case check worked out once, at build time."""

    pattern: Pattern
    capitals: tuple[int, ...]  # positions that must not be lower-case in the text
    # exact case: which letters of the form are upper-case (None: "cased")
    upper: list[bool] | None

    @classmethod
    def of(cls, pattern: Pattern) -> _Candidate:
        capitals = tuple(i for i, c in enumerate(pattern.form) if c.isupper())
        upper = [c.isupper() for c in pattern.form] if pattern.case == "exact" else None
        return cls(pattern, capitals, upper)

    def case_ok(self, surface: str) -> bool:
        # The surface has the form's length (folding keeps every character in place).
        if self.upper is not None:
            return list(map(str.isupper, surface)) == self.upper
        return not any(map(str.islower, map(surface.__getitem__, self.capitals)))

    def accepts(self, surface: str, extra: int, language: str | None) -> bool:
        pattern = self.pattern
        return (
            extra <= pattern.max_extra
            and (pattern.languages is None or language is None or language in pattern.languages)
            and self.case_ok(surface)
        )


@dataclass(frozen=True)
class _Key:
    """Everything one folded form may mean."""

    candidates: tuple[_Candidate, ...]
    max_extra: int  # the most letters any candidate lets the word have after the form
    one_id: bool  # all candidates name the same entity: the first accepted is the answer

    @classmethod
    def of(cls, patterns: Iterable[Pattern]) -> _Key:
        candidates = tuple(_Candidate.of(p) for p in dict.fromkeys(patterns))
        return cls(
            candidates,
            max(c.pattern.max_extra for c in candidates),
            len({c.pattern.id for c in candidates}) == 1,
        )

    def pattern(self, surface: str, extra: int, language: str | None) -> Pattern | None:
        """The pattern this surface is, or None (none accepts it, or several
        entities would: a surface form that means more than one is left out)."""
        if self.one_id:
            for c in self.candidates:
                if c.accepts(surface, extra, language):
                    return c.pattern
            return None
        kept = [c.pattern for c in self.candidates if c.accepts(surface, extra, language)]
        if not kept or any(p.id != kept[0].id for p in kept):
            return None
        return kept[0]


def _joined_ok(text: str, start: int) -> bool:
    """Whether a match may start right after a letter or digit: in a script
    written without spaces, or after an Arabic proclitic at a word's start."""
    return is_unspaced(text[start]) or (
        is_arabic(text[start])
        and text[start - 1] in _ARABIC_PROCLITICS
        and (start == 1 or not text[start - 2].isalnum())
    )


def _is_katakana(char: str) -> bool:
    # With the prolonged sound mark ー; not the middle dot ・, which separates the
    # words of a foreign name (バイデン in ジョー・バイデン is the surname).
    return 0x30A0 <= ord(char) <= 0x30FF and char != "・"


def _inside_katakana(text: str, start: int, end: int) -> bool:
    """Whether a match is part of a longer katakana word (タイ in タイプパッド):
    katakana words are loanwords written as one run, so the run is the word."""
    return (_is_katakana(text[start]) and start > 0 and _is_katakana(text[start - 1])) or (
        _is_katakana(text[end - 1]) and end < len(text) and _is_katakana(text[end])
    )


def _extra_letters(text: str, end: int) -> int:
    """Letters between the end of a match and the end of its word (0: a whole word)."""
    if end == len(text) or not text[end].isalnum() or is_unspaced(text[end - 1]):
        return 0
    tail = _WORD_TAIL.match(text, end)
    return tail.end() - end if tail else 0


class Matcher:
    def __init__(self, patterns: Iterable[Pattern]) -> None:
        by_key: dict[str, list[Pattern]] = {}
        for pattern in patterns:
            key = fold(pattern.form)
            if key.strip():
                by_key.setdefault(key, []).append(pattern)
        # A key's case checks are worked out the first time it matches: most of the
        # 130,000 names never do in a worker's life, and working them all out
        # first would add seconds to every start.
        self._patterns = list(by_key.values())
        self._keys: list[_Key | None] = [None] * len(self._patterns)
        # Leftmost-longest: at each place, the longest name that starts there, then
        # on after its end. The contiguous NFA scans 2.5x as fast as the default
        # (non-contiguous) for some 20 MB more; a DFA would take some 450 MB more.
        self._automaton = ahocorasick_rs.AhoCorasick(
            by_key,
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )
        self.size = len(by_key)

    def find(self, text: str, language: str | None = None) -> Iterator[Match]:
        """Longest non-overlapping matches, left to right. A surface form that
        means more than one entity in this document is left out."""
        if not text or not self.size:
            return
        keys = self._keys
        for index, start, end in self._automaton.find_matches_as_indexes(fold(text)):
            # Cheapest refusals first: most raw matches are inside a longer word.
            if start and text[start - 1].isalnum() and not _joined_ok(text, start):
                continue
            if is_unspaced(text[start]) and _inside_katakana(text, start, end):
                continue
            key = keys[index]
            if key is None:
                key = keys[index] = _Key.of(self._patterns[index])
            extra = _extra_letters(text, end)
            if extra > key.max_extra:
                continue
            pattern = key.pattern(text[start:end], extra, language)
            if pattern is not None and pattern.id:
                yield Match(
                    pattern=pattern, start=start, end=end + extra, text=text[start : end + extra]
                )
