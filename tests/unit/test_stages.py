"""The worker's stages without Faust: enrich, dead letters, bulk indexing, rule
matching and the engine setup, each given plain events, topics and a fake engine."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from pipeline.alerts.delivery import alert_id
from pipeline.alerts.rules import AlertRule, parse_rule
from pipeline.alerts.store import RuleMatch, RuleStore
from pipeline.enrichment.duplicates import DuplicateIndex
from pipeline.enrichment.enrich import Enricher
from pipeline.search import engine as search_engine
from pipeline.search.engine import DocumentRejected, EngineUnavailable
from pipeline.search.templates import Indices, SetupError
from pipeline.signals.stories import StoryIndex
from pipeline.stream.deadletters import TopicDeadLetters, valid_articles
from pipeline.stream.enriching import EnrichStage
from pipeline.stream.enrichpool import Outcome, ThreadEnrichment
from pipeline.stream.indexing import BulkIndexer
from pipeline.stream.indices import EngineSetup
from pipeline.stream.matching import RuleMatcher
from tests.conftest import make_article, raw_message
from tests.unit.fakes import FakeEngine, FakeEvent, FakeTopic, ListDeadLetters, stream
from vigie.article import Article
from vigie.deadletter import Event
from vigie.paths import package_data
from vigie.retry import Backoff

TINY = Backoff(start=0.001, cap=0.002)

STORY = (
    "Le ministère de la Défense a annoncé mardi le déploiement de trois navires "
    "supplémentaires en mer Baltique, après une série d'incidents avec des câbles "
    "sous-marins endommagés. Selon le porte-parole, la mission durera au moins six mois "
    "et associera des équipes de plongeurs ainsi que des drones sous-marins. Les autorités "
    "estonienne et finlandaise ont salué une décision qu'elles réclamaient depuis l'automne."
)


@pytest.fixture
def tiny_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine backoff of every stage, in milliseconds."""
    monkeypatch.setattr(search_engine, "ENGINE_BACKOFF", TINY)


# -- dead letters ---------------------------------------------------------------------


def _dead_letters_count(stage: str) -> float:
    return REGISTRY.get_sample_value("vigie_dead_letters_total", {"stage": stage}) or 0.0


def test_a_dead_letter_names_its_origin_and_keeps_the_bytes() -> None:
    topic = FakeTopic()
    event = FakeEvent(b'{"not": "an article"}', key=b"k1", topic="news.raw", partition=2, offset=41)
    before = _dead_letters_count("unit-a")
    asyncio.run(TopicDeadLetters(topic).send(event, "unit-a", "not a valid article"))
    ((key, value),) = topic.sent
    assert key == b"k1"
    record = json.loads(value)
    assert {k: record[k] for k in ("stage", "reason", "topic", "partition", "offset")} == {
        "stage": "unit-a",
        "reason": "not a valid article",
        "topic": "news.raw",
        "partition": 2,
        "offset": 41,
    }
    assert record["payload"] == '{"not": "an article"}'
    assert record["payload_encoding"] == "utf-8"
    assert record["failed_at"]
    assert _dead_letters_count("unit-a") == before + 1


def test_a_dead_letter_of_binary_bytes_keeps_them_in_base64() -> None:
    topic = FakeTopic()
    payload = b"\xff\xfe\x00garbage"
    asyncio.run(TopicDeadLetters(topic).send(FakeEvent(payload, key=None), "unit-b", "binary"))
    ((key, value),) = topic.sent
    record = json.loads(value)
    assert key is None
    assert record["payload_encoding"] == "base64"
    assert base64.b64decode(record["payload"]) == payload


def _read_valid(
    events: list[FakeEvent], dead_letters: ListDeadLetters
) -> list[tuple[Event, Article]]:
    async def go() -> list[tuple[Event, Article]]:
        return [pair async for pair in valid_articles(stream(events), "unit", dead_letters)]

    return asyncio.run(go())


def test_valid_articles_passes_valid_ones_on_unacked() -> None:
    events = [FakeEvent(raw_message(f"https://x.example/{i}", f"Titre {i}")) for i in range(2)]
    dead_letters = ListDeadLetters()
    found = _read_valid(events, dead_letters)
    assert [(e, a.title) for e, a in found] == [(events[0], "Titre 0"), (events[1], "Titre 1")]
    assert [e.acks for e in events] == [0, 0]  # the stage acks them once handled
    assert dead_letters.sent == []


def test_valid_articles_dead_letters_and_acks_invalid_ones() -> None:
    good = FakeEvent(raw_message("https://x.example/ok", "Bon"))
    no_json = FakeEvent(b"{not json")
    no_source = FakeEvent(json.dumps({"id": "x", "url": "u", "title": "t"}).encode())
    dead_letters = ListDeadLetters()
    found = _read_valid([no_json, good, no_source], dead_letters)
    assert [e for e, _ in found] == [good]
    assert [(e, stage) for e, stage, _ in dead_letters.sent] == [
        (no_json, "unit"),
        (no_source, "unit"),
    ]
    assert all(r.startswith("not a valid article: ") for r in dead_letters.reasons())
    assert "source" in dead_letters.reasons()[1]
    assert (no_json.acks, good.acks, no_source.acks) == (1, 0, 1)


# -- enrich ---------------------------------------------------------------------------


class BrokenState(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("state store broken")


def _enrich(
    enricher: Enricher, events: list[FakeEvent], state: MutableMapping[str, Any] | None = None
) -> tuple[FakeTopic, ListDeadLetters]:
    enriched, dead_letters = FakeTopic(), ListDeadLetters()
    duplicates = DuplicateIndex({} if state is None else state)
    stage = EnrichStage(
        ThreadEnrichment(enricher), duplicates, StoryIndex({}), enriched, dead_letters
    )
    asyncio.run(stage.run(stream(events)))
    return enriched, dead_letters


def test_enrich_sends_the_enriched_article_keyed_by_id(enricher: Enricher) -> None:
    event = FakeEvent(raw_message("https://x.example/baltique", "Navires en mer Baltique", STORY))
    enriched, dead_letters = _enrich(enricher, [event])
    ((key, value),) = enriched.sent
    article = Article.model_validate_json(value)
    assert key == article.id.encode()
    assert article.url == "https://x.example/baltique"
    assert article.language == "fr"
    assert article.content_hash
    assert article.duplicate_of is None
    assert dead_letters.sent == []
    assert event.acks == 1


def test_enrich_links_a_copy_to_the_first_article(enricher: Enricher) -> None:
    first = FakeEvent(raw_message("https://a.example/1", "Navires en Baltique", STORY))
    copy = FakeEvent(raw_message("https://b.example/2", "Navires en Baltique", STORY))
    enriched, _ = _enrich(enricher, [first, copy])
    articles = [Article.model_validate_json(value) for _, value in enriched.sent]
    assert [a.url for a in articles] == ["https://a.example/1", "https://b.example/2"]
    assert articles[0].duplicate_of is None
    assert articles[1].duplicate_of == articles[0].id
    assert (first.acks, copy.acks) == (1, 1)


def test_enrich_dead_letters_what_is_not_an_article(enricher: Enricher) -> None:
    bad = FakeEvent(b'{"title": "no id"}')
    good = FakeEvent(raw_message("https://x.example/ok", "Titre", STORY))
    enriched, dead_letters = _enrich(enricher, [bad, good])
    assert len(enriched.sent) == 1
    ((event, stage, reason),) = dead_letters.sent
    assert (event, stage) == (bad, "enrich")
    assert reason.startswith("not a valid article")
    assert (bad.acks, good.acks) == (1, 1)


def test_a_failing_enrichment_is_dead_lettered_and_the_stream_goes_on(
    enricher: Enricher,
) -> None:
    events = [FakeEvent(raw_message(f"https://x.example/{i}", "Titre", STORY)) for i in range(2)]
    enriched, dead_letters = _enrich(enricher, events, BrokenState())
    assert enriched.sent == []
    assert [(e, s) for e, s, _ in dead_letters.sent] == [
        (events[0], "enrich"),
        (events[1], "enrich"),
    ]
    assert all(
        "enrichment failed" in r and "state store broken" in r for r in dead_letters.reasons()
    )
    assert [e.acks for e in events] == [1, 1]


# -- bulk indexing ---------------------------------------------------------------------


def _batch(n: int) -> list[tuple[Event, Article]]:
    return [
        (FakeEvent(b"raw", offset=i), make_article(f"https://x.example/{i}", f"Titre {i}"))
        for i in range(n)
    ]


class Indexed:
    def __init__(self) -> None:
        self.counts: list[int] = []

    def __call__(self, articles: list[Article]) -> None:
        self.counts.append(len(articles))


def _index(
    engine: FakeEngine, batch: list[tuple[Event, Article]], ready_calls: list[int] | None = None
) -> tuple[ListDeadLetters, Indexed]:
    dead_letters, indexed = ListDeadLetters(), Indexed()

    async def ready() -> None:
        if ready_calls is not None:
            ready_calls.append(len(engine.calls))

    indexer = BulkIndexer(engine, "news-test", dead_letters, ready, indexed)
    asyncio.run(indexer(batch))
    return dead_letters, indexed


def test_bulk_indexer_writes_the_batch_by_article_id_once_ready() -> None:
    engine = FakeEngine()
    batch = _batch(3)
    ready_calls: list[int] = []
    dead_letters, indexed = _index(engine, batch, ready_calls)
    assert ready_calls == [0]  # ready before anything is sent
    ((index, ids),) = engine.called("bulk_index")
    assert index == "news-test"
    assert ids == [a.id for _, a in batch]
    assert engine.documents["news-test"][batch[1][1].id]["title"] == "Titre 1"
    assert indexed.counts == [3]
    assert dead_letters.sent == []
    assert all(isinstance(e, FakeEvent) and e.acks == 0 for e, _ in batch)  # the batch acks


@pytest.mark.usefixtures("tiny_backoff")
def test_bulk_indexer_sends_busy_documents_again_until_taken() -> None:
    engine = FakeEngine()
    batch = _batch(3)
    busy = batch[1][1].id
    engine.bulk_statuses[busy] = [429, 503]
    dead_letters, indexed = _index(engine, batch)
    assert [ids for _, ids in engine.called("bulk_index")] == [
        [a.id for _, a in batch],
        [busy],
        [busy],
    ]
    assert set(engine.documents["news-test"]) == {a.id for _, a in batch}
    assert indexed.counts == [3]
    assert dead_letters.sent == []


@pytest.mark.usefixtures("tiny_backoff")
def test_bulk_indexer_waits_out_an_engine_that_is_down() -> None:
    engine = FakeEngine()
    engine.fail("bulk_index", EngineUnavailable("connection refused"), times=2)
    batch = _batch(2)
    _, indexed = _index(engine, batch)
    assert len(engine.called("bulk_index")) == 3
    assert set(engine.documents["news-test"]) == {a.id for _, a in batch}
    assert indexed.counts == [2]


def test_bulk_indexer_dead_letters_what_the_engine_refuses_for_good() -> None:
    engine = FakeEngine()
    batch = _batch(3)
    refused_event, refused = batch[2]
    engine.bulk_statuses[refused.id] = [400]
    dead_letters, indexed = _index(engine, batch)
    assert len(engine.called("bulk_index")) == 1  # a refusal is not retried
    ((event, stage, reason),) = dead_letters.sent
    assert (event, stage) == (refused_event, "index")
    assert reason == f"search engine refused it: status 400 for {refused.id}"
    assert indexed.counts == [2]


# -- matching -------------------------------------------------------------------------


def _rule(rule_id: str) -> AlertRule:
    return parse_rule(
        {
            "id": rule_id,
            "query": {"text": "Baltique"},
            "destinations": [{"url": "https://hooks.example/vigie"}],
        }
    )


class ScriptedStore(RuleStore):
    """A store whose `match` pairs every article with `rules`, refuses batches that
    hold an article titled "refused", and raises queued errors first."""

    def __init__(self, rules: list[AlertRule], errors: list[Exception] | None = None) -> None:
        super().__init__(FakeEngine(), "rules")
        self.rules = rules
        self.errors = errors or []
        self.asked: list[list[str]] = []

    def match(self, articles: Any) -> list[RuleMatch]:
        self.asked.append([a.title for a in articles])
        if self.errors:
            raise self.errors.pop(0)
        if any(a.title == "refused" for a in articles):
            raise DocumentRejected("mapper_parsing_exception: too many fields")
        return [RuleMatch(rule, article) for article in articles for rule in self.rules]


def _match(
    store: ScriptedStore, batch: list[tuple[Event, Article]]
) -> tuple[FakeTopic, ListDeadLetters, list[int]]:
    alerts, dead_letters = FakeTopic(), ListDeadLetters()
    ready_calls: list[int] = []

    async def ready() -> None:
        ready_calls.append(len(store.asked))

    asyncio.run(RuleMatcher(store, alerts, dead_letters, ready)(batch))
    return alerts, dead_letters, ready_calls


def test_each_match_goes_to_alerts_keyed_by_rule() -> None:
    store = ScriptedStore([_rule("one"), _rule("two")])
    batch = _batch(2)
    alerts, dead_letters, ready_calls = _match(store, batch)
    assert ready_calls == [0]
    assert store.asked == [["Titre 0", "Titre 1"]]  # one request for the batch
    assert [key for key, _ in alerts.sent] == [b"one", b"two", b"one", b"two"]
    sent = alerts.values()
    first = batch[0][1]
    assert sent[0]["alert_id"] == alert_id("one", first.id)
    assert sent[0]["rule_id"] == "one"
    assert sent[0]["article"]["id"] == first.id
    assert sent[0]["article"]["title"] == "Titre 0"
    assert dead_letters.sent == []
    assert all(isinstance(e, FakeEvent) and e.acks == 0 for e, _ in batch)


def test_a_batch_without_matches_sends_nothing() -> None:
    alerts, dead_letters, _ = _match(ScriptedStore([]), _batch(3))
    assert alerts.sent == []
    assert dead_letters.sent == []


def test_an_article_the_engine_refuses_does_not_cost_its_neighbours_their_alerts() -> None:
    store = ScriptedStore([_rule("one")])
    batch = _batch(3)
    refused_event = FakeEvent(b"raw")
    batch.insert(1, (refused_event, make_article("https://x.example/bad", "refused")))
    alerts, dead_letters, _ = _match(store, batch)
    assert store.asked[1:] == [["Titre 0"], ["refused"], ["Titre 1"], ["Titre 2"]]
    assert [v["article"]["title"] for v in alerts.values()] == ["Titre 0", "Titre 1", "Titre 2"]
    ((event, stage, reason),) = dead_letters.sent
    assert (event, stage) == (refused_event, "match")
    assert reason.startswith("cannot be matched: ")
    assert "mapper_parsing_exception" in reason


@pytest.mark.usefixtures("tiny_backoff")
def test_matching_waits_out_an_engine_that_is_down() -> None:
    store = ScriptedStore([_rule("one")], errors=[EngineUnavailable("down")] * 2)
    alerts, dead_letters, _ = _match(store, _batch(2))
    assert len(store.asked) == 3
    assert len(alerts.sent) == 2
    assert dead_letters.sent == []


# -- engine setup ---------------------------------------------------------------------

NAMES = Indices(
    articles="news-test",
    rules="rules-test",
    deliveries="deliveries-test",
    marks="marks-test",
    stories="stories-test",
)


def _rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "rules:\n"
        "  - id: coree\n"
        "    query: {all_tags: [country:KP]}\n"
        '    destinations: [{url: "https://hooks.example/a"}]\n'
        "  - id: Not Valid\n"
        "    query: {}\n"
        '    destinations: [{url: "https://hooks.example/b"}]\n',
        encoding="utf-8",
    )
    return path


def _setup(engine: FakeEngine, tmp_path: Path) -> EngineSetup:
    return EngineSetup(engine, NAMES, package_data(), _rules_file(tmp_path))


def test_ready_makes_the_indices_and_loads_the_valid_rules(tmp_path: Path) -> None:
    engine = FakeEngine()
    asyncio.run(_setup(engine, tmp_path).ready())
    assert engine.indices == {
        "news-test-000001",
        "rules-test",
        "deliveries-test",
        "marks-test",
        "stories-test",
    }
    assert [name for name, _ in engine.called("put_index_template")] == ["news-test-template"]
    assert set(engine.documents["rules-test"]) == {"coree"}


def test_ready_sets_up_once(tmp_path: Path) -> None:
    engine = FakeEngine()
    setup = _setup(engine, tmp_path)

    async def go() -> None:
        await asyncio.gather(setup.ready(), setup.ready(), setup.ready())
        await setup.ready()

    asyncio.run(go())
    assert len(engine.called("put_index_template")) == 1
    assert len(engine.called("put_document")) == 1


@pytest.mark.usefixtures("tiny_backoff")
def test_ready_waits_for_an_engine_that_is_down(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.fail("put_component_template", EngineUnavailable("connection refused"), times=2)
    asyncio.run(_setup(engine, tmp_path).ready())
    assert len(engine.called("put_component_template")) == 4  # 2 refused, then both templates
    assert "rules-test" in engine.indices
    assert set(engine.documents["rules-test"]) == {"coree"}


def test_ready_does_not_retry_what_is_in_the_way_and_tries_again_next_time(
    tmp_path: Path,
) -> None:
    engine = FakeEngine()
    engine.indices.add("news-test")  # an index where the alias should be
    setup = _setup(engine, tmp_path)
    with pytest.raises(SetupError, match="is an index, not an alias"):
        asyncio.run(setup.ready())
    assert len(engine.called("put_index_template")) == 1
    engine.indices.discard("news-test")
    asyncio.run(setup.ready())
    assert len(engine.called("put_index_template")) == 2
    assert set(engine.documents["rules-test"]) == {"coree"}


class _Failing:
    """An enrichment that fails as a whole (not one article's fault)."""

    async def __call__(self, articles: list[Article], seconds: float) -> list[Outcome]:
        raise RuntimeError("the pool is gone")

    def close(self) -> None:
        pass


def test_a_batch_the_enrichment_fails_as_a_whole_goes_to_the_dlq_acked() -> None:
    """Unacked, its events would hold their partitions' commits back for good."""
    events = [FakeEvent(raw_message(f"https://x.example/{n}", f"Titre {n}")) for n in range(3)]
    enriched, dead_letters = FakeTopic(), ListDeadLetters()
    stage = EnrichStage(
        _Failing(), DuplicateIndex({}), StoryIndex({}), enriched, dead_letters, batch=2
    )
    asyncio.run(stage.run(stream(events)))
    assert enriched.sent == []
    assert [e for e, _, _ in dead_letters.sent] == events
    assert all("the pool is gone" in reason for reason in dead_letters.reasons())
    assert [e.acks for e in events] == [1, 1, 1]
