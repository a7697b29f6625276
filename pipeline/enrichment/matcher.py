"""One-pass multi-pattern matching (Aho-Corasick) of gazetteer names in text,
respecting word boundaries and the case a name requires."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import ahocorasick

from pipeline.enrichment.textfold import fold, is_arabic, is_unspaced
from vigie.article import EntityType

# One-letter Arabic proclitics (and, with, for, so, like) written joined to the
# next word: "وروسيا" is "and Russia".
_ARABIC_PROCLITICS = frozenset("وبلفك")


@dataclass(frozen=True)
class Pattern:
    """One way of writing one entity."""

    id: str
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


@dataclass(frozen=True)
class Match:
    pattern: Pattern
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Candidate:
    """A pattern with its case check worked out once, at build time."""

    pattern: Pattern
    capitals: tuple[int, ...]  # positions that must not be lower-case in the text
    exact: bool

    @classmethod
    def of(cls, pattern: Pattern) -> _Candidate:
        capitals = tuple(i for i, c in enumerate(pattern.form) if c.isupper())
        return cls(pattern, capitals, pattern.case == "exact")

    def case_ok(self, surface: str) -> bool:
        if self.exact:
            return all(
                a.isupper() == b.isupper() for a, b in zip(self.pattern.form, surface, strict=False)
            )
        return not any(surface[i].islower() for i in self.capitals if i < len(surface))


def _left_ok(text: str, start: int) -> bool:
    if start == 0 or is_unspaced(text[start]):
        return True
    before = text[start - 1]
    if not before.isalnum():
        return True
    return (
        is_arabic(text[start])
        and before in _ARABIC_PROCLITICS
        and (start == 1 or not text[start - 2].isalnum())
    )


def _extra_letters(text: str, end: int) -> int:
    """Letters between the end of a match and the end of its word (0: a whole word)."""
    if is_unspaced(text[end - 1]):
        return 0
    extra = 0
    while end + extra < len(text) and text[end + extra].isalnum():
        extra += 1
    return extra


class Matcher:
    def __init__(self, patterns: Iterable[Pattern]) -> None:
        by_key: dict[str, list[Pattern]] = {}
        for pattern in patterns:
            key = fold(pattern.form)
            if key.strip():
                by_key.setdefault(key, []).append(pattern)
        self._automaton = ahocorasick.Automaton()
        for key, found in by_key.items():
            candidates = tuple(_Candidate.of(p) for p in dict.fromkeys(found))
            self._automaton.add_word(key, (len(key), candidates))
        self._automaton.make_automaton()
        self.size = len(by_key)

    def find(self, text: str, language: str | None = None) -> Iterator[Match]:
        """Longest non-overlapping matches, left to right. A surface form that
        means more than one entity in this document is left out."""
        if not text or not self.size:
            return
        for last, (length, candidates) in self._automaton.iter_long(fold(text)):
            start, end = last - length + 1, last + 1
            if not _left_ok(text, start):
                continue
            surface = text[start:end]
            extra = _extra_letters(text, end)
            kept = [
                c.pattern
                for c in candidates
                if extra <= c.pattern.max_extra
                and c.case_ok(surface)
                and (
                    c.pattern.languages is None
                    or language is None
                    or language in c.pattern.languages
                )
            ]
            if not kept or any(p.id != kept[0].id for p in kept):
                continue
            end += extra
            yield Match(pattern=kept[0], start=start, end=end, text=text[start:end])
