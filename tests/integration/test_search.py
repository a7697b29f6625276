"""The articles index on the real engine: templates, language analysis, filters,
aggregations, rollover, and refused documents; through both adapters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.search.clients import connect
from pipeline.search.documents import to_document
from pipeline.search.engine import SearchEngine
from pipeline.search.query import ArticleQuery, search_body
from pipeline.search.templates import (
    Indices,
    Names,
    articles_body,
    rollover,
    rollover_conditions,
    setup,
)
from tests.conftest import SAMPLE_FEED, make_article
from tests.integration.conftest import Adapter, Stack, indexed, wait_for
from vigie.article import Article, Source, Tag, article_id
from vigie.settings import Settings

pytestmark = pytest.mark.both_adapters


def _article(
    url: str,
    title: str,
    body: str,
    language: str,
    tags: tuple[tuple[str, str, str], ...] = (),
    published: datetime | None = None,
    feed: str = "test",
) -> Article:
    return make_article(
        url,
        title,
        body,
        source=Source(feed_id=feed, name=feed.title()),
        language=language,
        tags=tuple(Tag(id=i, label=label, kind=kind) for i, label, kind in tags),
        published_at=published,
    )


KP = ("country:KP", "Corée du Nord", "country")
RU = ("country:RU", "Russie", "country")
US = ("country:US", "États-Unis", "country")

ARTICLES = [
    _article(
        "https://fr.example/a",
        "Reprise des négociations",
        "Les négociations entre Pyongyang et Moscou ont repris mardi.",
        "fr",
        (KP, RU),
        datetime(2025, 2, 1, tzinfo=UTC),
        feed="lemonde",
    ),
    _article(
        "https://en.example/b",
        "Talks resume",
        "Negotiations between Washington and Pyongyang resumed on Tuesday.",
        "en",
        (KP, US),
        datetime(2025, 2, 10, tzinfo=UTC),
        feed="bbc",
    ),
    _article(
        "https://de.example/c",
        "Gespräche",
        "Die Verhandlungen zwischen Moskau und Washington gehen weiter.",
        "de",
        (RU, US),
        datetime(2025, 2, 20, tzinfo=UTC),
        feed="spiegel",
    ),
]


@pytest.fixture(scope="module")
def index(adapter: Adapter) -> Iterator[tuple[SearchEngine, Settings]]:
    settings = adapter.settings(index_articles=f"test-{uuid.uuid4().hex[:10]}-articles")
    engine = connect(settings)
    setup(engine, Indices.from_settings(settings), settings.config_dir)
    items = engine.bulk_index(settings.index_articles, [(a.id, to_document(a)) for a in ARTICLES])
    assert all(item.ok for item in items), items
    engine.refresh(settings.index_articles)
    yield engine, settings
    engine.delete_index(f"{settings.index_articles}-*")
    engine.close()


def _ids(engine: SearchEngine, settings: Settings, query: ArticleQuery, **kw: object) -> list[str]:
    body = search_body(query, **kw)  # type: ignore[arg-type]
    return [hit.id for hit in engine.search(settings.index_articles, body).hits]


def test_setup_is_idempotent_and_makes_a_write_alias(
    index: tuple[SearchEngine, Settings],
) -> None:
    engine, settings = index
    names = Names(settings.index_articles)
    assert engine.alias_indices(names.alias) == {names.first_index: True}
    again = setup(engine, Indices.from_settings(settings), settings.config_dir)
    assert again[-1] == f"alias {names.alias} exists, mapping brought up to date"
    assert engine.alias_indices(names.alias) == {names.first_index: True}


def test_mapping_is_explicit_with_language_fields(index: tuple[SearchEngine, Settings]) -> None:
    body = articles_body(Settings().config_dir)
    mapping = body["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["i18n"]["properties"]["fr"]["properties"]["body"] == {
        "type": "text",
        "analyzer": "french",
    }


def test_french_query_finds_the_inflected_french_word(index: tuple[SearchEngine, Settings]) -> None:
    engine, settings = index
    french = article_id("https://fr.example/a")
    assert _ids(engine, settings, ArticleQuery(text="négociation")) == [french]
    # Without the French analyzer, the singular does not find the plural:
    plain = engine.search(settings.index_articles, {"query": {"match": {"body": "négociation"}}})
    assert plain.total == 0


def test_english_query_is_stemmed_in_english(index: tuple[SearchEngine, Settings]) -> None:
    engine, settings = index
    assert _ids(engine, settings, ArticleQuery(text="negotiating")) == [
        article_id("https://en.example/b")
    ]


def test_filters(index: tuple[SearchEngine, Settings]) -> None:
    engine, settings = index
    fr, en, de = (a.id for a in ARTICLES)
    assert set(_ids(engine, settings, ArticleQuery(all_tags=("Corée du Nord", "country:RU")))) == {
        fr
    }
    assert set(_ids(engine, settings, ArticleQuery(any_tags=("country:US",)))) == {en, de}
    assert _ids(engine, settings, ArticleQuery(languages=("de",))) == [de]
    assert _ids(engine, settings, ArticleQuery(sources=("Bbc",))) == [en]
    since = datetime(2025, 2, 5, tzinfo=UTC)
    assert _ids(engine, settings, ArticleQuery(since=since), sort="oldest") == [en, de]
    assert _ids(engine, settings, ArticleQuery(), sort="newest") == [de, en, fr]


def test_top_tags_aggregation(index: tuple[SearchEngine, Settings]) -> None:
    engine, settings = index
    result = engine.search(settings.index_articles, search_body(ArticleQuery(), top_tags=5))
    counts = {b["key"]: b["doc_count"] for b in result.aggregations["top_tags"]["buckets"]}
    assert counts == {"Corée du Nord": 2, "Russie": 2, "États-Unis": 2}


def test_rollover_makes_the_next_index_and_search_sees_both(adapter: Adapter) -> None:
    settings = adapter.settings(
        index_articles=f"test-{uuid.uuid4().hex[:10]}-articles", rollover_max_docs=2
    )
    engine = connect(settings)
    try:
        setup(engine, Indices.from_settings(settings), settings.config_dir)
        names = Names(settings.index_articles)
        first, second, third = ARTICLES
        engine.bulk_index(names.alias, [(first.id, to_document(first))])
        engine.refresh(names.alias)
        assert (
            rollover(engine, settings.index_articles, rollover_conditions(settings)) is None
        )  # 1 document: no condition met
        engine.bulk_index(names.alias, [(second.id, to_document(second))])
        engine.refresh(names.alias)
        assert (
            rollover(engine, settings.index_articles, rollover_conditions(settings))
            == f"{names.alias}-000002"
        )
        engine.bulk_index(names.alias, [(third.id, to_document(third))])
        engine.refresh(names.alias)
        assert engine.alias_indices(names.alias) == {
            names.first_index: False,
            f"{names.alias}-000002": True,
        }
        result = engine.search(names.alias, {"query": {"match_all": {}}, "size": 10})
        assert {hit.id for hit in result.hits} == {a.id for a in ARTICLES}
        assert {hit.index for hit in result.hits} == {names.first_index, f"{names.alias}-000002"}
        # the new index has the same explicit mapping, from the template
        found = engine.search(
            f"{names.alias}-000002", search_body(ArticleQuery(text="Verhandlung"))
        )
        assert [hit.id for hit in found.hits] == [third.id]
    finally:
        engine.delete_index(f"{settings.index_articles}-*")
        engine.close()


def test_a_refused_document_goes_to_the_dlq_and_its_neighbours_are_indexed(stack: Stack) -> None:
    # Lucene refuses a keyword term over 32766 bytes: the engine rejects this one
    # document of the batch, for good.
    huge_url = "https://bad.example/" + "x" * 40_000
    good = [f"https://good.example/{n}" for n in range(3)]
    messages = [
        _article(good[0], "Avant", "Un article normal.", "fr"),
        _article(huge_url, "Trop long", "Son adresse dépasse la limite d'un terme.", "fr"),
        _article(good[1], "Après", "Un autre article normal.", "fr"),
        _article(good[2], "Encore", "Et un troisième.", "fr"),
    ]
    stack.produce(stack.settings.topic_enriched, [m.model_dump_json().encode() for m in messages])
    worker = stack.start_worker("--exit-after", "3")
    assert worker.wait(timeout=120) == 0, stack.worker_log()
    engine = connect(stack.settings)
    try:
        hits = indexed(engine, stack.settings.index_articles, {"match_all": {}})
    finally:
        engine.close()
    assert {hit.source["canonical_url"] for hit in hits} == set(good)

    # The percolator refuses it too (stage "match") when the worker got that far
    # before --exit-after stopped it; the index's refusal is always there.
    def with_index_letter() -> list[dict[str, Any]] | None:
        found = stack.consume(stack.settings.topic_dlq, 2, timeout=5)
        return found if any(letter["stage"] == "index" for letter in found) else None

    letters = wait_for("the index's dead letter", with_index_letter)
    assert {letter["stage"] for letter in letters} <= {"index", "match"}
    (letter,) = [letter for letter in letters if letter["stage"] == "index"]
    assert letter["reason"].startswith("search engine refused it:")
    assert "immense" in letter["reason"] or "32766" in letter["reason"]
    assert json.loads(letter["payload"])["canonical_url"] == huge_url


@pytest.mark.opensearch_only(
    reason="`vigie search` makes the requests the tests above make through both adapters; "
    "the worker it needs costs 18 s"
)
def test_search_cli_with_filters_and_top_tags(stack: Stack) -> None:
    ingest = stack.run("ingest", str(SAMPLE_FEED), "--feed-id", "vigie-sample")
    assert ingest.returncode == 0, ingest.stderr
    worker = stack.start_worker("--exit-after", "1")
    assert worker.wait(timeout=120) == 0, stack.worker_log()
    found = stack.run(
        "search", "négociation", "--tag", "Corée du Nord", "--tag", "Russie",
        "--lang", "fr", "--since", "2025-01-01", "--top-tags", "30", "--json",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    lines = [json.loads(line) for line in found.stdout.splitlines()]
    assert lines[0]["title"].startswith("Donald Trump veut")
    top = lines[-1]["top_tags"]
    assert top["Corée du Nord"] == 1
    assert {"Russie", "Chine", "Japon", "Donald Trump", "Kim Jong-un"} <= set(top)
    none = stack.run("search", "--tag", "Corée du Nord", "--lang", "de")
    assert none.returncode == 1
