"""The Faust app: agent `enrich` (news.raw -> news.enriched) and agent `index`
(news.enriched -> search engine), with dead letters on news.dlq.

Offsets: Faust commits an event's offset only after the agent has moved past it
and after flushing the producer (faust.transport.consumer._commit_offsets), so:
  1. `enrich` sends the enriched article (or the dead letter) before taking the next event;
  2. `index` returns to the stream only once the engine has acknowledged the write;
  3. only then can the offset be committed. A crash in between replays the event,
     which is harmless: every write is keyed by the article id.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from pydantic import ValidationError

from pipeline.deadletter import dead_letter
from pipeline.duplicates import DuplicateIndex
from pipeline.enrich import Enricher
from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    SearchEngine,
    articles_index_body,
)
from vigie import logs
from vigie.article import Article
from vigie.settings import Settings

log = logs.get(__name__)

ENRICHED = Counter("vigie_articles_enriched_total", "Articles enriched and sent on")
INDEXED = Counter("vigie_articles_indexed_total", "Articles written to the search index")
DEAD_LETTERS = Counter("vigie_dead_letters_total", "Messages sent to the DLQ", ["stage"])
INDEX_RETRIES = Counter(
    "vigie_index_retries_total", "Index writes retried because the engine was unavailable"
)

_BACKOFF_START, _BACKOFF_MAX = 0.5, 30.0


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
    index_body = articles_index_body(settings)
    index_ready = False
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

    async def write(article: Article) -> None:
        """Write one article, waiting out an unavailable engine (the offset stays
        uncommitted meanwhile); DocumentRejected is left to the caller."""
        nonlocal index_ready
        delay = _BACKOFF_START
        while True:
            try:
                if not index_ready:
                    await asyncio.to_thread(
                        engine.ensure_index, settings.index_articles, index_body
                    )
                    index_ready = True
                document = article.model_dump(mode="json")
                await asyncio.to_thread(engine.put, settings.index_articles, article.id, document)
                return
            except EngineUnavailable as exc:
                INDEX_RETRIES.inc()
                log.warning("search_engine_unavailable", error=str(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
                delay = min(delay * 2, _BACKOFF_MAX)

    @app.agent(enriched, name="index")
    async def index(stream: faust.StreamT[bytes]) -> None:
        nonlocal indexed
        async for event in stream.events():
            try:
                article = Article.model_validate_json(event.value)
            except ValidationError as exc:
                await send_dead_letter(event, "index", f"not a valid article: {_brief(exc)}")
                continue
            try:
                await write(article)
            except DocumentRejected as exc:
                await send_dead_letter(event, "index", f"search engine refused it: {exc}")
                continue
            INDEXED.inc()
            indexed += 1
            log.info("indexed", article_id=article.id, language=article.language)
            if exit_after is not None and indexed >= exit_after:
                log.info("exit_after_reached", indexed=indexed)
                os.kill(os.getpid(), signal.SIGTERM)

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
