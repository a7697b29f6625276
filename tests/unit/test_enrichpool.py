"""Enrichment in child processes: the same articles as in the worker's thread, a
dead child replaced, and no child left behind by a worker killed with SIGKILL."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from pipeline.enrichment.enrich import Enricher, EnrichmentTimeout
from pipeline.stream.enrichpool import Enriched, Outcome, ProcessEnrichment, ThreadEnrichment
from tests.conftest import children_outliving_a_kill, make_article
from vigie.article import Article
from vigie.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TEXT = (
    "Vladimir Poutine a reçu Kim Jong-un à Moscou. La Corée du Nord et la Russie "
    "ont signé un accord, selon le Kremlin."
)


FAR = 60.0  # seconds: no deadline in sight


def test_a_child_process_enriches_as_the_thread_does(enricher: Enricher) -> None:
    articles = [make_article(f"https://x.example/{n}", f"Sommet {n}", TEXT * 2) for n in range(3)]
    pool = ProcessEnrichment(Settings(), 1)
    thread = ThreadEnrichment(enricher)

    async def both() -> tuple[list[Outcome], list[Outcome]]:
        return await pool(articles, FAR), await thread(articles, FAR)

    try:
        apart, inside = asyncio.run(both())
    finally:
        pool.close()
        thread.close()
    assert apart == inside
    first = inside[0]
    assert isinstance(first, Enriched)
    assert {t.id for t in first.article.tags} >= {"country:KP", "country:RU"}
    assert len(first.signature) == 128  # long enough for a near-duplicate signature
    assert first.features[0]  # entity ids for stories


ODD = 'quote " backslash \\ newline \n nul \x00 line sep \u2028 é 東京 😀'


@pytest.mark.parametrize("duplicate_of", [None, "b2c3", ODD])
@pytest.mark.parametrize("story_id", [None, "s1", ODD])
def test_the_message_is_the_bytes_model_dump_json_writes(
    enricher: Enricher, duplicate_of: str | None, story_id: str | None
) -> None:
    """The worker sends `Enriched.message`, made of the article's JSON without
    its last fields and those fields appended: byte for byte what
    `model_dump_json` writes for the linked article with its story."""
    articles = [
        enricher.enrich(make_article(f"https://x.example/{n}", f"Sommet {n}", TEXT * n))
        for n in range(3)
    ]
    articles += [
        articles[1].model_copy(update={"notes": (ODD, "a second note"), "duplicate_of": ODD}),
        make_article(
            "https://x.example/raw", ODD, ODD, published_at=datetime(2025, 1, 1, tzinfo=UTC)
        ),
    ]
    for article in articles:
        expected = article.model_copy(update={"duplicate_of": duplicate_of, "story_id": story_id})
        enriched = Enriched.of(article)
        assert enriched.message(duplicate_of, story_id) == expected.model_dump_json().encode()
        assert enriched.article == article
        assert enriched.linked.id == article.id
        assert enriched.linked.content_hash == article.content_hash


class _Picky:
    """An enricher that fails on one title."""

    def enrich(self, article: Article, deadline: float | None = None) -> Article:
        if article.title == "bad":
            raise ValueError("cannot")
        return article


def test_an_article_the_enricher_fails_on_fails_alone() -> None:
    thread = ThreadEnrichment(cast(Enricher, _Picky()))
    titles = ["good", "bad", "fine"]
    articles = [make_article(f"https://x.example/{t}", t, TEXT) for t in titles]
    try:
        outcomes = asyncio.run(thread(articles, FAR))
    finally:
        thread.close()
    assert [type(o).__name__ for o in outcomes] == ["Enriched", "EnrichmentFailed", "Enriched"]
    assert str(outcomes[1]) == "ValueError('cannot')"


def test_a_dead_child_is_replaced_and_its_article_tried_again() -> None:
    pool = ProcessEnrichment(Settings(), 1)
    article = make_article("https://x.example/again", "Moscou", TEXT)

    async def run() -> list[Outcome]:
        await pool([article], FAR)
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)
        return await pool([article, article], FAR)  # tried again, alone, on a new child

    try:
        outcomes = asyncio.run(run())
        assert [o.article.language for o in outcomes if isinstance(o, Enriched)] == ["fr", "fr"]
    finally:
        pool.close()


CHILDREN = """
import asyncio, multiprocessing, sys, time
from pipeline.stream.enrichpool import ProcessEnrichment
from tests.conftest import make_article
from vigie.article import Article
from vigie.settings import Settings

async def main() -> None:
    pool = ProcessEnrichment(Settings(), 2)
    await pool([make_article("https://x.example/k", "Moscou", "La Russie.")], 60.0)
    print(" ".join(str(c.pid) for c in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_children_exit_when_the_worker_is_killed() -> None:
    assert children_outliving_a_kill(CHILDREN) == []


def test_an_article_past_twice_its_deadline_has_its_process_stopped() -> None:
    """A stage that runs away is not left to run: with no grace and no time at
    all, the article is given up and its child killed; the next one is enriched
    by a new child."""
    pool = ProcessEnrichment(Settings(), 1, grace=0.0)
    article = make_article("https://x.example/stuck", "Moscou", TEXT)

    async def run() -> list[Outcome]:
        children = multiprocessing.active_children()
        (stuck,) = await pool([article], 0.0)
        assert isinstance(stuck, EnrichmentTimeout)
        assert "its process was stopped" in str(stuck)
        for child in children:
            child.join(10)
            assert not child.is_alive()
        return await pool([article], FAR)

    try:
        (outcome,) = asyncio.run(run())
        assert isinstance(outcome, Enriched)
        assert outcome.article.language == "fr"
    finally:
        pool.close()
