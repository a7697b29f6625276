"""The article schema, defined once: connectors fill the first block, `enrich` the rest.

The same field names are the wire format on Kafka (JSON), the search index
mapping and what `vigie enrich` prints.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Record):
    feed_id: str = Field(min_length=1)
    name: str | None = None
    language_hint: str | None = None
    tags: tuple[str, ...] = ()  # the feed's own tags from config/feeds.yaml


class Media(_Record):
    """An enclosure, media:content or media:thumbnail of an entry."""

    url: str = Field(min_length=1)
    type: str | None = None  # MIME type as declared
    medium: str | None = None  # image, video, audio, ...
    length: int | None = Field(default=None, ge=0)


class LanguageShare(_Record):
    lang: str
    share: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)


TextField = Literal["title", "summary", "body"]
EntityType = Literal["PER", "ORG", "LOC", "MISC"]


class Entity(_Record):
    type: EntityType
    id: str | None  # stable id where known (country:KP, person:..., org:UN, theme:...)
    name: str  # canonical name, in the display language
    text: str  # as found
    start: int = Field(ge=0)  # offsets into `field` of the enriched (cleaned) article
    end: int = Field(ge=0)
    field: TextField = "body"
    # gazetteer: a name Vigie lists; rules: a person found by the name rules
    # (people.py, id `person:~<name>`); ner: a statistical model's find
    source: Literal["gazetteer", "rules", "ner"]


class Tag(_Record):
    id: str
    label: str
    kind: Literal["country", "person", "org", "theme"]


class Article(_Record):
    # Filled by connectors.
    id: str = Field(min_length=1)
    # An entry without a usable link of its own (newsletters, press releases, agency
    # wires: the text is the news) has no canonical URL; its `url` is then the feed's
    # site, or None, and `notes` says so.
    url: str | None = Field(default=None, min_length=1)
    canonical_url: str | None = Field(default=None, min_length=1)
    source: Source
    title: str
    summary: str = ""
    body: str = ""
    authors: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    fetched_at: datetime
    # True when the feed gave no usable publication date; published_at is then None
    # rather than an invented time.
    date_missing: bool = False

    # Filled by `enrich`.
    language: str | None = None
    languages: tuple[LanguageShare, ...] = ()
    language_declared: str | None = None
    language_mismatch: bool = False
    entities: tuple[Entity, ...] = ()
    tags: tuple[Tag, ...] = ()
    content_hash: str | None = None
    duplicate_of: str | None = None
    # The story (pipeline/signals/stories.py): the id of its first article.
    story_id: str | None = None
    # What enrichment could not do for this article, and why (empty text, ...).
    notes: tuple[str, ...] = ()

    @field_validator("published_at", "updated_at", "fetched_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # year 9999 at UTC-1: past datetime's range
            raise ValueError(f"out of range in UTC: {value.isoformat()}") from exc


def article_id(canonical_url: str, *told_apart_by: str) -> str:
    """Stable id of an article: the first 64 bits of SHA-256 of its canonical URL,
    followed by what tells it apart from other entries of that URL (its GUID, its
    link's fragment and title) when there are some; an entry without a link has, for
    URL, a key naming its feed (connectors/identity.py)."""
    key = "\n".join((canonical_url, *told_apart_by))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


# Bounds on an article's text: Kafka takes messages of 1 MB, and enrichment time
# grows with the text. Connectors cut to these; `capped` is the same cut for
# anything else that makes an article (full text, other producers).
TITLE_CHARS = 2_000
TEXT_CHARS = 100_000


def capped(article: Article) -> Article:
    """The article with title, summary and body within bounds, noted when cut."""
    update: dict[str, object] = {}
    notes = list(article.notes)
    for name, limit in (("title", TITLE_CHARS), ("summary", TEXT_CHARS), ("body", TEXT_CHARS)):
        text: str = getattr(article, name)
        if len(text) > limit:
            update[name] = text[:limit]
            notes.append(f"{name} cut from {len(text)} to {limit} characters")
    if not update:
        return article
    return article.model_copy(update={**update, "notes": tuple(notes)})
