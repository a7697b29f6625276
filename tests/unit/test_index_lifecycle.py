"""The articles' indices over time (pipeline/search): one copy of an article across
a rollover, retention, and replicas; over a recording client or the in-memory
engine. The real engine does the same in tests/integration/test_index_lifecycle.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.search.engine import EngineUnavailable, SearchEngine
from pipeline.search.retention import expired, prune, pruning
from pipeline.search.templates import Indices, rollover, setup
from tests.unit.fakes import FakeEngine
from vigie.settings import Settings

ALIAS = "news-test"
DAY0 = datetime(2025, 1, 1, tzinfo=UTC)


class Client:
    """The calls SearchEngine makes of a client, answered from lists and recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.bulk_answers: list[dict[str, Any]] = []
        self.search_answers: list[dict[str, Any]] = []
        self.indices = self

    def bulk(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("bulk", kw))
        return self.bulk_answers.pop(0)

    def search(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("search", kw))
        return self.search_answers.pop(0)

    def rollover(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("rollover", kw))
        return {"rolled_over": True, "old_index": f"{ALIAS}-000001", "new_index": f"{ALIAS}-000002"}

    def refresh(self, **kw: Any) -> None:
        self.calls.append(("refresh", kw))


def _engine() -> tuple[SearchEngine, Client]:
    client = Client()
    return SearchEngine(client, lambda exc: None), client


def _written(index: str, *ids: str) -> dict[str, Any]:
    return {"items": [{"index": {"_index": index, "_id": i, "status": 200}} for i in ids]}


def _hits(*where: tuple[str, str]) -> dict[str, Any]:
    return {"hits": {"hits": [{"_index": index, "_id": i} for index, i in where]}}


def _deleted(*where: tuple[str, str, int]) -> dict[str, Any]:
    return {
        "items": [
            {"delete": {"_index": index, "_id": i, "status": status}} for index, i, status in where
        ]
    }


NEW, OLD = f"{ALIAS}-000002", f"{ALIAS}-000001"


def test_older_copies_in_other_indices_are_deleted_after_the_write() -> None:
    engine, client = _engine()
    client.bulk_answers = [_written(NEW, "a", "b", "c"), _deleted((OLD, "a", 200))]
    client.search_answers = [_hits((NEW, "a"), (OLD, "a"), (NEW, "b"))]
    items = engine.bulk_index(ALIAS, [(i, {"title": i}) for i in "abc"])
    assert [(item.id, item.index, item.ok) for item in items] == [
        ("a", NEW, True),
        ("b", NEW, True),
        ("c", NEW, True),
    ]
    (_, write), (_, look), (_, delete) = client.calls
    # One ndjson body, made by SearchEngine: an action and its document a line each.
    assert [json.loads(line) for line in write["body"].splitlines()] == [
        op for i in "abc" for op in ({"index": {"_index": ALIAS, "_id": i}}, {"title": i})
    ]
    assert look["index"] == ALIAS
    assert look["body"]["query"] == {"ids": {"values": ["a", "b", "c"]}}
    assert look["body"]["_source"] is False
    assert delete["body"] == [{"delete": {"_index": OLD, "_id": "a"}}]


def test_without_older_copies_one_search_and_no_delete() -> None:
    engine, client = _engine()
    client.bulk_answers = [_written(NEW, "a")]
    client.search_answers = [_hits((NEW, "a"))]
    engine.bulk_index(ALIAS, [("a", {})])
    assert [name for name, _ in client.calls] == ["bulk", "search"]


def test_refused_documents_keep_their_older_copy() -> None:
    engine, client = _engine()
    refused = {
        "items": [{"index": {"_index": NEW, "_id": "bad", "status": 400, "error": {"type": "x"}}}]
    }
    client.bulk_answers = [refused]
    (item,) = engine.bulk_index(ALIAS, [("bad", {})])
    assert not item.ok
    assert [name for name, _ in client.calls] == ["bulk"]  # nothing written: nothing to look for


def test_not_unique_writes_only() -> None:
    engine, client = _engine()
    client.bulk_answers = [_written(NEW, "a")]
    engine.bulk_index(ALIAS, [("a", {})], unique=False)
    assert [name for name, _ in client.calls] == ["bulk"]


def test_a_copy_gone_already_is_fine_and_a_busy_engine_is_retried() -> None:
    engine, client = _engine()
    client.bulk_answers = [_written(NEW, "a", "b"), _deleted((OLD, "a", 404), (OLD, "b", 403))]
    client.search_answers = [_hits((OLD, "a"), (OLD, "b"))]
    engine.bulk_index(ALIAS, [("a", {}), ("b", {})])  # 404 gone, 403 read-only: go on
    client.bulk_answers = [_written(NEW, "a"), _deleted((OLD, "a", 429))]
    client.search_answers = [_hits((OLD, "a"))]
    with pytest.raises(EngineUnavailable, match="older copy of a"):
        engine.bulk_index(ALIAS, [("a", {})])  # the indexer writes the batch again


def test_a_rollover_refreshes_the_index_it_leaves() -> None:
    engine, client = _engine()
    assert rollover(engine, ALIAS, {}) == NEW
    assert client.calls[-1] == ("refresh", {"index": OLD})


# -- retention --------------------------------------------------------------------------


def _three_indices() -> FakeEngine:
    engine = FakeEngine()
    names = [f"{ALIAS}-00000{n}" for n in (1, 2, 3)]
    engine.aliases[ALIAS] = {names[0]: False, names[1]: False, names[2]: True}
    engine.indices.update(names)
    for n, name in enumerate(names):
        engine.created[name] = DAY0 + timedelta(days=10 * n)
    return engine


def test_an_index_is_past_retention_once_the_next_one_is() -> None:
    engine = _three_indices()
    # -000001 took articles until day 10, -000002 until day 20, -000003 still does.
    assert expired(engine, ALIAS, 5, now=DAY0 + timedelta(days=14)) == []
    assert expired(engine, ALIAS, 5, now=DAY0 + timedelta(days=16)) == [f"{ALIAS}-000001"]
    assert expired(engine, ALIAS, 5, now=DAY0 + timedelta(days=400)) == [
        f"{ALIAS}-000001",
        f"{ALIAS}-000002",
    ]


def test_prune_deletes_them_and_never_the_write_index() -> None:
    engine = _three_indices()
    gone = prune(engine, ALIAS, 1, now=DAY0 + timedelta(days=400))
    assert gone == [f"{ALIAS}-000001", f"{ALIAS}-000002"]
    assert engine.called("delete_index") == [(name,) for name in gone]
    assert engine.aliases[ALIAS] == {f"{ALIAS}-000003": True}


def test_a_lone_write_index_is_never_looked_at() -> None:
    engine = FakeEngine()
    engine.aliases[ALIAS] = {f"{ALIAS}-000001": True}
    assert prune(engine, ALIAS, 0.001, now=DAY0 + timedelta(days=400)) == []
    assert engine.called("creation_dates") == []


def test_the_worker_timer_survives_an_engine_that_does_not_answer() -> None:
    engine = _three_indices()
    engine.fail("alias_indices", EngineUnavailable("connection refused"), times=1)
    tick = pruning(engine, ALIAS, 1)
    asyncio.run(tick())  # a warning, no exception
    assert engine.called("delete_index") == []
    asyncio.run(tick())  # the next tick does it: those indices are a year old
    assert engine.called("delete_index") == [(f"{ALIAS}-000001",), (f"{ALIAS}-000002",)]


# -- replicas ---------------------------------------------------------------------------


def _settings_of(engine: FakeEngine) -> Mapping[str, Any]:
    (body,) = [b for name, b in engine.called("put_component_template") if "settings" in name]
    settings: Mapping[str, Any] = body["template"]["settings"]
    return settings


def test_replicas_go_into_new_indices() -> None:
    engine = FakeEngine()
    setup(
        engine,
        Indices(ALIAS, "rules", "deliveries", "marks", "stories", replicas=2),
        Settings().config_dir,
    )
    assert _settings_of(engine)["number_of_replicas"] == 2
    made = {name: body for name, body in engine.called("create_index")}
    assert made["rules"]["settings"]["number_of_replicas"] == 2
    assert made["deliveries"]["settings"]["number_of_replicas"] == 2
    assert engine.called("put_index_settings") == []


def test_setup_brings_existing_indices_to_the_replicas_and_fields_wanted() -> None:
    engine = FakeEngine()
    engine.aliases[ALIAS] = {f"{ALIAS}-000001": False, f"{ALIAS}-000002": True}
    engine.indices.update({"rules", "deliveries"})
    setup(
        engine,
        Indices(ALIAS, "rules", "deliveries", "marks", "stories", replicas=1),
        Settings().config_dir,
    )
    wanted = {"index": {"number_of_replicas": 1}}
    assert engine.called("put_index_settings") == [
        (ALIAS, wanted),
        ("rules", wanted),
        ("deliveries", wanted),
    ]
    mapped = [index for index, _ in engine.called("put_mapping")]
    assert mapped == [f"{ALIAS}-000002", "rules", "deliveries"]  # new fields: write index only
    (_, rules_mapping) = engine.called("put_mapping")[1]
    assert rules_mapping["properties"]["rule_owner"] == {"type": "keyword"}
    assert "entity_names" in rules_mapping["properties"]  # the percolator sees new fields


def test_topics_are_made_with_the_replication_factor_of_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.stream import topics
    from vigie.settings import Settings

    made: list[Any] = []

    class Admin:
        def __init__(self, **options: Any) -> None:
            pass

        def list_topics(self) -> list[str]:
            return []

        def create_topics(self, new: list[Any]) -> None:
            made.extend(new)

        def close(self) -> None:
            pass

    monkeypatch.setattr(topics, "KafkaAdminClient", Admin)
    topics.ensure_topics(Settings(topic_replication_factor=3))
    assert {topic.replication_factor for topic in made} == {3}
    assert len(made) == 4
    assert (Settings().topic_replication_factor, Settings().index_replicas) == (1, 0)
    assert Settings().retention_days is None  # off unless set


def test_an_answer_without_the_index_deletes_nothing() -> None:
    engine, client = _engine()
    client.bulk_answers = [{"items": [{"index": {"_id": "a", "status": 200}}]}]
    engine.bulk_index(ALIAS, [("a", {})])
    assert [name for name, _ in client.calls] == ["bulk"]


def test_a_document_pydantic_cannot_write_goes_to_the_client_as_before() -> None:
    engine, client = _engine()
    client.bulk_answers = [_written(NEW, "a")]
    client.search_answers = [_hits((NEW, "a"))]
    engine.bulk_index(ALIAS, [("a", {"title": "\ud800"})])  # a lone surrogate
    (_, write), _ = client.calls
    assert write["body"] == [{"index": {"_index": ALIAS, "_id": "a"}}, {"title": "\ud800"}]
