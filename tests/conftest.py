from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich import Enricher
from vigie.article import Article
from vigie.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FEED = REPO / "samples" / "seed-feed.xml"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def seed_article() -> Article:
    """The reference article as the connector reads it from the sample feed."""
    from connectors.feed import FeedSource, parse_feed, read_feed

    parsed = parse_feed(read_feed(str(SAMPLE_FEED)), FeedSource("vigie-sample", str(SAMPLE_FEED)))
    assert len(parsed.articles) == 1
    return parsed.articles[0]


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    return Enricher.from_settings(Settings())
