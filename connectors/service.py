"""The connector service: polls every feed on its own schedule, keeps what it has
seen (connectors/state.py) and sends new and updated entries to `news.raw`.

A feed that fails is retried with backoff and, after a few failures in a row,
reported unhealthy; it never stops the others. Kafka being down stops nothing
either: accepted articles wait in the outbox until the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from connectors.feed import FeedError, ParsedFeed, document_of, parse_feed
from connectors.feedlist import FeedConfig, load_feeds
from connectors.fetch import Fetched, Fetcher, FetchError, max_age_seconds
from connectors.fulltext import FullText, needs_full_text
from connectors.produce import DeliveryError, Sent, make_producer, send_each
from connectors.schedule import (
    DEFAULT_INTERVAL,
    Bounds,
    backoff,
    first_interval,
    next_interval,
)
from connectors.state import State, fingerprint
from vigie import logs
from vigie.article import Article
from vigie.deadletter import dead_letter
from vigie.settings import Settings

log = logs.get("vigie.connector")

POLLS = Counter("vigie_connector_polls", "Feed polls by result", ["result"])
ENTRIES = Counter("vigie_connector_entries", "Entries accepted, new or updated", ["kind"])
ERRORS = Counter("vigie_connector_errors", "Errors by kind", ["kind"])
PRODUCED = Counter("vigie_connector_produced", "Articles acknowledged by Kafka")
LAST_SUCCESS = Gauge(
    "vigie_connector_feed_last_success_timestamp_seconds", "Last successful poll", ["feed"]
)
FAILURES = Gauge("vigie_connector_feed_failures", "Failed polls in a row", ["feed"])
UNHEALTHY = Gauge("vigie_connector_unhealthy_feeds", "Feeds failing for a while")
OUTBOX = Gauge("vigie_connector_outbox_articles", "Accepted articles not yet acknowledged")
STAGE = Histogram(
    "vigie_connector_stage_seconds", "Time per poll stage", ["stage"], buckets=(0.01, 0.1, 1, 10)
)

Result = Literal["new", "no_new", "not_modified", "unchanged", "error"]


@dataclass
class Outcome:
    feed_id: str
    result: Result
    new: int = 0
    updated: int = 0
    seen: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


class Connector:
    def __init__(self, settings: Settings, feeds: list[FeedConfig], state: State) -> None:
        self.settings = settings
        self.feeds = {feed.id: feed for feed in feeds}
        self.state = state
        self.fetcher = Fetcher.from_settings(settings)
        self.full_text = FullText(self.fetcher, settings.fulltext_concurrency)
        self.bounds = Bounds(settings.poll_min_seconds, settings.poll_max_seconds)
        self.next_poll = {feed_id: self.state.feed(feed_id).next_poll for feed_id in self.feeds}
        self.unhealthy: set[str] = set()
        self.kafka_ok: bool | None = None
        self._outbox_ready = asyncio.Event()
        self._producer: KafkaProducer | None = None
        self.stage_seconds: dict[str, float] = {"fetch": 0.0, "parse": 0.0, "produce": 0.0}
        self._stage_lock = threading.Lock()
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")

    # -- one feed ---------------------------------------------------------------

    async def poll(self, feed: FeedConfig) -> Outcome:
        known = self.state.feed(feed.id)
        started = time.perf_counter()
        try:
            fetched = await self.fetcher.fetch(feed.url, known.validators, feed.conditional_get)
        except FetchError as exc:
            self._timed("fetch", started)
            return self._failed(feed, exc.kind, str(exc), exc.retry_after)
        self._timed("fetch", started)
        if fetched.unchanged:
            result: Result = "not_modified" if fetched.status == 304 else "unchanged"
            hint = max_age_seconds(fetched.headers)
            interval = self._interval(feed, known.interval, 0, 0, True, hint)
            self.state.accept(feed.id, [], None, fetched.validators, interval, self._at(interval))
            return self._succeeded(feed, Outcome(feed.id, result))
        try:
            # In a thread: a 3 MB feed takes a second to parse, and /health, the other
            # fetches and the outbox must not wait for it. One thread: parsing is
            # CPU-bound, more would only hold more parsed feeds in memory at once.
            parsed = await asyncio.get_running_loop().run_in_executor(
                self._parser, self._parse, fetched, feed
            )
        except FeedError as exc:
            return self._failed(feed, "parse", str(exc), None)
        started = time.perf_counter()
        novelty = self.state.novelty(parsed.articles)
        self._timed("parse", started)
        accepted = [(fingerprint(a), a) for a in [*novelty.new, *novelty.updated]]
        if feed.full_text:
            accepted = await self._complete(accepted)
        # The feed's own <ttl>/sy:update* and the server's max-age: no sooner than that.
        hints = [h for h in (parsed.update_hint, max_age_seconds(fetched.headers)) if h]
        hint = max(hints) if hints else None
        if known.last_success is None:
            # A first poll finds everything new, which says nothing of the feed's pace.
            interval = first_interval(feed.interval, hint, self.bounds)
        else:
            interval = self._interval(
                feed,
                known.interval,
                len(novelty.new),
                len(parsed.articles),
                False,
                hint,
            )
        seen_ids = [a.id for a in parsed.articles]
        self.state.accept(
            feed.id, accepted, seen_ids, fetched.validators, interval, self._at(interval)
        )
        if accepted:
            self._outbox_ready.set()
        ENTRIES.labels("new").inc(len(novelty.new))
        ENTRIES.labels("updated").inc(len(novelty.updated))
        for warning in parsed.warnings:
            log.warning("feed_warning", feed=feed.id, reason=warning)
        outcome = Outcome(
            feed.id,
            "new" if accepted else "no_new",
            new=len(novelty.new),
            updated=len(novelty.updated),
            seen=novelty.seen,
            warnings=parsed.warnings,
        )
        return self._succeeded(feed, outcome)

    def _parse(self, fetched: Fetched, feed: FeedConfig) -> ParsedFeed:
        # CPU time of this thread: parses overlap in wall time, not in CPU.
        started = time.thread_time()
        try:
            return parse_feed(document_of(fetched), feed)
        finally:
            elapsed = time.thread_time() - started
            with self._stage_lock:
                self.stage_seconds["parse"] += elapsed
            STAGE.labels("parse").observe(elapsed)

    async def _complete(self, accepted: list[tuple[str, Article]]) -> list[tuple[str, Article]]:
        # The fingerprint stays the feed's version: the page changing (ads, counters)
        # must not make the entry look updated at every poll.
        async def one(fp: str, article: Article) -> tuple[str, Article]:
            if not needs_full_text(article):
                return fp, article
            completed = await self.full_text.complete(article)
            if completed.body == article.body:
                ERRORS.labels("fulltext").inc()
            return fp, completed

        return list(await asyncio.gather(*(one(fp, a) for fp, a in accepted)))

    def _interval(
        self,
        feed: FeedConfig,
        current: float | None,
        new: int,
        total: int,
        unchanged: bool,
        hint: float | None,
    ) -> float:
        return next_interval(
            current or feed.interval or DEFAULT_INTERVAL,
            new=new,
            total=total,
            unchanged=unchanged,
            hint=hint,
            bounds=self.bounds,
        )

    def _at(self, interval: float) -> float:
        return time.time() + interval

    def _succeeded(self, feed: FeedConfig, outcome: Outcome) -> Outcome:
        POLLS.labels(outcome.result).inc()
        LAST_SUCCESS.labels(feed.id).set(time.time())
        FAILURES.labels(feed.id).set(0)
        if feed.id in self.unhealthy:
            self.unhealthy.discard(feed.id)
            log.info("feed_healthy_again", feed=feed.id)
        UNHEALTHY.set(len(self.unhealthy))
        if feed.id in self.feeds:  # not removed from the list while it was polled
            self.next_poll[feed.id] = self.state.feed(feed.id).next_poll
        log.info(
            "feed_polled",
            feed=feed.id,
            result=outcome.result,
            new=outcome.new,
            updated=outcome.updated,
            seen=outcome.seen,
        )
        return outcome

    def _failed(
        self, feed: FeedConfig, kind: str, error: str, retry_after: float | None
    ) -> Outcome:
        known = self.state.feed(feed.id)
        base = min(known.interval or feed.interval or DEFAULT_INTERVAL, 300.0)
        delay = backoff(known.failures + 1, base, self.bounds.high, retry_after)
        failures = self.state.failed(feed.id, kind, error, time.time() + delay)
        if feed.id in self.feeds:
            self.next_poll[feed.id] = time.time() + delay
        POLLS.labels("error").inc()
        ERRORS.labels(kind).inc()
        FAILURES.labels(feed.id).set(failures)
        if failures >= self.settings.feed_unhealthy_after and feed.id not in self.unhealthy:
            self.unhealthy.add(feed.id)
            log.error("feed_unhealthy", feed=feed.id, failures=failures, reason=error)
        UNHEALTHY.set(len(self.unhealthy))
        log.warning("feed_failed", feed=feed.id, kind=kind, reason=error, retry_in=round(delay, 1))
        return Outcome(feed.id, "error", error=f"{kind}: {error}")

    def _timed(self, stage: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        with self._stage_lock:
            self.stage_seconds[stage] += elapsed
        STAGE.labels(stage).observe(elapsed)

    # -- the outbox ---------------------------------------------------------------

    def send_outbox(self, batch: int = 500) -> int:
        """Send what waits in the outbox, oldest first; returns how many Kafka
        acknowledged. Raises DeliveryError (the rest stays for the next call)."""
        sent = 0
        while rows := self.state.outbox(batch):
            outcome = self._send(rows)
            sent += self._settle(rows, outcome)
        return sent

    def _send(self, rows: list[tuple[int, str, bytes]]) -> Sent:
        # Kafka only, no SQLite: this runs in a worker thread.
        started = time.perf_counter()
        if self._producer is None:
            try:
                self._producer = make_producer(self.settings.kafka_bootstrap_servers)
            except KafkaError as exc:
                raise DeliveryError(f"Kafka unreachable: {exc or type(exc).__name__}") from exc
        try:
            sent = send_each(
                self._producer,
                self.settings.topic_raw,
                ((article_id.encode(), payload) for _, article_id, payload in rows),
            )
            if sent.refused:
                self._dead_letters(rows, sent)
            return sent
        finally:
            self._timed("produce", started)

    def _dead_letters(self, rows: list[tuple[int, str, bytes]], sent: Sent) -> None:
        """A refused article goes to news.dlq, said with its id and size (its bytes
        are what Kafka refused); one whose letter cannot be sent yet stays."""
        assert self._producer is not None
        letters = [
            (
                rows[position][1].encode(),
                dead_letter(
                    stage="connector",
                    reason=f"article {rows[position][1]} ({len(rows[position][2])} bytes) "
                    f"refused by Kafka: {reason}",
                    payload=None,
                    topic=self.settings.topic_raw,
                ),
            )
            for position, reason in sent.refused
        ]
        posted = send_each(self._producer, self.settings.topic_dlq, letters)
        unposted = {n for n, _ in posted.failed + posted.refused}
        kept = [refusal for n, refusal in enumerate(sent.refused) if n in unposted]
        sent.refused = [refusal for n, refusal in enumerate(sent.refused) if n not in unposted]
        sent.failed.extend(
            (position, f"{reason} (dead letter not sent)") for position, reason in kept
        )

    def _settle(self, rows: list[tuple[int, str, bytes]], sent: Sent) -> int:
        """Drop acknowledged and refused rows from the outbox; raise DeliveryError if
        some failed for now (they stay, in order, for the next attempt)."""
        for position, reason in sent.refused:
            # Sending it again cannot help, and it must not hold up the others.
            _, article_id, payload = rows[position]
            ERRORS.labels("refused").inc()
            log.error(
                "article_refused_by_kafka", article=article_id, bytes=len(payload), reason=reason
            )
        done = [rows[p][0] for p in sent.acknowledged] + [rows[p][0] for p, _ in sent.refused]
        self.state.delivered(done)
        PRODUCED.inc(len(sent.acknowledged))
        OUTBOX.set(self.state.outbox_size())
        if sent.failed:
            raise DeliveryError(
                f"{len(sent.failed)} of {len(rows)} articles not delivered: {sent.failed[0][1]}"
            )
        return len(sent.acknowledged)

    async def deliver(self, stop: asyncio.Event) -> None:
        """Keep the outbox empty; back off while Kafka is down."""
        failures = 0
        while True:
            rows = self.state.outbox(500)
            if rows:
                try:
                    sent = await asyncio.to_thread(self._send, rows)
                    delivered = self._settle(rows, sent)
                except DeliveryError as exc:
                    failures += 1
                    self.kafka_ok = False
                    ERRORS.labels("kafka").inc()
                    delay = backoff(failures, 1.0, 30.0)
                    log.error(
                        "kafka_delivery_failed",
                        reason=str(exc),
                        waiting=self.state.outbox_size(),
                        retry_in=round(delay, 1),
                    )
                    if stop.is_set():
                        return
                    await _wait(stop, delay)
                    continue
                failures = 0
                self.kafka_ok = True
                log.info("articles_produced", count=delivered, topic=self.settings.topic_raw)
                continue
            if stop.is_set():
                return
            self._outbox_ready.clear()
            await _wait_any(stop, self._outbox_ready, 5.0)

    def close(self) -> None:
        self._parser.shutdown(wait=True)
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None

    # -- the service ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event, feeds_file: Path | None = None) -> None:
        """Poll until `stop` is set, then finish the polls under way and send what
        the outbox holds (as long as Kafka takes it)."""
        delivering = asyncio.create_task(self.deliver(stop))
        polls: dict[str, asyncio.Task[Outcome]] = {}
        capacity = self.settings.fetch_concurrency * 2
        feeds_mtime = _mtime(feeds_file)
        next_prune = 0.0
        while not stop.is_set():
            if time.time() >= next_prune:
                next_prune = time.time() + 3600
                forgotten = self.state.forget_older_than(self.settings.entry_retention_days * 86400)
                if forgotten:
                    log.info("entries_forgotten", count=forgotten)
            if feeds_file is not None and _mtime(feeds_file) != feeds_mtime:
                feeds_mtime = _mtime(feeds_file)
                self.reload(feeds_file)
            now = time.time()
            due = sorted(
                (at, feed_id)
                for feed_id, at in self.next_poll.items()
                if at <= now and feed_id not in polls
            )
            for _, feed_id in due[: max(0, capacity - len(polls))]:
                task = asyncio.create_task(self._safe_poll(self.feeds[feed_id]))
                polls[feed_id] = task
                task.add_done_callback(partial(_forget, polls, feed_id))
            soonest = min(self.next_poll.values(), default=now + 1.0)
            await _wait(stop, min(1.0, max(0.05, soonest - time.time())))
        log.info("connector_stopping", polls_under_way=len(polls))
        if polls:
            await asyncio.wait(list(polls.values()), timeout=self.settings.fetch_timeout_seconds)
            for task in polls.values():
                task.cancel()
        self._outbox_ready.set()
        await delivering
        await self.fetcher.close()
        await asyncio.to_thread(self.close)
        log.info("connector_stopped", outbox=self.state.outbox_size())

    async def _safe_poll(self, feed: FeedConfig) -> Outcome:
        # A bug on one feed's content must cost that feed, not the service.
        try:
            return await self.poll(feed)
        except Exception as exc:
            log.exception("feed_poll_crashed", feed=feed.id)
            return self._failed(feed, "internal", f"{type(exc).__name__}: {exc}", None)

    async def run_once(self, progress: Callable[[Outcome], Any] | None = None) -> list[Outcome]:
        """Poll every feed once, whatever its schedule, then send the outbox."""
        outcomes: list[Outcome] = []
        slots = asyncio.Semaphore(self.settings.fetch_concurrency * 2)

        async def one(feed: FeedConfig) -> None:
            async with slots:
                outcome = await self._safe_poll(feed)
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)

        await asyncio.gather(*(one(feed) for feed in self.feeds.values()))
        await self.fetcher.close()
        return outcomes

    def reload(self, feeds_file: Path) -> None:
        loaded = load_feeds(feeds_file)
        for problem in loaded.problems:
            log.error("feed_list_problem", problem=str(problem))
        self.feeds = {feed.id: feed for feed in loaded.feeds}
        self.next_poll = {
            feed_id: self.next_poll.get(feed_id, self.state.feed(feed_id).next_poll)
            for feed_id in self.feeds
        }
        log.info("feed_list_reloaded", feeds=len(self.feeds), problems=len(loaded.problems))

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.kafka_ok is not False else "degraded",
            "feeds": len(self.feeds),
            "unhealthy_feeds": sorted(self.unhealthy),
            "outbox": self.state.outbox_size(),
            "kafka": {None: "unknown", True: "ok", False: "down"}[self.kafka_ok],
        }


async def serve_health(connector: Connector, host: str, port: int) -> web.AppRunner:
    """GET /health (JSON) and GET /metrics (Prometheus) for the connector."""

    async def health(_: web.Request) -> web.Response:
        return web.json_response(connector.health())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path else None
    except OSError:
        return None


def _forget(polls: dict[str, asyncio.Task[Outcome]], feed_id: str, _: object) -> None:
    polls.pop(feed_id, None)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, other: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(other.wait())]
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
