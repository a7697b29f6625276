"""What the `enrich` agent does to one article, as a plain function."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pipeline.enrichment.buildcache import load_gazetteer
from pipeline.enrichment.clean import Cleaner
from pipeline.enrichment.entities import EntityLinker
from pipeline.enrichment.fragments import Fragment, foreign_openings
from pipeline.enrichment.language import LanguageDetector
from pipeline.enrichment.ner import StatisticalNer
from vigie.article import Article, Entity, LanguageShare, TextField, capped
from vigie.settings import Settings

# Below this confidence the detector is guessing (lists of names, junk): the
# language the source declares is the better answer, and without one, none is.
_TRUST_DETECTOR_FROM = 0.5
# Short texts (titles) score high even when wrong: "Merz in Paris" is 0.58 English.
_SHORT_TEXT = 60
_TRUST_ON_SHORT_TEXT_FROM = 0.9
_NO_LANGUAGE_BELOW = 0.3
# Mentions listed per article: a page that names Russia 15,000 times must not make
# a 2 MB message (Kafka refuses 1 MB).
MAX_ENTITIES = 500
FRAGMENT_CONFIDENCE = 0.5
_FRAGMENTS_LISTED = 5


class StageTimes:
    """Seconds spent in each stage since the last reset (benchmarks, metrics)."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[name] += time.perf_counter() - started

    def reset(self) -> dict[str, float]:
        seconds, self._seconds = dict(self._seconds), defaultdict(float)
        return seconds


@dataclass(frozen=True)
class Enricher:
    cleaner: Cleaner
    detector: LanguageDetector
    linker: EntityLinker
    ner: StatisticalNer | None = None
    timings: StageTimes = field(default_factory=StageTimes)

    @classmethod
    def from_settings(cls, settings: Settings) -> Enricher:
        gazetteer = load_gazetteer(
            settings.config_dir / "taxonomy", settings.display_language, settings.cache_dir
        )
        return cls(
            cleaner=Cleaner.from_config(settings.config_dir / "boilerplate.yaml"),
            detector=LanguageDetector(),
            linker=EntityLinker(gazetteer),
            ner=StatisticalNer(settings.ner_models) if settings.ner_models else None,
        )

    def enrich(self, article: Article, deadline: float | None = None) -> Article:
        """The enriched article. With `deadline` (a time.monotonic() value), raises
        EnrichmentTimeout when it is passed between two stages: every stage is
        linear in the (capped) text, so none can run far past it."""
        article = capped(article)
        with self.timings.stage("clean"):
            title = self.cleaner.clean(article.title)
            summary = self.cleaner.clean(article.summary)
            body = self.cleaner.clean(article.body)
        # Clean before detecting: an image URL first in the text made fastText say `en`
        # for the French reference article.
        analysed = "\n".join(part for part in (title, body or summary) if part)
        _check(deadline, "cleaning")
        with self.timings.stage("language"):
            found = self.detector.detect(analysed)
        _check(deadline, "language detection")
        declared = _primary_subtag(article.source.language_hint)
        trust_from = (
            _TRUST_ON_SHORT_TEXT_FROM if len(analysed) < _SHORT_TEXT else _TRUST_DETECTOR_FROM
        )
        language = found.language
        if found.confidence < trust_from:
            language = declared or (language if found.confidence >= _NO_LANGUAGE_BELOW else None)
        notes = []
        if not (title or summary or body):
            notes.append("no text left after cleaning: nothing to detect or link")
        elif language is None:
            notes.append("language: no language could be told from the text")
        elif language != found.language:
            notes.append(
                f"language: detector unsure ({found.language} at {found.confidence:.2f}); "
                f"kept the declared {declared}"
            )
        elif found.confidence < trust_from:
            notes.append(f"language: detector unsure ({found.language} at {found.confidence:.2f})")
        languages = found.languages
        if fragments := foreign_openings(body or summary, language):
            languages = with_fragments(languages, fragments, len(analysed))
            listed = ", ".join(dict.fromkeys(f.text for f in fragments[:_FRAGMENTS_LISTED]))
            notes.append(f"language: sentences of this {language} text open in another: {listed}")
        entities: list[Entity] = []
        texts: list[tuple[TextField, str]] = [
            ("title", title),
            ("summary", summary),
            ("body", body),
        ]
        authors = list(article.authors)  # bylines found in the text are added
        with self.timings.stage("gazetteer"):
            for where, text in texts:
                entities.extend(self.linker.find(text, where, language, authors))
        if self.ner is not None:
            _check(deadline, "the gazetteer")
            with self.timings.stage("ner"):
                for where, text in texts:
                    entities.extend(self.ner.find(text, where, language, entities))
        entities = self.linker.supported(entities)
        tags = self.linker.tags(entities)
        if len(entities) > MAX_ENTITIES:
            # Tags come from all of them; the mentions listed are the first ones.
            notes.append(f"entities: the first {MAX_ENTITIES} of {len(entities)} are listed")
            entities = entities[:MAX_ENTITIES]
        return article.model_copy(
            update={
                "title": title,
                "summary": summary,
                "body": body,
                "language": language,
                "languages": languages,
                "language_declared": declared,
                "language_mismatch": bool(
                    declared and found.language and declared != found.language
                ),
                "entities": tuple(entities),
                "authors": tuple(authors),
                "tags": tags,
                "content_hash": content_hash(title, summary, body),
                # The connector's notes (no link of its own, encoding assumed, date
                # unreadable, ...) stay: they are what the index tells readers.
                "notes": tuple(dict.fromkeys((*article.notes, *notes))),
            }
        )


def content_hash(title: str, summary: str, body: str) -> str | None:
    """The hash exact copies share: of the body, else the summary, else the title
    (feeds that give titles only); None for an article with no text at all.
    (Of the body alone, every title-only entry had the hash of "": each was
    taken for a copy of the first one.)"""
    text = " ".join((body or summary or title).split())
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def with_fragments(
    shares: tuple[LanguageShare, ...], fragments: list[Fragment], total: int
) -> tuple[LanguageShare, ...]:
    """The languages' shares with the fragments' characters added to theirs (a
    language seen only in fragments at FRAGMENT_CONFIDENCE: function words are
    evidence, not a model's verdict)."""
    extra: dict[str, int] = defaultdict(int)
    for fragment in fragments:
        extra[fragment.language] += len(fragment.text)
    merged = {s.lang: s for s in shares}
    for lang, chars in extra.items():
        share = round(chars / max(total, 1), 4)
        known = merged.get(lang)
        merged[lang] = LanguageShare(
            lang=lang,
            share=min(1.0, (known.share if known else 0.0) + share),
            confidence=known.confidence if known else FRAGMENT_CONFIDENCE,
        )
    return tuple(sorted(merged.values(), key=lambda s: -s.share))


class EnrichmentTimeout(RuntimeError):
    """An article took longer than its deadline (the message says where)."""


def _check(deadline: float | None, after: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise EnrichmentTimeout(f"enrichment deadline passed after {after}")


def _primary_subtag(tag: str | None) -> str | None:
    if not tag:
        return None
    return tag.strip().replace("_", "-").split("-")[0].lower() or None
