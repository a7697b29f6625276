"""The articles' indices over time on the real engine, through both adapters: one
copy of an article across rollovers, retention, replicas, the fields Kibana
counts and plots, and bringing an existing write index up to date."""

from __future__ import annotations

import copy
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipeline.search.clients import connect
from pipeline.search.documents import to_document
from pipeline.search.engine import SearchEngine
from pipeline.search.retention import expired, prune
from pipeline.search.templates import Indices, Names, articles_body, setup
from tests.conftest import make_article
from tests.integration.conftest import VIGIE, Adapter, Stack, indexed, wait_for
from vigie.article import Article, Entity, EntityType
from vigie.settings import Settings

pytestmark = pytest.mark.both_adapters

URL = "https://x.example/mise-a-jour"


@dataclass
class Alias:
    engine: SearchEngine
    settings: Settings
    env: dict[str, str]

    @property
    def names(self) -> Names:
        return Names(self.settings.index_articles)

    def write(self, *articles: Article) -> None:
        items = self.engine.bulk_index(self.names.alias, [(a.id, to_document(a)) for a in articles])
        assert all(item.ok for item in items), items

    def vigie(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VIGIE, *args], env={**os.environ, **self.env}, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip

    def copies(self, article_id: str) -> list[tuple[str, str]]:
        self.engine.refresh(self.names.alias)
        hits = self.engine.search(
            self.names.alias, {"query": {"ids": {"values": [article_id]}}, "size": 10}
        ).hits
        return sorted((hit.index, hit.source["title"]) for hit in hits)


def _private(adapter: Adapter) -> Settings:
    """Settings naming this test's own indices (the rules and deliveries indices too:
    setup changes them)."""
    tag = f"test-{uuid.uuid4().hex[:10]}"
    return adapter.settings(
        index_articles=f"{tag}-articles",
        index_alert_rules=f"{tag}-alert-rules",
        index_deliveries=f"{tag}-deliveries",
    )


def _drop(engine: SearchEngine, settings: Settings) -> None:
    # By name: Elasticsearch refuses to delete by wildcard.
    for index in engine.alias_indices(settings.index_articles):
        engine.delete_index(index)
    engine.delete_index(settings.index_alert_rules)
    engine.delete_index(settings.index_deliveries)


@pytest.fixture
def alias(adapter: Adapter) -> Iterator[Alias]:
    settings = _private(adapter)
    engine = connect(settings)
    setup(engine, Indices.from_settings(settings), settings.config_dir)
    env = {
        **adapter.env,
        "VIGIE_INDEX_ARTICLES": settings.index_articles,
        "VIGIE_INDEX_ALERT_RULES": settings.index_alert_rules,
        "VIGIE_INDEX_DELIVERIES": settings.index_deliveries,
    }
    yield Alias(engine, settings, env)
    _drop(engine, settings)
    engine.close()


def _version(title: str, **fields: Any) -> Article:
    return make_article(URL, title, "Texte.", **fields)


def test_an_article_updated_after_a_forced_rollover_is_in_one_index(alias: Alias) -> None:
    first, second = alias.names.first_index, f"{alias.names.alias}-000002"
    alias.write(_version("Version 1"))
    # No refresh in between: the rollover makes the old index's last write visible.
    rolled = alias.vigie("es", "rollover", "--force")
    assert rolled.returncode == 0, rolled.stderr
    assert second in rolled.stdout
    alias.write(_version("Version 2"))
    assert alias.copies(_version("").id) == [(second, "Version 2")]
    assert alias.engine.alias_indices(alias.names.alias) == {first: False, second: True}

    # And again across a second rollover; the other articles stay where they are.
    other = make_article("https://x.example/autre", "Autre", "Texte.")
    alias.write(other)
    assert alias.vigie("es", "rollover", "--force").returncode == 0
    alias.write(_version("Version 3"))
    assert alias.copies(_version("").id) == [(f"{alias.names.alias}-000003", "Version 3")]
    assert alias.copies(other.id) == [(second, "Autre")]


def test_retention_deletes_indices_past_it_and_never_the_write_index(alias: Alias) -> None:
    for n in range(2):
        alias.write(make_article(f"https://x.example/{n}", f"Article {n}", "Texte."))
        assert alias.vigie("es", "rollover", "--force").returncode == 0
    behind = alias.engine.alias_indices(alias.names.alias)
    assert len(behind) == 3
    write = next(index for index, is_write in behind.items() if is_write)
    assert expired(alias.engine, alias.names.alias, 1) == []  # rolled over just now
    later = datetime.now(UTC) + timedelta(days=2)
    assert expired(alias.engine, alias.names.alias, 1, now=later) == sorted(set(behind) - {write})

    none = alias.vigie("es", "prune")
    assert none.returncode == 1
    assert "VIGIE_RETENTION_DAYS" in none.stderr
    dry = alias.vigie("es", "prune", "--days", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "nothing past 1 days" in dry.stdout

    time.sleep(1.5)  # so that 0.00001 day (0.86 s) has passed since the rollovers
    pruned = alias.vigie("es", "prune", "--days", "0.00001")
    assert pruned.returncode == 0, pruned.stderr
    assert sorted(pruned.stdout.split()[1::2]) == sorted(set(behind) - {write})
    assert alias.engine.alias_indices(alias.names.alias) == {write: True}
    assert prune(alias.engine, alias.names.alias, 0.00001) == []  # the write index stays
    alias.write(make_article("https://x.example/apres", "Après", "Texte."))
    assert [
        hit.source["title"] for hit in indexed(alias.engine, alias.names.alias, {"match_all": {}})
    ] == ["Après"]


def _replicas(index: str) -> dict[str, str]:
    found = httpx.get(f"{Settings().elasticsearch_url}/{index}/_settings", timeout=10).json()
    return {name: spec["settings"]["index"]["number_of_replicas"] for name, spec in found.items()}


def test_replicas_come_from_the_settings_for_new_and_existing_indices(alias: Alias) -> None:
    assert set(_replicas(alias.names.alias).values()) == {"0"}
    wanted = Indices.from_settings(alias.settings.model_copy(update={"index_replicas": 1}))
    rules = wanted.rules
    setup(alias.engine, wanted, alias.settings.config_dir)
    try:
        assert set(_replicas(alias.names.alias).values()) == {"1"}
        assert _replicas(rules) == {rules: "1"}
        assert alias.vigie("es", "rollover", "--force").returncode == 0  # new: from the template
        assert set(_replicas(alias.names.alias).values()) == {"1"}
    finally:  # one node cannot hold a replica: back to green
        setup(alias.engine, Indices.from_settings(alias.settings), alias.settings.config_dir)
    assert set(_replicas(alias.names.alias).values()) == {"0"}


def _entity(kind: EntityType, name: str) -> Entity:
    return Entity(
        type=kind, id=None, name=name, text=name, start=0, end=len(name), source="gazetteer"
    )


def test_entities_count_by_type_and_undated_articles_have_a_date(alias: Alias) -> None:
    published = datetime(2025, 2, 9, 9, 30, tzinfo=UTC)
    fetched = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    dated = make_article(
        "https://x.example/a", "A", "Texte.", published_at=published,
        entities=(_entity("PER", "Kim Jong-un"), _entity("LOC", "Russie"), _entity("ORG", "ONU")),
    )  # fmt: skip
    undated = make_article(
        "https://x.example/b", "B", "Texte.", fetched_at=fetched, date_missing=True,
        entities=(_entity("LOC", "Russie"), _entity("PER", "Vladimir Poutine")),
    )  # fmt: skip
    alias.write(dated, undated)
    alias.engine.refresh(alias.names.alias)
    result = alias.engine.search(
        alias.names.alias,
        {
            "size": 0,
            "aggs": {
                kind: {"terms": {"field": f"entity_names.{kind}"}} for kind in ("PER", "LOC", "ORG")
            },
        },
    )
    counts = {
        kind: {b["key"]: b["doc_count"] for b in agg["buckets"]}
        for kind, agg in result.aggregations.items()
    }
    # Before, "Russie" was counted as a person too (entities.name under entities.type PER).
    assert counts == {
        "PER": {"Kim Jong-un": 1, "Vladimir Poutine": 1},
        "LOC": {"Russie": 2},
        "ORG": {"ONU": 1},
    }
    march = {"range": {"dated_at": {"gte": "2025-03-01", "lt": "2025-03-02"}}}
    assert [hit.id for hit in indexed(alias.engine, alias.names.alias, march)] == [undated.id]
    february = {"range": {"dated_at": {"gte": "2025-02-09", "lt": "2025-02-10"}}}
    assert [hit.id for hit in indexed(alias.engine, alias.names.alias, february)] == [dated.id]
    person = {"term": {"entity_names.PER": "Vladimir Poutine"}}
    assert [hit.id for hit in indexed(alias.engine, alias.names.alias, person)] == [undated.id]


def test_setup_adds_the_new_fields_to_a_write_index_made_before_them(adapter: Adapter) -> None:
    settings = _private(adapter)
    name = settings.index_articles
    engine = connect(settings)
    try:
        old = copy.deepcopy(articles_body(settings.config_dir))
        for field in ("dated_at", "entity_names"):
            del old["mappings"]["properties"][field]
        engine.create_index(f"{name}-000001", {**old, "aliases": {name: {"is_write_index": True}}})
        article = make_article(
            "https://x.example/c", "C", "Texte.", entities=(_entity("PER", "X"),)
        )
        (refused,) = engine.bulk_index(name, [(article.id, to_document(article))])
        assert refused.status == 400  # strict: the fields are unknown
        done = setup(engine, Indices.from_settings(settings), settings.config_dir)
        assert f"alias {name} exists, mapping brought up to date" in done
        (item,) = engine.bulk_index(name, [(article.id, to_document(article))])
        assert item.ok, item
    finally:
        _drop(engine, settings)
        engine.close()


@pytest.mark.opensearch_only(
    reason="the worker writes through SearchEngine.bulk_index, which the tests above run "
    "through both adapters; a worker costs 18 s"
)
def test_the_worker_keeps_one_copy_across_a_rollover(stack: Stack) -> None:
    engine = connect(stack.settings)
    alias = stack.settings.index_articles
    try:
        stack.start_worker()
        stack.produce(stack.settings.topic_enriched, [_version("Avant").model_dump_json().encode()])
        wait_for(
            "version 1", lambda: indexed(engine, alias, {"match": {"title": "Avant"}}) or None, 120
        )
        rolled = stack.run("es", "rollover", "--force")
        assert rolled.returncode == 0, rolled.stderr
        stack.produce(stack.settings.topic_enriched, [_version("Après").model_dump_json().encode()])
        hits = wait_for(
            "version 2", lambda: indexed(engine, alias, {"match": {"title": "Après"}}) or None, 60
        )
        assert [hit.index for hit in hits] == [f"{alias}-000002"]

        def one_copy() -> bool | None:
            titles = [hit.source["title"] for hit in indexed(engine, alias, {"match_all": {}})]
            return titles == ["Après"] or None

        wait_for("the first version gone", one_copy, 30)
    finally:
        stack.stop_workers()
        _drop(engine, stack.settings)
        engine.close()
