"""One poll of one feed: fetch, parse, compare with what was already sent, put the
new and changed entries in the outbox, and decide when to poll next; with the
feed's metrics and health.

A poll reads the feed's state once and writes it once (connectors/state.py: one
transaction for the articles, their fingerprints, the validators and the next
poll). A poll never raises: a failure, or a bug on one feed's content, costs
that feed, not the service.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from connectors.feed import FeedError, document_of
from connectors.feedlist import FeedConfig
from connectors.fetch import Fetcher, FetchError, max_age_seconds
from connectors.fulltext import FullText
from connectors.metrics import ENTRIES, ERRORS, FAILURES, LAST_SUCCESS, POLLS, STAGE, UNHEALTHY
from connectors.parsing import FeedParsers
from connectors.schedule import Bounds, after_failure, after_success
from connectors.state import FeedState, State, fingerprint
from vigie import logs

log = logs.get("vigie.connector")

Result = Literal["new", "no_new", "not_modified", "unchanged", "error"]


@dataclass
class Outcome:
    feed_id: str
    result: Result
    next_poll: float
    new: int = 0
    updated: int = 0
    seen: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


class Poller:
    def __init__(
        self,
        fetcher: Fetcher,
        state: State,
        full_text: FullText,
        bounds: Bounds,
        unhealthy_after: int,
        parsers: FeedParsers | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._state = state
        self._full_text = full_text
        self._bounds = bounds
        self._unhealthy_after = unhealthy_after
        self.unhealthy: set[str] = set()
        self.stage_seconds: dict[str, float] = {"fetch": 0.0, "parse": 0.0}
        self._stage_lock = threading.Lock()
        # Off the event loop: a 3 MB feed takes a second to parse, and /health, the
        # other fetches and the outbox must not wait for it (one thread by default).
        self._parsers = parsers or FeedParsers(workers=0, timeout=60.0)

    async def poll(self, feed: FeedConfig) -> Outcome:
        known = self._state.feed(feed.id)
        try:
            return await self._poll(feed, known)
        except Exception as exc:
            log.exception("feed_poll_crashed", feed=feed.id)
            return self._failed(feed, known, "internal", f"{type(exc).__name__}: {exc}", None)

    async def _poll(self, feed: FeedConfig, known: FeedState) -> Outcome:
        started = time.perf_counter()
        try:
            fetched = await self._fetcher.fetch(
                feed.url, known.validators, feed.conditional_get, feed.allow_private
            )
        except FetchError as exc:
            return self._failed(feed, known, exc.kind, str(exc), exc.retry_after)
        finally:
            self._timed("fetch", time.perf_counter() - started)
        if fetched.unchanged:
            interval = after_success(
                known,
                feed.interval,
                self._bounds,
                hint=max_age_seconds(fetched.headers),
                unchanged=True,
            )
            next_poll = time.time() + interval
            self._state.accept(feed.id, [], None, fetched.validators, interval, next_poll)
            result: Result = "not_modified" if fetched.status == 304 else "unchanged"
            return self._succeeded(feed, Outcome(feed.id, result, next_poll))
        try:
            parsed, cpu = await self._parsers.parse(document_of(fetched), feed)
        except FeedError as exc:
            return self._failed(feed, known, "parse", str(exc), None)
        self._timed("parse", cpu)
        started = time.perf_counter()
        articles = self._state.settled(parsed.articles, parsed.identities)
        novelty = self._state.novelty(articles)
        self._timed("parse", time.perf_counter() - started)
        # The fingerprint is the feed's version, taken before the page is fetched:
        # the page changing (ads, counters) must not make an entry look updated.
        fresh = [*novelty.new, *novelty.updated]
        fingerprints = [fingerprint(a) for a in fresh]
        if feed.full_text:
            completed = await self._full_text.complete_all(fresh, feed.allow_private)
            ERRORS.labels("fulltext").inc(
                sum(a.body == b.body for a, b in zip(fresh, completed, strict=True))
            )
            fresh = completed
        # The feed's own <ttl>/sy:update* and the server's max-age: no sooner than that.
        hints = [h for h in (parsed.update_hint, max_age_seconds(fetched.headers)) if h]
        interval = after_success(
            known,
            feed.interval,
            self._bounds,
            hint=max(hints) if hints else None,
            new=len(novelty.new),
            total=len(articles),
        )
        next_poll = time.time() + interval
        self._state.accept(
            feed.id,
            list(zip(fingerprints, fresh, strict=True)),
            [a.id for a in articles],
            fetched.validators,
            interval,
            next_poll,
        )
        ENTRIES.labels("new").inc(len(novelty.new))
        ENTRIES.labels("updated").inc(len(novelty.updated))
        for warning in parsed.warnings:
            log.warning("feed_warning", feed=feed.id, reason=warning)
        outcome = Outcome(
            feed.id,
            "new" if fresh else "no_new",
            next_poll,
            new=len(novelty.new),
            updated=len(novelty.updated),
            seen=novelty.seen,
            warnings=parsed.warnings,
        )
        return self._succeeded(feed, outcome)

    def _succeeded(self, feed: FeedConfig, outcome: Outcome) -> Outcome:
        POLLS.labels(outcome.result).inc()
        LAST_SUCCESS.labels(feed.id).set(time.time())
        FAILURES.labels(feed.id).set(0)
        if feed.id in self.unhealthy:
            self.unhealthy.discard(feed.id)
            log.info("feed_healthy_again", feed=feed.id)
        UNHEALTHY.set(len(self.unhealthy))
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
        self,
        feed: FeedConfig,
        known: FeedState,
        kind: str,
        error: str,
        retry_after: float | None,
    ) -> Outcome:
        delay = after_failure(known, feed.interval, self._bounds, retry_after)
        next_poll = time.time() + delay
        failures = self._state.failed(feed.id, kind, error, next_poll)
        POLLS.labels("error").inc()
        ERRORS.labels(kind).inc()
        FAILURES.labels(feed.id).set(failures)
        if failures >= self._unhealthy_after and feed.id not in self.unhealthy:
            self.unhealthy.add(feed.id)
            log.error("feed_unhealthy", feed=feed.id, failures=failures, reason=error)
        UNHEALTHY.set(len(self.unhealthy))
        log.warning("feed_failed", feed=feed.id, kind=kind, reason=error, retry_in=round(delay, 1))
        return Outcome(feed.id, "error", next_poll, error=f"{kind}: {error}")

    def _timed(self, stage: str, seconds: float) -> None:
        with self._stage_lock:
            self.stage_seconds[stage] += seconds
        STAGE.labels(stage).observe(seconds)

    def close(self) -> None:
        self._parsers.close()
