"""Indexing into the real local search engine (`vigie services up` first):

1. bulk indexing throughput against one document per request, same documents,
   same run;
2. end-to-end latency from producing to news.raw to the article being
   searchable, through a real worker, at a steady rate (p50, p99).

    .venv/bin/python -m bench.index_bench [--docs 2000] [--rate 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer

from pipeline.enrichment.enrich import Enricher
from pipeline.search.clients import connect
from pipeline.search.documents import to_document
from pipeline.search.templates import Indices, setup
from vigie.article import Article, Source, article_id
from vigie.settings import Settings, private_environment, settings_for

REPO = Path(__file__).resolve().parents[1]


def _seed_body() -> str:
    from connectors.feed import parse_feed, read_feed
    from connectors.feedlist import FeedConfig

    feed = str(REPO / "samples" / "seed-feed.xml")
    return parse_feed(read_feed(feed), FeedConfig.at(feed, "bench")).articles[0].body


def _articles(count: int, body: str, tag: str) -> list[Article]:
    return [
        Article(
            id=article_id(url := f"https://bench.example/{tag}/{n}"),
            url=url,
            canonical_url=url,
            source=Source(feed_id="bench", name="Bench", language_hint="fr"),
            title=f"Article {n}",
            body=body,
            fetched_at=datetime.now(UTC),
        )
        for n in range(count)
    ]


def bulk_against_single(docs: int) -> list[tuple[str, float]]:
    enricher = Enricher.from_settings(Settings())
    enriched = enricher.enrich(_articles(1, _seed_body(), "x")[0])
    rows = []
    for mode, batch in (("bulk, 500 per request", 500), ("one document per request", 1)):
        settings = Settings(index_articles=f"bench-{uuid.uuid4().hex[:8]}-articles")
        engine = connect(settings)
        setup(engine, Indices.from_settings(settings), settings.config_dir)
        documents = []
        for n in range(docs):
            doc = to_document(enriched)
            doc["id"] = f"{n:08d}"
            documents.append((doc["id"], doc))
        started = time.perf_counter()
        for i in range(0, docs, batch):
            items = engine.bulk_index(settings.index_articles, documents[i : i + batch])
            assert all(item.ok for item in items), items[:1]
        engine.refresh(settings.index_articles)
        elapsed = time.perf_counter() - started
        rows.append((mode, docs / elapsed))
        engine.delete_index(f"{settings.index_articles}-*")
        engine.close()
    return rows


def start_worker() -> tuple[subprocess.Popen[bytes], Settings, str]:
    """A real worker on its own topics and indices; its settings and log file."""
    env = {
        **private_environment("bench"),
        "VIGIE_LOG_LEVEL": "WARNING",
        # The benchmark's webhook receiver runs on 127.0.0.1: opted in.
        "VIGIE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "VIGIE_API_TOKEN": secrets.token_urlsafe(24),
    }
    log = tempfile.NamedTemporaryFile(prefix="vigie-bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "vigie"), "worker"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return worker, settings_for(env), log.name


def send_paced(
    producer: KafkaProducer,
    topic: str,
    articles: list[Article],
    rate: float,
    sent: dict[str, float],
    meanwhile: Callable[[], None] = lambda: None,
) -> None:
    """Produce at a steady rate, noting when each article was acknowledged;
    `meanwhile` runs while waiting for the next one's turn."""
    start = time.monotonic()
    for n, article in enumerate(articles):
        while time.monotonic() < start + n / rate:
            meanwhile()
            time.sleep(min(0.05, 1 / rate))
        producer.send(topic, key=article.id.encode(), value=article.model_dump_json().encode())
        producer.flush()
        sent[article.id] = time.monotonic()


def end_to_end(rate: float, seconds: float) -> list[float]:
    tag = uuid.uuid4().hex[:8]
    worker, settings, log = start_worker()
    engine = connect(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=0
    )
    body = _seed_body()
    try:
        # warm up: the worker is ready once a first article is searchable
        warm = _articles(1, body, f"{tag}-warm")[0]
        producer.send(
            settings.topic_raw, key=warm.id.encode(), value=warm.model_dump_json().encode()
        )
        producer.flush()
        deadline = time.monotonic() + 120
        while not _found(engine, settings, [warm.id]):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"worker did not start; see {log}")
            time.sleep(0.5)
        articles = _articles(int(rate * seconds), body, tag)
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        send_paced(
            producer, settings.topic_raw, articles, rate, sent,
            lambda: _poll(engine, settings, sent, seen),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(seen) < len(sent) and time.monotonic() < deadline:
            _poll(engine, settings, sent, seen)
            time.sleep(0.05)
        return [seen[i] - sent[i] for i in sent if i in seen]
    finally:
        producer.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        engine.delete_index(f"{settings.index_articles}-*")
        engine.close()


def _found(engine: object, settings: Settings, ids: list[str]) -> set[str]:
    from pipeline.search.engine import SearchEngine, SearchEngineError

    assert isinstance(engine, SearchEngine)
    try:
        result = engine.search(
            settings.index_articles,
            {"query": {"ids": {"values": ids}}, "size": len(ids), "_source": False},
        )
    except SearchEngineError:
        return set()
    return {hit.id for hit in result.hits}


def _poll(
    engine: object, settings: Settings, sent: dict[str, float], seen: dict[str, float]
) -> None:
    waiting = [i for i in sent if i not in seen]
    if waiting:
        now = time.monotonic()
        for found in _found(engine, settings, waiting):
            seen[found] = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0, help="articles per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"Bulk indexing, {args.docs} enriched copies of the reference article (~5 KB each)")
    for mode, per_second in bulk_against_single(args.docs):
        print(f"  {mode:28} {per_second:8.0f} docs/s")
    latencies = end_to_end(args.rate, args.seconds)
    print()
    print(
        f"End to end, news.raw -> searchable, {args.rate:g} articles/s for {args.seconds:g} s "
        f"({len(latencies)} measured; index refresh interval 1 s, bulk wait 1 s)"
    )
    if latencies:
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"  p50 {statistics.median(ordered):.2f} s   p99 {p99:.2f} s   max {ordered[-1]:.2f} s"
        )


if __name__ == "__main__":
    main()
