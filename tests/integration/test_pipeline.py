"""One article end to end: feed file -> real Kafka -> real Faust agents -> real search
engine, through both adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline.search.clients import connect
from pipeline.search.engine import SearchEngine
from tests.conftest import SAMPLE_FEED, raw_message
from tests.integration.conftest import Stack, indexed, wait_for, worker_health
from vigie.article import article_id

pytestmark = pytest.mark.both_adapters

SEED_URL = "https://news.example/monde/trump-coree-du-nord-relations"
SEED_ID = article_id(SEED_URL)


def test_seed_article_flows_end_to_end(shared_stack: Stack, engine: SearchEngine) -> None:
    worker = shared_stack.start_worker()
    ingest = shared_stack.run("ingest", str(SAMPLE_FEED), "--feed-id", "vigie-sample")
    assert ingest.returncode == 0, ingest.stderr
    assert SEED_ID in ingest.stdout

    index = shared_stack.settings.index_articles
    hits = wait_for(
        "the seed article in the search index",
        lambda: indexed(engine, index, {"ids": {"values": [SEED_ID]}}) or None,
        timeout=90,
    )
    doc: dict[str, Any] = dict(hits[0].source)
    assert doc["canonical_url"] == SEED_URL
    assert doc["language"] == "fr"
    assert doc["title"] == "Donald Trump veut « établir des relations » avec la Corée du Nord"
    assert doc["published_at"].startswith("2025-02-09T09:30:00")
    assert doc["body"].startswith("Le président des États-Unis")
    assert "Vidéos associées" not in doc["body"]
    assert "Archivé dans" not in doc["body"]
    tags = {tag["id"]: tag["label"] for tag in doc["tags"]}
    assert tags["country:KP"] == "Corée du Nord"
    assert tags["person:kim-jong-un"] == "Kim Jong-un"
    assert {"country:RU", "country:US", "country:JP", "country:CN", "country:UA"} <= set(tags)
    assert worker.poll() is None

    found = shared_stack.run("search", "Corée du Nord")
    assert found.returncode == 0, found.stderr
    assert "Donald Trump veut « établir des relations » avec la Corée du Nord" in found.stdout
    assert "[fr] 2025-02-09" in found.stdout

    as_json = shared_stack.run("search", "--json", "Pyongyang Moscou")
    assert [json.loads(line)["id"] for line in as_json.stdout.splitlines()] == [SEED_ID]

    missing = shared_stack.run("search", "Tegucigalpa")
    assert missing.returncode == 1
    assert "no article matches" in missing.stderr


def test_replayed_article_is_indexed_once(shared_stack: Stack, engine: SearchEngine) -> None:
    index = shared_stack.settings.index_articles
    wait_for(
        "the first copy", lambda: indexed(engine, index, {"ids": {"values": [SEED_ID]}}) or None
    )
    again = shared_stack.run("ingest", str(SAMPLE_FEED), "--feed-id", "vigie-sample")
    assert again.returncode == 0, again.stderr

    def indexed_total() -> float | None:
        metrics = httpx.get(shared_stack.url("/metrics"), timeout=5).text
        for line in metrics.splitlines():
            if line.startswith("vigie_articles_indexed_total "):
                value = float(line.split()[1])
                return value if value >= 2 else None
        return None

    wait_for("the replayed copy to be indexed", indexed_total)
    same = indexed(engine, index, {"term": {"canonical_url": SEED_URL}})
    assert [hit.id for hit in same] == [SEED_ID]


def test_an_entry_without_a_link_is_indexed_and_found(
    shared_stack: Stack, engine: SearchEngine, tmp_path: Path
) -> None:
    if not any(worker.poll() is None for worker in shared_stack.workers):
        shared_stack.start_worker()
    # A press-release feed without XML declaration, in Latin-1; its item has no link.
    feed = tmp_path / "communiques.xml"
    feed.write_bytes(
        (
            '<rss version="2.0"><channel><title>Préfecture du Doubs</title>'
            "<link>https://prefecture.example/</link>"
            '<item><guid isPermaLink="false">cp-2025-017</guid>'
            "<title>Crue du Doubs : fin de la vigilance orange à Besançon</title>"
            "<description>La préfecture lève la vigilance orange crues sur le Doubs."
            "</description><pubDate>Mon, 03 Feb 2025 10:00:00 +0100</pubDate></item>"
            "</channel></rss>"
        ).encode("latin-1")
    )
    ingest = shared_stack.run("ingest", str(feed), "--feed-id", "prefecture-doubs")
    assert ingest.returncode == 0, ingest.stderr
    (line,) = [line for line in ingest.stdout.splitlines() if "Crue du Doubs" in line]
    linkless_id = line.split()[0]

    index = shared_stack.settings.index_articles
    hits = wait_for(
        "the link-less article in the search index",
        lambda: indexed(engine, index, {"ids": {"values": [linkless_id]}}) or None,
        timeout=90,
    )
    doc: dict[str, Any] = dict(hits[0].source)
    assert doc.get("canonical_url") is None  # the strict mapping takes it
    assert doc["url"] == "https://prefecture.example/"
    assert doc["title"] == "Crue du Doubs : fin de la vigilance orange à Besançon"
    assert any(note.startswith("no link of its own") for note in doc["notes"])
    assert any(note.startswith("encoding: none declared; read as") for note in doc["notes"])
    found = shared_stack.run("search", "vigilance Besançon", "--source", "prefecture-doubs")
    assert found.returncode == 0, found.stderr
    assert "https://prefecture.example/" in found.stdout


def test_malformed_messages_go_to_the_dlq_and_the_worker_goes_on(
    shared_stack: Stack, engine: SearchEngine
) -> None:
    settings = shared_stack.settings
    good_url = "https://news.example/world/after-the-bad-ones"
    shared_stack.produce(
        settings.topic_raw,
        [
            b"{not json at all",
            json.dumps({"id": "x1", "title": "no url, no source"}).encode(),
            b"\xff\xfe binary junk",
            raw_message(good_url, "After the bad ones", "The worker kept going after bad input."),
        ],
    )
    hits = wait_for(
        "the good article that followed the bad ones",
        lambda: (
            indexed(engine, settings.index_articles, {"term": {"canonical_url": good_url}}) or None
        ),
    )
    assert hits[0].source["language"] == "en"

    letters = shared_stack.consume(settings.topic_dlq, 3)
    assert len(letters) == 3
    assert {letter["stage"] for letter in letters} == {"enrich"}
    assert all(letter["reason"].startswith("not a valid article") for letter in letters)
    by_payload = {letter["payload"]: letter for letter in letters}
    assert "{not json at all" in by_payload
    missing_fields = by_payload[json.dumps({"id": "x1", "title": "no url, no source"})]
    # (url and canonical_url may be absent: an entry without a link of its own)
    for name in ("source", "fetched_at"):
        assert name in missing_fields["reason"]
    binary = [letter for letter in letters if letter["payload_encoding"] == "base64"]
    assert len(binary) == 1
    assert all(letter["topic"] == settings.topic_raw for letter in letters)

    assert shared_stack.workers[0].poll() is None, "the worker must survive bad input"


def test_health_and_metrics(shared_stack: Stack) -> None:
    health = wait_for("worker health", lambda: worker_health(shared_stack))
    assert health["status"] == "ok"
    assert health["app"] == shared_stack.settings.app_id
    assert {name: d["state"] for name, d in health["dependencies"].items()} == {
        "search_engine": "ok",
        "kafka": "ok",
    }
    metrics = httpx.get(shared_stack.url("/metrics"), timeout=5).text
    assert 'vigie_dead_letters_total{stage="enrich"} 3.0' in metrics
    assert "vigie_articles_enriched_total" in metrics
    assert 'vigie_dead_letters_total{stage="deliver"} 0.0' in metrics  # there from the start
    assert "vigie_enrich_seconds_count" in metrics
    raw = shared_stack.settings.topic_raw

    def lag_of_raw() -> str | None:
        text = httpx.get(shared_stack.url("/metrics"), timeout=5).text
        return text if f'topic="{raw}"' in text and "vigie_consumer_lag_records{" in text else None

    wait_for("the consumer lag of news.raw", lag_of_raw)
    assert httpx.get(shared_stack.url("/health/live"), timeout=5).json() == {"status": "alive"}


def test_the_worker_listens_on_its_host_only_and_guards_its_api(shared_stack: Stack) -> None:
    wait_for("worker health", lambda: worker_health(shared_stack))
    port = shared_stack.settings.web_port
    # VIGIE_WEB_HOST is 127.0.0.1: another address of this machine gets no answer
    # (Faust's web server used to listen on every interface).
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/health", timeout=2)
    # Faust's own pages are off; the rules API needs the token and JSON.
    assert httpx.get(shared_stack.url("/table/duplicates"), timeout=5).status_code == 404
    assert httpx.get(shared_stack.url("/rules"), timeout=5).status_code == 401
    token = {"Authorization": f"Bearer {shared_stack.env['VIGIE_API_TOKEN']}"}
    sneaky = httpx.post(
        shared_stack.url("/rules"),
        content=b'{"id": "x", "query": {"text": "x"}, "destinations": [{"url": "https://a.example"}]}',
        headers={**token, "Content-Type": "text/plain"},
        timeout=5,
    )
    assert sneaky.status_code == 415
    rebound = httpx.get(shared_stack.url("/rules"), headers={**token, "Host": "evil.example"})
    assert rebound.status_code == 403


@pytest.mark.opensearch_only(
    reason="offsets against Kafka; its engine writes are the end-to-end test's, 17 s"
)
def test_exit_after_stops_cleanly_with_offsets_committed(stack: Stack) -> None:
    ingest = stack.run("ingest", str(SAMPLE_FEED), "--feed-id", "vigie-sample")
    assert ingest.returncode == 0, ingest.stderr
    worker = stack.start_worker("--exit-after", "1")
    assert worker.wait(timeout=120) == 0, stack.worker_log()

    engine = connect(stack.settings)
    try:
        hits = indexed(engine, stack.settings.index_articles, {"ids": {"values": [SEED_ID]}})
    finally:
        engine.close()
    assert [hit.id for hit in hits] == [SEED_ID]

    # The raw message was processed and durable before its offset was committed:
    # the group's committed offsets on news.raw reach the end of the topic.
    bootstrap = stack.settings.kafka_bootstrap_servers
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    committed = admin.list_consumer_group_offsets(stack.settings.app_id)
    admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    raw = stack.settings.topic_raw
    partitions = [TopicPartition(raw, p) for p in consumer.partitions_for_topic(raw)]
    ends = consumer.end_offsets(partitions)
    consumer.close()
    assert sum(ends.values()) == 1
    for tp, end in ends.items():
        assert committed.get(tp) is not None or end == 0, f"{tp} has no committed offset"
        if end:
            assert committed[tp].offset == end


WIRE = (
    "Le ministère de la Défense a annoncé mardi le déploiement de trois navires supplémentaires "
    "en mer Baltique, après une série d'incidents avec des câbles sous-marins endommagés. "
    "Selon le porte-parole, la mission durera au moins six mois et associera des équipes de "
    "plongeurs ainsi que des drones sous-marins. Les autorités estonienne et finlandaise ont "
    "salué une décision qu'elles réclamaient depuis l'automne, tandis que Moscou a dénoncé une "
    "provocation."
)


@pytest.mark.opensearch_only(
    reason="near-duplicates live in a Faust table; its engine writes are the end-to-end "
    "test's, 28 s"
)
def test_wire_copies_link_to_the_first_across_a_restart(stack: Stack) -> None:
    first_url = "https://wire.example/baltique"
    copies = [f"https://outlet{n}.example/monde/baltique" for n in range(3)]
    stack.produce(stack.settings.topic_raw, [raw_message(first_url, "Baltique", WIRE)])
    stack.produce(
        stack.settings.topic_raw,
        [
            raw_message(url, "Baltique", f"({n}) {WIRE} Avec AFP.")
            for n, url in enumerate(copies[:2])
        ],
    )
    worker = stack.start_worker("--exit-after", "3")
    assert worker.wait(timeout=120) == 0, stack.worker_log(0)

    # A new worker process: what it knows of earlier articles comes from Kafka.
    stack.produce(
        stack.settings.topic_raw, [raw_message(copies[2], "Baltique", f"{WIRE} (Reuters)")]
    )
    # Not --exit-after 1: the new worker may first index again an article whose
    # offset the first one had not committed (at least once), and stop too early.
    again = stack.start_worker()
    engine = connect(stack.settings)

    def links() -> dict[str, Any] | None:
        hits = indexed(engine, stack.settings.index_articles, {"match_all": {}})
        found = {hit.source["canonical_url"]: hit.source["duplicate_of"] for hit in hits}
        return found if len(found) == 4 else None

    try:
        found = wait_for("the fourth article, from the new worker", links, timeout=120)
    finally:
        engine.close()
    assert again.poll() is None, stack.worker_log(1)
    first_id = article_id(first_url)
    assert found == {first_url: None, **dict.fromkeys(copies, first_id)}
