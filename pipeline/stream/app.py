"""The worker's wiring: topics, tables, the three agents and their handlers, timers,
and the web server. What each stage does lives in its own module:

    news.raw      --enrich (enriching.py)-->            news.enriched
    news.enriched --index, in batches, each batch both:
                    indexed  (indexing.py) -->           the articles alias
                             (and the stories index: pipeline/signals/storyboard.py)
                    matched  (matching.py) -->           news.alerts
    news.alerts   --deliver (alerts/dispatch.py)-->     webhooks
    anything unprocessable --> news.dlq (deadletters.py)

Offsets: every agent reads with manual acks and acks an event only once its
work is durable (sent on, written to the engine, or dead-lettered); Faust
commits only acked offsets, after flushing the producer. A crash in between
replays the event, which is harmless: every write is keyed by the article id,
and alerts by the never-twice table and the Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import faust
import faust.worker
from kafka import KafkaAdminClient, KafkaConsumer
from prometheus_client import Gauge

from pipeline.alerts.api import routes as rules_api
from pipeline.alerts.dispatch import DeliveryPolicy, Dispatcher
from pipeline.alerts.marks import Marks
from pipeline.alerts.store import RuleStore
from pipeline.enrichment.duplicates import DuplicateIndex, changelog_configs, sweep_interval
from pipeline.search.engine import SearchEngine, SearchEngineError
from pipeline.search.retention import pruning
from pipeline.search.templates import rollover, rollover_conditions
from pipeline.signals.stories import StoryIndex
from pipeline.signals.storyboard import StoryBoard
from pipeline.signals.watch import KafkaFigures, SignalWatcher
from pipeline.stream import rewind
from pipeline.stream.batching import EventBatch
from pipeline.stream.deadletters import TopicDeadLetters, valid_articles
from pipeline.stream.enriching import EnrichStage
from pipeline.stream.enrichpool import Enrichment
from pipeline.stream.indexing import BulkIndexer
from pipeline.stream.indices import EngineSetup
from pipeline.stream.matching import RuleMatcher
from vigie import logs, web
from vigie.article import Article
from vigie.deadletter import Event
from vigie.health import Dependency, readiness, unreachable
from vigie.settings import Settings

log = logs.get(__name__)

LAG = Gauge(
    "vigie_consumer_lag_records",
    "Records of a partition this worker has not read yet",
    ["topic", "partition"],
)


class Worker(faust.worker.Worker):
    """Faust's worker without its terminal spinner. At WARNING and above the spinner
    set the root logger to DEBUG and listened to every record: each library's
    debug records were built and then dropped (3 % of a loaded worker's time in a
    profile), and its escape codes went into the log."""

    def on_setup_root_logger(self, logger: Any, level: int) -> None:
        self.spinner = None


def _unacked(stream: faust.StreamT[bytes]) -> AsyncIterator[Event]:
    """The agent's events with manual acks. (Faust's StreamT does not declare
    `noack`, but every stream it gives an agent is a Stream.)"""
    events: AsyncIterator[Event] = cast(faust.Stream[bytes], stream).noack().events()
    return events


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """Faust's form of Settings.kafka_options: TLS, and SASL over it or not."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        cafile = settings.kafka_ssl_cafile
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context)


def create_app(
    settings: Settings,
    *,
    enrichment: Enrichment,
    engine: SearchEngine,
    engine_setup: EngineSetup,
    exit_after: int | None = None,
) -> faust.App:
    """A Faust app wired to `settings`. With `exit_after`, the worker stops itself
    (through the same SIGTERM path as a user's) after that many articles are indexed."""
    app = rewind.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        autodiscover=False,
        # Vigie's own server (vigie/web.py) serves health, metrics and the rules API.
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,  # its tables' topics too
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_credentials=_credentials(settings),
        # A worker killed without a goodbye (kill -9, a lost machine) keeps its
        # partitions until the group gives up on it: seconds, not Kafka's minute.
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.kafka_session_timeout_seconds / 3),
        # Do not wait on shutdown for events that are not acked: while the engine is
        # down the `index` batch never will be. They stay uncommitted and are read
        # again after the restart.
        stream_wait_empty=False,
    )

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_serializer="raw", value_serializer="raw")

    raw, enriched = topic(settings.topic_raw), topic(settings.topic_enriched)
    alerts = topic(settings.topic_alerts)
    dead_letters = TopicDeadLetters(topic(settings.topic_dlq))

    def records_table(
        name: str, window: float, observe: Callable[[object, object | None], None]
    ) -> faust.types.TableT[str, Any]:
        """A global table of per-article records (near-duplicates, stories): every
        worker holds all of it, since the article an event matches may have come
        in on a partition another worker owns. Other workers' records and
        deletions reach `observe` as they are read from the changelog."""

        async def observed(event: faust.types.EventT[Any]) -> None:
            observe(event.key, None if event.message.value is None else event.value)

        return app.GlobalTable(
            name,
            key_type=str,
            partitions=settings.topic_partitions,
            # A key always goes to the same changelog partition, whichever event
            # wrote it, so recovery replays its writes in order.
            use_partitioner=True,
            synchronize_all_active_partitions=True,
            on_changelog_event=observed,
            extra_topic_configs=changelog_configs(window),
        )

    window = settings.duplicates_window_hours * 3600
    near_copies = DuplicateIndex(
        records_table("duplicates", window, lambda k, v: near_copies.observe(k, v)), window
    )
    quiet = settings.stories_window_hours * 3600
    stories = StoryIndex(records_table("stories", quiet, lambda k, v: stories.observe(k, v)), quiet)
    board = StoryBoard(engine, settings.index_articles, settings.index_stories)

    async def expire_records() -> None:
        # The leader deletes (one tombstone each); the others only forget.
        near_copies.expire(delete=app.is_leader())
        stories.expire(delete=app.is_leader())

    app.timer(interval=sweep_interval(min(window, quiet)))(expire_records)
    alert_state = app.Table(
        "alert_state", key_type=str, partitions=settings.topic_partitions, use_partitioner=True
    )
    rules = RuleStore(engine, settings.index_alert_rules)

    enrich_stage = EnrichStage(
        enrichment,
        near_copies,
        stories,
        enriched,
        dead_letters,
        settings.enrich_deadline_seconds,
        settings.kafka_max_message_bytes,
        # With child processes, two batches each: one being enriched while the
        # loop links, assigns and sends the other.
        lanes=max(1, 2 * settings.enrich_processes),
    )
    indexed = 0

    def count_indexed(articles: list[Article]) -> None:
        nonlocal indexed
        indexed += len(articles)
        board.touched(article.story_id for article in articles)
        if exit_after is not None and indexed >= exit_after:
            log.info("exit_after_reached", indexed=indexed)
            os.kill(os.getpid(), signal.SIGTERM)

    indexer = BulkIndexer(
        engine, settings.index_articles, dead_letters, engine_setup.ready, count_indexed
    )
    matcher = RuleMatcher(rules, alerts, dead_letters, engine_setup.ready)

    async def index_and_match(batch: list[tuple[Event, Article]]) -> None:
        # Side by side: each waits on the engine, and an event is acked once both
        # are done with its batch.
        await asyncio.gather(indexer(batch), matcher(batch))

    to_index = EventBatch(
        index_and_match,
        settings.bulk_max_docs,
        settings.bulk_max_bytes,
        settings.bulk_max_wait_seconds,
    )
    dispatcher = Dispatcher(
        rules,
        engine,
        settings.index_deliveries,
        DeliveryPolicy.from_settings(settings),
        alert_state,
        dead_letters,
        Marks(engine, settings.index_alert_marks),
        settings.index_stories,
    )

    @app.agent(raw, name="enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        await enrich_stage.run(_unacked(stream))

    # One agent indexes and matches: each article of news.enriched is delivered,
    # decoded and acked once, not once per stage.
    @app.agent(enriched, name="index")
    async def index(stream: faust.StreamT[bytes]) -> None:
        async for event, article in valid_articles(_unacked(stream), "index", dead_letters):
            await to_index.add(event, article, len(event.value))

    # Several alerts at once: a rule with a throttle or digest one at a time (the
    # dispatcher locks its state), any other at most 4 at a time.
    @app.agent(alerts, name="deliver", concurrency=settings.delivery_concurrency)
    async def deliver(stream: faust.StreamT[bytes]) -> None:
        await dispatcher.run(_unacked(stream))

    async def roll_over() -> None:
        try:
            new_index = await asyncio.to_thread(
                rollover, engine, settings.index_articles, rollover_conditions(settings)
            )
        except SearchEngineError as exc:
            log.warning("rollover_failed", error=str(exc))
            return
        if new_index:
            log.info("rolled_over", alias=settings.index_articles, new_index=new_index)

    engine_health, kafka_health = Dependency("search_engine"), Dependency("kafka")

    async def check_dependencies() -> None:
        try:
            await asyncio.to_thread(engine.health)
        except SearchEngineError as exc:
            engine_health.down(str(exc))
        else:
            engine_health.up()
        servers = settings.kafka_bootstrap_servers.split(",")
        if why := await asyncio.to_thread(unreachable, servers):
            kafka_health.down(why)
        elif not app.consumer.assignment():
            kafka_health.down("no partition assigned yet (starting, or the group is rebalancing)")
        else:
            kafka_health.up()
            for tp in app.consumer.assignment():
                try:  # unknown until the partition's first fetch
                    position = await app.consumer.position(tp)
                    highwater = app.consumer.highwater(tp)
                except Exception:  # noqa: S112 (a metric is not worth a crash)
                    continue
                if position is not None and highwater is not None:
                    LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                        max(0, highwater - position)
                    )

    app.timer(interval=2.0)(check_dependencies)
    app.timer(interval=settings.bulk_max_wait_seconds / 2)(to_index.flush_if_waiting)
    app.timer(interval=1.0)(dispatcher.flush_digests)
    app.timer(interval=1.0)(dispatcher.flush_records)
    app.timer(interval=3600.0)(dispatcher.expire_marks)
    app.timer(interval=settings.stories_refresh_seconds)(board.refresh)
    watcher = SignalWatcher(
        rules,
        engine,
        settings.index_articles,
        Marks(engine, settings.index_alert_marks),
        alerts,
        KafkaFigures(
            lambda: (
                KafkaConsumer(**settings.kafka_options(), request_timeout_ms=10_000),
                KafkaAdminClient(**settings.kafka_options(), request_timeout_ms=10_000),
            ),
            settings.topic_dlq,
            settings.app_id,
            (settings.topic_raw, settings.topic_enriched, settings.topic_alerts),
        ),
    )
    app.timer(interval=settings.signals_check_seconds)(watcher.check)
    app.timer(interval=settings.rollover_check_seconds)(roll_over)

    # Retention (pipeline/search/retention.py): indices past VIGIE_RETENTION_DAYS.
    if settings.retention_days is not None:
        prune = pruning(engine, settings.index_articles, settings.retention_days)
        app.timer(interval=settings.rollover_check_seconds)(prune)

    async def serve_web() -> None:
        runner = await web.serve(
            settings.web_host,
            settings.web_port,
            lambda: readiness(engine_health, kafka_health, app=settings.app_id),
            web.admin(
                rules_api(rules, engine, settings.index_articles, settings.max_rules),
                settings.api_token.get_secret_value() if settings.api_token else None,
                settings.api_hosts.split(","),
            ),
        )
        try:
            await asyncio.Event().wait()  # until the worker cancels its tasks
        finally:
            await runner.cleanup()
            await dispatcher.close()
            enrichment.close()

    app.task(serve_web)
    return app
