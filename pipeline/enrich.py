"""What the `enrich` agent does to one article, as a plain function."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pipeline.clean import Cleaner
from pipeline.language import LanguageDetector
from vigie.article import Article
from vigie.settings import Settings


@dataclass(frozen=True)
class Enricher:
    cleaner: Cleaner
    detector: LanguageDetector

    @classmethod
    def from_settings(cls, settings: Settings) -> Enricher:
        return cls(
            cleaner=Cleaner.from_config(settings.config_dir / "boilerplate.yaml"),
            detector=LanguageDetector(),
        )

    def enrich(self, article: Article) -> Article:
        title = self.cleaner.clean(article.title)
        summary = self.cleaner.clean(article.summary)
        body = self.cleaner.clean(article.body)
        # Clean before detecting: an image URL first in the text made fastText say `en`
        # for the French reference article.
        found = self.detector.detect("\n".join(part for part in (title, body or summary) if part))
        declared = _primary_subtag(article.source.language_hint)
        return article.model_copy(
            update={
                "title": title,
                "summary": summary,
                "body": body,
                "language": found.language,
                "languages": found.languages,
                "language_declared": declared,
                "language_mismatch": bool(
                    declared and found.language and declared != found.language
                ),
                "content_hash": hashlib.sha256(" ".join(body.split()).encode()).hexdigest(),
            }
        )


def _primary_subtag(tag: str | None) -> str | None:
    if not tag:
        return None
    return tag.strip().replace("_", "-").split("-")[0].lower() or None
