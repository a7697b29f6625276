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

from pipeline import rewind
from pipeline.alerts import api as alerts_api
from pipeline.alerts.delivery import AlertMessage
from pipeline.alerts.dispatch import Dispatcher
from pipeline.alerts.store import RuleMatch, RuleStore
from pipeline.batching import EventBatch
from pipeline.duplicates import DuplicateIndex
from pipeline.enrich import Enricher
from pipeline.indexing import BulkIndexer
from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    SearchEngine,
    SearchEngineError,
)
from pipeline.search.templates import rollover
from vigie import logs
from vigie.article import Article
from vigie.deadletter import dead_letter
from vigie.settings import Settings

log = logs.get(__name__)

ENRICHED = Counter("vigie_articles_enriched_total", "Articles enriched and sent on")
MATCHES = Counter("vigie_rule_matches_total", "Matches of alert rules on articles")
_BACKOFF_START, _BACKOFF_MAX = 0.5, 30.0
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
    app = rewind.App(
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

    async def into_batch(stream: Any, batch: EventBatch[Article], stage: str | None) -> None:
        """Feed valid articles to a batch that acks them once handled (manual acks);
        with `stage`, an invalid message goes to the DLQ under that stage."""
        async for event in stream.noack().events():
            try:
                article = Article.model_validate_json(event.value)
            except ValidationError as exc:
                if stage:
                    await send_dead_letter(event, stage, f"not a valid article: {_brief(exc)}")
                event.ack()
                continue
            await batch.add(event, article, len(event.value))

    @app.agent(enriched, name="index")
    async def index(stream: Any) -> None:
        await into_batch(stream, to_index, "index")

    async def roll_over() -> None:
        try:
            new_index = await asyncio.to_thread(rollover, engine, settings)
        except SearchEngineError as exc:
            log.warning("rollover_failed", error=str(exc))
            return
        if new_index:
            log.info("rolled_over", alias=settings.index_articles, new_index=new_index)

    # Alerting: every enriched article is percolated against the rules (in batches),
    # each match goes to news.alerts keyed by rule, and `deliver` calls the webhooks.
    alerts = app.topic(settings.topic_alerts, key_serializer="raw", value_serializer="raw")
    rules = RuleStore(engine, settings)
    dispatcher = Dispatcher(
        rules,
        engine,
        settings,
        app.Table(
            "alert_state", key_type=str, partitions=settings.topic_partitions, use_partitioner=True
        ),
        lambda event, reason: send_dead_letter(event, "deliver", reason),
    )
    alerts_api.register(app, rules, engine, settings)

    async def percolate(articles: list[Article]) -> list[RuleMatch]:
        delay = _BACKOFF_START
        while True:
            try:
                return await asyncio.to_thread(rules.match, articles)
            except EngineUnavailable as exc:
                log.warning("rules_unavailable", error=str(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)

    async def match_rules(batch: list[tuple[Any, Article]]) -> None:
        try:
            matches = await percolate([article for _, article in batch])
        except DocumentRejected:
            # One article the engine cannot take (the index agent dead-letters it
            # too) must not keep its batch neighbours from their alerts.
            matches = []
            for event, article in batch:
                try:
                    matches.extend(await percolate([article]))
                except DocumentRejected as exc:
                    await send_dead_letter(event, "match", f"cannot be matched: {exc}")
        for match in matches:
            message = AlertMessage.of(match.rule, match.article)
            await alerts.send(key=match.rule.id.encode(), value=message.model_dump_json().encode())
            MATCHES.inc()

    to_match: EventBatch[Article] = EventBatch(
        match_rules, settings.bulk_max_docs, settings.bulk_max_bytes, settings.bulk_max_wait_seconds
    )

    @app.agent(enriched, name="match")
    async def match(stream: Any) -> None:
        await into_batch(stream, to_match, None)  # the index agent dead-letters bad ones

    # Several alerts at once, each rule's in turn (the dispatcher locks per rule):
    # one slow or failing receiver delays its own rule, not the others.
    @app.agent(alerts, name="deliver", concurrency=settings.delivery_concurrency)
    async def deliver(stream: Any) -> None:
        # Manual acks: an auto-acked stream acks the event it was on when the
        # worker stops, and a delivery cut short would never be sent again.
        async for event in stream.noack().events():
            try:
                alert = AlertMessage.model_validate_json(event.value)
            except ValidationError as exc:
                await send_dead_letter(event, "deliver", f"not a valid alert: {_brief(exc)}")
            else:
                await dispatcher.handle(event, alert)
            event.ack()

    async def flush_waiting_batches() -> None:
        await to_index.flush_if_waiting()
        await to_match.flush_if_waiting()

    app.timer(interval=settings.bulk_max_wait_seconds / 2)(flush_waiting_batches)
    app.timer(interval=1.0)(dispatcher.flush_digests)
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
