"""The Faust app: agent `enrich` (news.raw -> news.enriched) and agent `index`
(news.enriched -> search engine, in bulk), with dead letters on news.dlq.

Offsets: Faust commits an event's offset only once it is acked, and flushes the
producer before committing (faust.transport.consumer._commit_offsets), so:
  1. `enrich` sends the enriched article (or the dead letter) before taking the
     next event, which acks the previous one;
  2. `index` acks only when the engine holds the article (pipeline/indexing.py);
  3. only then can the offset be committed. A crash in between replays the event,
     which is harmless: every write is keyed by the article id.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from pydantic import ValidationError

from pipeline.batching import EventBatch
from pipeline.deadletter import dead_letter
from pipeline.duplicates import DuplicateIndex
from pipeline.enrich import Enricher
from pipeline.indexing import BulkIndexer
from pipeline.search.engine import SearchEngine, SearchEngineError
from pipeline.search.templates import rollover
from vigie import logs
from vigie.article import Article
from vigie.settings import Settings

log = logs.get(__name__)

ENRICHED = Counter("vigie_articles_enriched_total", "Articles enriched and sent on")
DEAD_LETTERS = Counter("vigie_dead_letters_total", "Messages sent to the DLQ", ["stage"])


def create_app(
    settings: Settings,
    *,
    enricher: Enricher,
    engine: SearchEngine,
    exit_after: int | None = None,
) -> faust.App:
    """A Faust app wired to `settings`. With `exit_after`, the worker stops itself
    (through the same SIGTERM path as a user's) after that many articles are indexed."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        autodiscover=False,
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Do not wait on shutdown for events that are not acked: while the engine is
        # down the `index` batch never will be. They stay uncommitted and are read
        # again after the restart.
        stream_wait_empty=False,
    )
    raw = app.topic(settings.topic_raw, key_serializer="raw", value_serializer="raw")
    enriched = app.topic(settings.topic_enriched, key_serializer="raw", value_serializer="raw")
    dlq = app.topic(settings.topic_dlq, key_serializer="raw", value_serializer="raw")
    # Every worker keeps all of it (a global table): the first copy of a story may
    # have come in on a partition another worker owns.
    duplicates = DuplicateIndex(
        app.GlobalTable(
            "duplicates",
            key_type=str,
            partitions=settings.topic_partitions,
            # A key always goes to the same changelog partition, whichever event
            # wrote it, so recovery replays its writes in order.
            use_partitioner=True,
            synchronize_all_active_partitions=True,
        )
    )
    indexed = 0

    async def send_dead_letter(event: Any, stage: str, reason: str) -> None:
        message = event.message
        log.warning(
            "dead_letter",
            stage=stage,
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
        DEAD_LETTERS.labels(stage=stage).inc()
        await dlq.send(
            key=message.key,
            value=dead_letter(
                stage=stage,
                reason=reason,
                payload=message.value,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            ),
        )

    @app.agent(raw, name="enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                article = Article.model_validate_json(event.value)
            except ValidationError as exc:
                await send_dead_letter(event, "enrich", f"not a valid article: {_brief(exc)}")
                continue
            try:
                result = enricher.enrich(article)
                first = duplicates.first_copy(result.id, result.content_hash or "", result.body)
                if first is not None:
                    result = result.model_copy(update={"duplicate_of": first})
            except Exception as exc:  # one bad article must not stop the stream
                log.exception("enrich_failed", article_id=article.id)
                await send_dead_letter(event, "enrich", f"enrichment failed: {exc!r}")
                continue
            await enriched.send(key=result.id.encode(), value=result.model_dump_json().encode())
            ENRICHED.inc()

    def count_indexed(n: int) -> None:
        nonlocal indexed
        indexed += n
        if exit_after is not None and indexed >= exit_after:
            log.info("exit_after_reached", indexed=indexed)
            os.kill(os.getpid(), signal.SIGTERM)

    async def reject(event: Any, reason: str) -> None:
        await send_dead_letter(event, "index", reason)

    to_index: EventBatch[Article] = EventBatch(
        BulkIndexer(engine, settings, reject, count_indexed),
        settings.bulk_max_docs,
        settings.bulk_max_bytes,
        settings.bulk_max_wait_seconds,
    )

    @app.agent(enriched, name="index")
    async def index(stream: Any) -> None:
        # Manual acks: BulkIndexer acks each event once its article is durable.
        async for event in stream.noack().events():
            try:
                article = Article.model_validate_json(event.value)
            except ValidationError as exc:
                await send_dead_letter(event, "index", f"not a valid article: {_brief(exc)}")
                event.ack()
                continue
            await to_index.add(event, article, len(event.value))

    async def flush_waiting_batch() -> None:
        await to_index.flush_if_waiting()

    async def roll_over() -> None:
        try:
            new_index = await asyncio.to_thread(rollover, engine, settings)
        except SearchEngineError as exc:
            log.warning("rollover_failed", error=str(exc))
            return
        if new_index:
            log.info("rolled_over", alias=settings.index_articles, new_index=new_index)

    app.timer(interval=settings.bulk_max_wait_seconds / 2)(flush_waiting_batch)
    app.timer(interval=settings.rollover_check_seconds)(roll_over)

    @app.page("/health")
    async def health(self: View, request: Request) -> Response:
        return self.json({"status": "ok", "app": settings.app_id})

    @app.page("/metrics")
    async def metrics(self: View, request: Request) -> Response:
        # aiohttp refuses a charset inside content_type; Prometheus' type carries one.
        content_type = CONTENT_TYPE_LATEST.split("; charset")[0]
        return self.bytes(generate_latest(), content_type=content_type)

    return app


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'message'}: {error['msg']}"
        for error in exc.errors()[:5]
    )
