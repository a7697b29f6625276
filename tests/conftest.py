from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.enrichment.enrich import Enricher
from vigie.article import Article, Source, article_id
from vigie.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FEED = REPO / "samples" / "seed-feed.xml"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def seed_article() -> Article:
    """The reference article as the connector reads it from the sample feed."""
    from connectors.feed import parse_feed, read_feed
    from connectors.feedlist import FeedConfig

    parsed = parse_feed(
        read_feed(str(SAMPLE_FEED)), FeedConfig.at(str(SAMPLE_FEED), "vigie-sample")
    )
    assert len(parsed.articles) == 1
    return parsed.articles[0]


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    return Enricher.from_settings(Settings())


def make_article(url: str, title: str = "", body: str = "", **fields: Any) -> Article:
    """An article as a connector would produce it (plus any enriched fields given)."""
    fields.setdefault("source", Source(feed_id="test"))
    fields.setdefault("fetched_at", datetime(2025, 3, 1, tzinfo=UTC))
    return Article(id=article_id(url), url=url, canonical_url=url, title=title, body=body, **fields)


def enrich_text(enricher: Enricher, body: str, hint: str | None = None) -> Article:
    """`body` enriched as the article of a feed that declares `hint` its language."""
    source = Source(feed_id="t", language_hint=hint)
    return enricher.enrich(make_article("https://x.example/t", body=body, source=source))


def raw_message(url: str, title: str = "", body: str = "", **fields: Any) -> bytes:
    """The same, as the JSON bytes a connector puts on news.raw."""
    return make_article(url, title, body, **fields).model_dump_json().encode()
