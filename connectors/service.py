"""The connector service: polls every feed on its own schedule (connectors/poller.py)
and keeps the outbox flowing to `news.raw` (connectors/outbox.py); reloads the feed
list when it changes, forgets old fingerprints, reports health.

A feed that fails is retried with backoff and, after a few failures in a row,
reported unhealthy; it never stops the others. Kafka being down stops nothing
either: accepted articles wait in the outbox until the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from connectors.feedlist import FeedConfig, in_shard, load_feeds
from connectors.fetch import Fetcher
from connectors.fulltext import FullText
from connectors.outbox import OutboxRelay
from connectors.parsing import FeedParsers
from connectors.poller import Outcome, Poller
from connectors.schedule import Bounds
from connectors.state import State
from vigie import logs
from vigie.settings import Settings

log = logs.get("vigie.connector")


class Connector:
    def __init__(self, settings: Settings, feeds: list[FeedConfig], state: State) -> None:
        self.settings = settings
        self.feeds = self._mine(feeds)
        self.state = state
        self.fetcher = Fetcher.from_settings(settings)
        self.poller = Poller(
            self.fetcher,
            state,
            FullText(self.fetcher, settings.fulltext_concurrency),
            Bounds(settings.poll_min_seconds, settings.poll_max_seconds),
            settings.feed_unhealthy_after,
            FeedParsers.from_settings(settings),
        )
        self.relay = OutboxRelay(
            state, settings.kafka_options(), settings.topic_raw, settings.topic_dlq
        )
        self.next_poll = {feed_id: state.feed(feed_id).next_poll for feed_id in self.feeds}

    def _mine(self, feeds: list[FeedConfig]) -> dict[str, FeedConfig]:
        shard, shards = self.settings.connector_shard, self.settings.connector_shards
        return {feed.id: feed for feed in in_shard(feeds, shard, shards)}

    @property
    def unhealthy(self) -> set[str]:
        return self.poller.unhealthy

    @property
    def stage_seconds(self) -> dict[str, float]:
        return {**self.poller.stage_seconds, "produce": self.relay.seconds}

    async def poll(self, feed: FeedConfig) -> Outcome:
        outcome = await self.poller.poll(feed)
        if feed.id in self.feeds:  # not removed from the list while it was polled
            self.next_poll[feed.id] = outcome.next_poll
        if outcome.new or outcome.updated:
            self.relay.wake()
        return outcome

    def send_outbox(self) -> int:
        """Send what the outbox holds (see OutboxRelay.send_pending)."""
        return self.relay.send_pending()

    def close(self) -> None:
        self.poller.close()
        self.relay.close()

    # -- the service ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event, feeds_file: Path | None = None) -> None:
        """Poll until `stop` is set, then finish the polls under way and send what
        the outbox holds (as long as Kafka takes it)."""
        delivering = asyncio.create_task(self.relay.run(stop))
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
                task = asyncio.create_task(self.poll(self.feeds[feed_id]))
                polls[feed_id] = task
                task.add_done_callback(partial(_forget, polls, feed_id))
            soonest = min(self.next_poll.values(), default=now + 1.0)
            await _wait(stop, min(1.0, max(0.05, soonest - time.time())))
        log.info("connector_stopping", polls_under_way=len(polls))
        if polls:
            await asyncio.wait(list(polls.values()), timeout=self.settings.fetch_timeout_seconds)
            for task in polls.values():
                task.cancel()
        await delivering
        await self.fetcher.close()
        await asyncio.to_thread(self.close)
        log.info("connector_stopped", outbox=self.state.outbox_size())

    async def run_once(self, progress: Callable[[Outcome], Any] | None = None) -> list[Outcome]:
        """Poll every feed once, whatever its schedule, then send the outbox."""
        outcomes: list[Outcome] = []
        slots = asyncio.Semaphore(self.settings.fetch_concurrency * 2)

        async def one(feed: FeedConfig) -> None:
            async with slots:
                outcome = await self.poll(feed)
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
        self.feeds = self._mine(loaded.feeds)
        self.next_poll = {
            feed_id: self.next_poll.get(feed_id, self.state.feed(feed_id).next_poll)
            for feed_id in self.feeds
        }
        log.info("feed_list_reloaded", feeds=len(self.feeds), problems=len(loaded.problems))

    def health(self) -> dict[str, Any]:
        """Ready unless Kafka is known to be down (feeds failing are reported, but
        one bad feed must not take the service out of rotation)."""
        kafka = self.relay.kafka
        return {
            "status": "degraded" if kafka.ok is False else "ok",
            "feeds": len(self.feeds),
            "unhealthy_feeds": sorted(self.unhealthy),
            "outbox": self.state.outbox_size(),
            "kafka": {None: "unknown", True: "ok", False: "down"}[kafka.ok],
            "dependencies": {kafka.name: kafka.report()},
        }


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
