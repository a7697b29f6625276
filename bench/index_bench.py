"""Indexing into the real local search engine (`vigie services up` first):

1. bulk indexing throughput against one document per request, same documents,
   same run;
2. end-to-end latency from producing to news.raw to the article being
   searchable, through a real worker, at a steady rate (p50, p99).

    .venv/bin/python -m bench.index_bench [--docs 2000] [--rate 20] [--seconds 20] [--bulk-only]
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
from pipeline.search.templates import Indices, rollover, setup
from vigie.article import Article, Source, article_id
from vigie.settings import Settings, private_environment, private_prefix, settings_for

REPO = Path(__file__).resolve().parents[1]


def _seed_body() -> str:
    from connectors.feed import parse_feed, read_feed
    from connectors.feedlist import FeedConfig

    feed = str(REPO / "samples" / "seed-feed.xml")
    return parse_feed(read_feed(feed), FeedConfig.at(feed, "bench")).articles[0].body


def bench_article(url: str, title: str, body: str, feed: str = "bench") -> Article:
    """An article as a French feed's connector would produce it, for the benches."""
    return Article(
        id=article_id(url),
        url=url,
        canonical_url=url,
        source=Source(feed_id=feed, name=feed.capitalize(), language_hint="fr"),
        title=title,
        body=body,
        fetched_at=datetime.now(UTC),
    )


def _articles(count: int, body: str, tag: str) -> list[Article]:
    return [
        bench_article(f"https://bench.example/{tag}/{n}", f"Article {n}", body)
        for n in range(count)
    ]


def bulk_against_single(docs: int, repeat: int = 1) -> list[tuple[str, float]]:
    """Docs per second, same documents: bulk as the worker writes (one copy per id
    across the alias: an ids query after each request), bulk without that query,
    bulk after a rollover when every id has an older copy to delete, and one
    document per request. The modes take turns `repeat` times (a busy machine
    slows them alike); each one's median."""
    enricher = Enricher.from_settings(Settings())
    enriched = enricher.enrich(_articles(1, _seed_body(), "x")[0])
    documents = []
    for n in range(docs):
        doc = to_document(enriched)
        doc["id"] = f"{n:08d}"
        documents.append((doc["id"], doc))
    rates: dict[str, list[float]] = {}
    checks: list[float] = []
    bulks: list[float] = []
    modes = [
        ("bulk, 500/request, no copy check", 500, False, False),
        ("bulk, 500/request, one copy (as the worker)", 500, True, False),
        ("  same, every id in an older index", 500, True, True),
        ("one document per request, no copy check", 1, False, False),
    ]
    for mode, batch, unique, rolled in modes * repeat:
        tag = uuid.uuid4().hex[:8]
        settings = Settings(
            index_articles=f"bench-{tag}-articles",
            index_alert_rules=f"bench-{tag}-rules",
            index_deliveries=f"bench-{tag}-deliveries",
        )
        engine = connect(settings)
        setup(engine, Indices.from_settings(settings), settings.config_dir)
        if rolled:  # the same ids written once, then a rollover: each write deletes a copy
            for i in range(0, docs, batch):
                engine.bulk_index(settings.index_articles, documents[i : i + batch], unique=False)
            rollover(engine, settings.index_articles, {})
        started = time.perf_counter()
        for i in range(0, docs, batch):
            items = engine.bulk_index(settings.index_articles, documents[i : i + batch], unique)
            assert all(item.ok for item in items), items[:1]
        engine.refresh(settings.index_articles)
        elapsed = time.perf_counter() - started
        rates.setdefault(mode, []).append(docs / elapsed)
        if rolled:
            total = engine.search(settings.index_articles, {"size": 0, "track_total_hits": True})
            assert total.total == docs, f"{total.total} documents for {docs} ids"
        if unique and batch > 1 and not rolled:
            # What the copy check adds to each bulk request, measured alone: the
            # ids query on the alias (nothing to delete here).
            write = next(i for i, w in engine.alias_indices(settings.index_articles).items() if w)
            for i in range(0, docs, batch):
                ids = {doc_id: write for doc_id, _ in documents[i : i + batch]}
                check = time.perf_counter()
                engine.delete_other_copies(settings.index_articles, ids)
                checks.append(time.perf_counter() - check)
                bulk = time.perf_counter()
                engine.bulk_index(settings.index_articles, documents[i : i + batch], False)
                bulks.append(time.perf_counter() - bulk)
        for index in [*engine.alias_indices(settings.index_articles), settings.index_alert_rules,
                      settings.index_deliveries]:  # fmt: skip
            engine.delete_index(index)
        engine.close()
    print(
        f"  copy check alone: median {statistics.median(checks) * 1000:.1f} ms per 500-id "
        f"request, against {statistics.median(bulks) * 1000:.0f} ms for its bulk request"
    )
    return [(mode, statistics.median(found)) for mode, found in rates.items()]


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
        engine.delete_prefixed(private_prefix(settings))
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
    parser.add_argument("--bulk-only", action="store_true", help="skip the end-to-end run")
    parser.add_argument("--repeat", type=int, default=1, help="bulk modes in turn, N times")
    args = parser.parse_args()
    print(f"Bulk indexing, {args.docs} enriched copies of the reference article (~5 KB each)")
    for mode, per_second in bulk_against_single(args.docs, args.repeat):
        print(f"  {mode:44} {per_second:8.0f} docs/s")
    print("Target from issue #14: what the worker does within 80 % of the plain bulk request.")
    if args.bulk_only:
        return
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
