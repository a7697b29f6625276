"""Spike and silence rules: conditions over many articles, alerted when they start
("firing") and when they end ("resolved").

Every `signals_check_seconds` the worker reads each enabled spike or silence
rule's condition from the engine (counts over time ranges of the articles index,
the same answer whichever worker asks) and from Kafka (the dead-letter topic's
end offsets, the consumer group's committed offsets). A condition that starts
claims a mark (`signal:<key>` in the alert marks index, atomic by id: one worker
fires, once) and goes to news.alerts like any alert, so delivery has the same
signing, retries, throttling and records. A condition that ends is sent as
resolved, then its mark is deleted. A worker stopped in between sends the same
alert again after its restart, with the same id (the receiver's Idempotency-Key).

Hysteresis: a spike starts at `min_articles` and `factor` times its baseline and
ends below half of either; a dead-letter burst or a lag starts above `threshold`
and ends at half of it. So one spike is one alert, not one per check.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from prometheus_client import Gauge

from pipeline.alerts.delivery import AlertMessage
from pipeline.alerts.marks import Marks
from pipeline.alerts.rules import AlertRule
from pipeline.alerts.store import RuleStore
from pipeline.search.engine import SearchEngine
from pipeline.stream.deadletters import Topic
from vigie import logs
from vigie.retry import worth_saying

log = logs.get(__name__)

SIGNALS_FIRING = Gauge("vigie_signals_firing", "Spike and silence conditions firing", ["rule"])

_PREFIX = "signal:"
_FROM_KAFKA = ("dead_letters", "lag")
_SHOWN = 20  # articles listed with a spike
_FEEDS = 1000  # feeds a silence rule watches at most
_MIN_ARTICLES_FOR_A_RHYTHM = 3  # a feed needs this many to have a usual interval


@dataclass(frozen=True)
class Reading:
    """One condition of one rule, as read now."""

    key: str  # unique in its rule: "spike", "feed:<id>", "query", "dead_letters", "lag"
    starts: bool  # would start firing now
    holds: bool  # would keep firing if it is (hysteresis: starts implies holds)
    details: dict[str, Any] = field(default_factory=dict)
    articles: list[dict[str, Any]] = field(default_factory=list)


def _range(since: datetime, until: datetime) -> dict[str, Any]:
    return {"range": {"dated_at": {"gte": since.isoformat(), "lt": until.isoformat()}}}


def _within(rule: AlertRule, since: datetime, until: datetime) -> dict[str, Any]:
    return {"bool": {"filter": [rule.query.article_query().to_query(), _range(since, until)]}}


def _summaries(hits: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": h.source.get("id"),
            "title": h.source.get("title"),
            "url": h.source.get("canonical_url") or h.source.get("url"),
            "language": h.source.get("language"),
            "source": (h.source.get("source") or {}).get("feed_id"),
            "dated_at": h.source.get("dated_at"),
        }
        for h in hits
    ]


def read_spike(engine: SearchEngine, alias: str, rule: AlertRule, now: datetime) -> Reading:
    window = timedelta(seconds=rule.window_seconds)
    recent = engine.search(
        alias,
        {
            "query": _within(rule, now - window, now),
            "size": _SHOWN,
            "sort": [{"dated_at": "desc"}],
            "_source": ["id", "title", "url", "canonical_url", "language", "source", "dated_at"],
            "track_total_hits": True,
        },
    )
    before = now - window
    past = engine.search(
        alias,
        {
            "query": _within(rule, before - timedelta(days=rule.baseline_days), before),
            "size": 0,
            "track_total_hits": True,
        },
    )
    windows = rule.baseline_days * 86400 / rule.window_seconds
    usual = past.total / windows
    count = recent.total
    return Reading(
        key="spike",
        starts=count >= rule.min_articles and count >= rule.factor * usual,
        holds=count >= rule.min_articles / 2 and count >= rule.factor * usual / 2,
        details={"count": count, "usual": round(usual, 3), "window_seconds": rule.window_seconds},
        articles=_summaries(recent.hits),
    )


def read_feeds(engine: SearchEngine, alias: str, rule: AlertRule, now: datetime) -> list[Reading]:
    """Each feed that published in the baseline: silent when its last article is
    older than `factor` times its usual interval (and than `window_seconds`)."""
    span = timedelta(days=rule.baseline_days)
    found = engine.search(
        alias,
        {
            "size": 0,
            "query": _range(now - span, now + timedelta(days=1)),
            "aggs": {
                "feeds": {
                    "terms": {"field": "source.feed_id", "size": _FEEDS},
                    "aggs": {
                        "first": {"min": {"field": "dated_at"}},
                        "last": {"max": {"field": "dated_at"}},
                    },
                }
            },
        },
    )
    readings = []
    for bucket in found.aggregations.get("feeds", {}).get("buckets", []):
        count = int(bucket["doc_count"])
        if count < _MIN_ARTICLES_FOR_A_RHYTHM:
            continue
        first, last = bucket["first"]["value"] / 1000, bucket["last"]["value"] / 1000
        interval = (last - first) / (count - 1)
        quiet = now.timestamp() - last
        limit = max(rule.factor * interval, rule.window_seconds)
        readings.append(
            Reading(
                key=f"feed:{bucket['key']}",
                starts=quiet > limit,
                holds=quiet > limit,
                details={
                    "feed": str(bucket["key"]),
                    "quiet_seconds": round(quiet),
                    "usual_interval_seconds": round(interval),
                    "last_article_at": datetime.fromtimestamp(last, UTC).isoformat(),
                },
            )
        )
    return readings


def read_query_silence(engine: SearchEngine, alias: str, rule: AlertRule, now: datetime) -> Reading:
    window = timedelta(seconds=rule.window_seconds)
    found = engine.search(
        alias, {"query": _within(rule, now - window, now), "size": 0, "track_total_hits": True}
    )
    silent = found.total == 0
    return Reading(
        "query", silent, silent, {"count": found.total, "window_seconds": rule.window_seconds}
    )


class KafkaFigures:
    """What Kafka says of the pipeline as a whole, sampled at each check: dead
    letters written to the DLQ topic (every worker's and connector's: the sum of
    its partitions' end offsets), and the consumer group's lag on the topics it
    reads (end offsets less committed offsets, whichever worker owns them)."""

    def __init__(
        self,
        clients: Callable[[], tuple[KafkaConsumer, KafkaAdminClient]],
        dead_letters: str,
        group: str,
        read: tuple[str, ...],
    ) -> None:
        self._clients_factory = clients
        self._clients: tuple[KafkaConsumer, KafkaAdminClient] | None = None
        self._topic = dead_letters
        self._group = group
        self._read = read
        self._samples: deque[tuple[float, int]] = deque(maxlen=50_000)
        self.lag: int | None = None

    def sample(self) -> None:
        if self._clients is None:
            self._clients = self._clients_factory()
        consumer, admin = self._clients
        partitions = consumer.partitions_for_topic(self._topic) or set()
        offsets = consumer.end_offsets([TopicPartition(self._topic, p) for p in partitions])
        self._samples.append((time.time(), sum(offsets.values())))
        committed = {
            tp: meta.offset
            for tp, meta in admin.list_consumer_group_offsets(self._group).items()
            if tp.topic in self._read and meta.offset >= 0
        }
        ends = consumer.end_offsets(list(committed)) if committed else {}
        self.lag = sum(max(0, ends[tp] - offset) for tp, offset in committed.items())

    def within(self, seconds: float) -> int | None:
        """Dead letters in the last `seconds` (None before two samples)."""
        if len(self._samples) < 2:
            return None
        now, latest = self._samples[-1]
        earlier = next(
            (total for at, total in reversed(self._samples) if at <= now - seconds),
            self._samples[0][1],
        )
        return latest - earlier

    def close(self) -> None:
        if self._clients is not None:
            for client in self._clients:
                client.close()


def read_lag(rule: AlertRule, kafka: KafkaFigures) -> Reading | None:
    if kafka.lag is None:
        return None
    return Reading(
        "lag",
        kafka.lag > rule.threshold,
        kafka.lag > rule.threshold / 2,
        {"lag_records": kafka.lag, "threshold": rule.threshold},
    )


def read_dead_letters(rule: AlertRule, dead_letters: KafkaFigures) -> Reading | None:
    count = dead_letters.within(rule.window_seconds)
    if count is None:
        return None
    return Reading(
        "dead_letters",
        count > rule.threshold,
        count > rule.threshold / 2,
        {"count": count, "threshold": rule.threshold, "window_seconds": rule.window_seconds},
    )


def signal_alert_id(rule_id: str, key: str, status: str, since: str) -> str:
    return hashlib.sha256(f"{rule_id}\n{key}\n{status}\n{since}".encode()).hexdigest()[:32]


class SignalWatcher:
    def __init__(
        self,
        store: RuleStore,
        engine: SearchEngine,
        articles: str,
        marks: Marks,
        alerts: Topic,
        kafka: KafkaFigures | None = None,
    ) -> None:
        self._store = store
        self._engine = engine
        self._articles = articles
        self._marks = marks
        self._alerts = alerts
        self._kafka = kafka
        self._failures = 0

    async def check(self) -> None:
        """One round over every spike and silence rule (a Faust timer calls this).
        The engine or Kafka failing skips the round: the next one tries again."""
        try:
            rules = [
                r
                for r in await asyncio.to_thread(self._store.all)
                if r.enabled and r.kind != "match"
            ]
            # Kafka is asked only while a rule reads its figures.
            if self._kafka is not None and any(r.watch in _FROM_KAFKA for r in rules):
                await asyncio.to_thread(self._kafka.sample)
            for rule in rules:
                await self._check(rule)
        except Exception as exc:  # the engine's, Kafka's, the rest: never stop the worker
            self._failures += 1
            if worth_saying(self._failures):
                log.warning("signals_not_checked", error=repr(exc), failures=self._failures)
            return
        self._failures = 0

    def _read(self, rule: AlertRule, now: datetime) -> list[Reading] | None:
        """The rule's conditions now; None when they cannot be told yet (the
        dead-letter count needs two samples): nothing starts or ends then."""
        if rule.kind == "spike":
            return [read_spike(self._engine, self._articles, rule, now)]
        if rule.watch == "feeds":
            return read_feeds(self._engine, self._articles, rule, now)
        if rule.watch == "query":
            return [read_query_silence(self._engine, self._articles, rule, now)]
        if self._kafka is None:
            return None
        reading = (
            read_dead_letters(rule, self._kafka)
            if rule.watch == "dead_letters"
            else read_lag(rule, self._kafka)
        )
        return [reading] if reading is not None else None

    async def _check(self, rule: AlertRule) -> None:
        now = datetime.now(UTC)
        read = await asyncio.to_thread(self._read, rule, now)
        if read is None:
            return
        readings = {r.key: r for r in read}
        held = await asyncio.to_thread(self._marks.held, rule.id, _PREFIX)
        sent = {
            key.removeprefix(_PREFIX): alert
            for key, (alert, status) in held.items()
            if status == "sent"
        }
        for key, reading in readings.items():
            # A mark still pending is another worker's fire in progress (claim
            # refuses it), or this one's cut short by a stop (claim lets it resend).
            if key not in sent and reading.starts:
                await self._fire(rule, reading, now)
        for key, alert_id in sent.items():
            now_read = readings.get(key)  # None: the feed is gone from the baseline
            if now_read is None or not now_read.holds:
                await self._resolve(rule, key, alert_id, now_read, now)
        SIGNALS_FIRING.labels(rule=rule.id).set(
            sum(1 for r in readings.values() if r.holds and r.key in sent)
        )

    async def _fire(self, rule: AlertRule, reading: Reading, now: datetime) -> None:
        # The same id for a retry within the window (a stop between claim and send).
        bucket = str(int(now.timestamp() // rule.window_seconds))
        alert_id = signal_alert_id(rule.id, reading.key, "firing", bucket)
        mark = [f"{_PREFIX}{reading.key}"]
        taken = await asyncio.to_thread(self._marks.claim, rule.id, mark, alert_id)
        if taken is not None:
            return  # another worker fired it
        await self._send(rule, alert_id, reading.key, "firing", reading, now)
        await asyncio.to_thread(self._marks.settle, rule.id, mark, alert_id)
        log.info("signal_firing", rule_id=rule.id, key=reading.key, **reading.details)

    async def _resolve(
        self, rule: AlertRule, key: str, fired: str, reading: Reading | None, now: datetime
    ) -> None:
        alert_id = signal_alert_id(rule.id, key, "resolved", fired)
        await self._send(rule, alert_id, key, "resolved", reading, now)
        # Sent first, then forgotten: a stop in between sends it again, same id.
        await asyncio.to_thread(self._marks.release, rule.id, [f"{_PREFIX}{key}"])
        log.info("signal_resolved", rule_id=rule.id, key=key)

    async def _send(
        self,
        rule: AlertRule,
        alert_id: str,
        key: str,
        status: str,
        reading: Reading | None,
        now: datetime,
    ) -> None:
        signal = {
            "kind": rule.kind if rule.kind == "spike" else f"silence:{rule.watch}",
            "key": key,
            "status": status,
            **(reading.details if reading else {}),
        }
        articles = reading.articles if reading else []
        message = AlertMessage(
            alert_id=alert_id,
            rule_id=rule.id,
            article=articles[0] if articles else {},
            matched_at=now,
            signal={**signal, "articles": articles},
        )
        await self._alerts.send(key=rule.id.encode(), value=message.model_dump_json().encode())
