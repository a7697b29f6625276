"""From a match to a webhook call: never twice for an article or its
near-duplicates, throttled, or gathered into digests; every decision recorded.

"Fired on this article or a copy" lives in the engine (pipeline/alerts/marks.py),
claimed by the alert before its call: a stop in the middle finds its own claim
after the restart and sends again, with the same Idempotency-Key (at least once;
receivers drop the repeat). A rule's small state (throttle times, the digest
being gathered) lives in a Faust table keyed by rule id.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from pipeline.alerts.delivery import AlertMessage, deliver
from pipeline.alerts.marks import Marks
from pipeline.alerts.rules import AlertRule
from pipeline.alerts.store import RuleStore
from pipeline.search.engine import (
    SearchEngine,
    SearchEngineError,
    when_available,
)
from vigie import logs, outbound
from vigie.deadletter import DeadLetters, Event, invalid
from vigie.outbound import masked
from vigie.retry import Backoff
from vigie.settings import Settings

log = logs.get(__name__)

# Delivery records wait in memory and are written in one bulk request a second
# (a request per record was a fifth of each alert's round trips to the engine,
# under its rule's lock); the newest this many are kept while the engine is down.
UNRECORDED_MAX = 10_000
# A rule is looked up once in this many seconds, not once per alert: a change to
# it (edited, disabled, deleted) reaches deliveries within this time.
RULE_CACHE_SECONDS = 5.0
UNRECORDED = Gauge(
    "vigie_delivery_records_pending", "Delivery records waiting for the engine to come back"
)
UNRECORDED_LOST = Counter(
    "vigie_delivery_records_lost_total", "Delivery records dropped: too many kept while down"
)

RECORDS_PER_REQUEST = 1_000
RULE_PARALLEL_CALLS = 4
RULES_CACHED = 10_000

# A digest sent early rather than grown without bound within its window.
DIGEST_MAX = 100


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard a webhook call is tried: attempts, time for each, and the backoff
    between them (a receiver's Retry-After is honoured up to the backoff's cap)."""

    max_attempts: int
    timeout: float  # for each whole attempt
    backoff: Backoff
    # Receivers on private addresses must be allow-listed (vigie/outbound.py).
    guard: outbound.Guard = field(default_factory=outbound.Guard)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.delivery_max_attempts,
            timeout=settings.delivery_timeout_seconds,
            backoff=Backoff(
                start=settings.delivery_backoff_seconds, cap=60.0, max_retry_after=300.0
            ),
            guard=outbound.Guard(allow=outbound.networks(settings.webhook_allow_networks)),
        )


class Dispatcher:
    """The `deliver` stage: decides, for each match, whether and when a webhook is
    called, and records every decision in the deliveries index."""

    def __init__(
        self,
        store: RuleStore,
        engine: SearchEngine,
        deliveries_index: str,
        policy: DeliveryPolicy,
        state: MutableMapping[str, Any],
        dead_letters: DeadLetters,
        marks: Marks,
        stories_index: str = "",
        rule_cache_seconds: float = RULE_CACHE_SECONDS,
    ) -> None:
        self._marks = marks
        self._stories = stories_index
        self._rule_cache_seconds = rule_cache_seconds
        self._rules: dict[str, tuple[float, AlertRule | None]] = {}
        self._store = store
        self._engine = engine
        self._deliveries = deliveries_index
        self._policy = policy
        self._state = state
        self._dead_letters = dead_letters
        self._client = outbound.client(policy.guard, timeout=policy.timeout)
        # Alerts are handled concurrently (a slow receiver must not hold up the other
        # rules), and the digest timer runs beside them: one rule's state is read,
        # changed and saved under its lock, or an update would be lost.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # A rule without state sends RULE_PARALLEL_CALLS alerts at a time, not all
        # of the deliver agent's actors: the other rules keep some.
        self._calls: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(RULE_PARALLEL_CALLS)
        )
        self._unrecorded: deque[tuple[str, dict[str, Any]]] = deque(maxlen=UNRECORDED_MAX)
        self._engine_down = False

    async def record(self, attempt: dict[str, Any]) -> None:
        """One line in the deliveries index, written by `flush_records` (a timer,
        every second). The engine being down never stops delivery: the records wait
        in memory (the newest UNRECORDED_MAX) until it answers."""
        document = {**attempt, "at": datetime.now(UTC).isoformat()}
        doc_id = f"{attempt['delivery_id']}-{attempt.get('attempt', 0)}-{time.time_ns()}"
        if len(self._unrecorded) == self._unrecorded.maxlen:
            UNRECORDED_LOST.inc()
        self._unrecorded.append((doc_id, document))
        UNRECORDED.set(len(self._unrecorded))

    async def flush_records(self) -> None:
        """Write the records waiting, in one request (a Faust timer calls this)."""
        while self._unrecorded:
            batch = list(self._unrecorded)[:RECORDS_PER_REQUEST]
            try:
                items = await asyncio.to_thread(
                    self._engine.bulk_index, self._deliveries, batch, False
                )
            except SearchEngineError as exc:
                if not self._engine_down:
                    log.warning(
                        "deliveries_index_unavailable", reason=str(exc), kept_for_later=True
                    )
                self._engine_down = True
                return
            retry = {item.id for item in items if not item.ok and item.retryable}
            for item in items:
                if not item.ok and not item.retryable:
                    log.error("delivery_record_refused", record=item.id, error=item.error)
            if retry:  # the engine is busy: try again at the next tick
                return
            for _ in batch:
                self._unrecorded.popleft()
            UNRECORDED.set(len(self._unrecorded))
            if self._engine_down:
                self._engine_down = False
                log.info("deliveries_index_available", records_written_late=True)

    async def _rule(self, rule_id: str) -> AlertRule | None:
        cached = self._rules.get(rule_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        rule = await when_available(lambda: self._store.get(rule_id), "rule_lookup")
        if len(self._rules) >= RULES_CACHED:  # bounded: rules come and go
            self._rules.clear()
        self._rules[rule_id] = (time.monotonic() + self._rule_cache_seconds, rule)
        return rule

    def _rule_state(self, rule_id: str) -> dict[str, Any]:
        """A rule's small state: when each destination was last called (throttle)
        and the digest being gathered (at most DIGEST_MAX alerts)."""
        state = self._state.get(rule_id) or {}
        return {
            "last_sent": dict(state.get("last_sent", {})),
            "digest": list(state.get("digest", [])),
            "digest_since": state.get("digest_since"),
        }

    async def run(self, events: AsyncIterable[Event]) -> None:
        """The `deliver` agent's loop. Each event is acked once handled: an event
        acked on arrival would be lost when a stop cuts its delivery short."""
        async for event in events:
            try:
                alert = AlertMessage.model_validate_json(event.value)
            except ValidationError as exc:
                await self._dead_letters.send(event, "deliver", invalid("alert", exc))
            else:
                await self.handle(event, alert)
            event.ack()

    async def handle(self, event: Event, alert: AlertMessage) -> None:
        rule = await self._rule(alert.rule_id)
        if rule is not None and not (rule.throttle_seconds or rule.digest_seconds):
            # Nothing of the rule's state is read or changed: its alerts go out side
            # by side (never twice still holds: a mark is claimed atomically).
            async with self._calls[alert.rule_id]:
                await self._handle(event, alert, rule, keep_state=False)
            return
        async with self._locks[alert.rule_id]:
            await self._handle(event, alert, await self._rule(alert.rule_id))

    async def _handle(
        self, event: Event, alert: AlertMessage, rule: AlertRule | None, keep_state: bool = True
    ) -> None:
        if alert.signal is not None:
            await self._handle_signal(event, alert, rule)
            return
        note = {
            "delivery_id": alert.alert_id,
            "rule_id": alert.rule_id,
            "article_ids": [alert.article["id"]],
        }
        if rule is None or not rule.enabled:
            await self.record({**note, "status": "skipped", "error": "rule deleted or disabled"})
            return
        story_id = alert.article.get("story_id")
        if rule.once_per == "story" and story_id:
            claimed = await self._story_keys(rule, alert, str(story_id))
            if claimed is None:
                await self.record(
                    {**note, "status": "suppressed", "error": "already fired for its story"}
                )
                return
            keys, alert = claimed
        else:
            article_id = alert.article["id"]
            group = alert.article.get("duplicate_of") or article_id
            keys = [f"a:{article_id}", *([f"g:{group}"] if rule.suppress_duplicates else [])]
            taken = await when_available(
                lambda: self._marks.claim(rule.id, keys, alert.alert_id), "alert_mark"
            )
            if taken is not None:
                await self.record(
                    {**note, "status": "suppressed", "error": "already fired for it or a copy"}
                )
                return
        state = self._rule_state(rule.id)
        if rule.digest_seconds:
            state["digest"].append(alert.model_dump(mode="json"))
            state["digest_since"] = state["digest_since"] or time.time()
            if len(state["digest"]) >= DIGEST_MAX:
                state["digest_since"] = 1.0  # full: sent at the next tick
            await self.record({**note, "status": "digested"})
            settled = True
        else:
            settled = await self._send(event, rule, [alert], state)
        if keep_state:
            self._state[rule.id] = state
        if settled:
            await when_available(
                lambda: self._marks.settle(rule.id, keys, alert.alert_id), "alert_mark"
            )
        else:
            # Dead-lettered: a replay of that letter, once the receiver is fixed,
            # must be sent, not suppressed as "already fired".
            await when_available(lambda: self._marks.release(rule.id, keys), "alert_mark")

    async def _handle_signal(
        self, event: Event, alert: AlertMessage, rule: AlertRule | None
    ) -> None:
        """A spike or silence starting or ending: its mark was claimed by the watcher
        (pipeline/signals/watch.py); only throttling applies here."""
        if rule is None or not rule.enabled:
            await self.record(
                {
                    "delivery_id": alert.alert_id,
                    "rule_id": alert.rule_id,
                    "article_ids": [],
                    "status": "skipped",
                    "error": "rule deleted or disabled",
                }
            )
            return
        state = self._rule_state(rule.id)
        await self._send(event, rule, [alert], state)
        if rule.throttle_seconds:
            self._state[rule.id] = state

    async def _story_keys(
        self, rule: AlertRule, alert: AlertMessage, story_id: str
    ) -> tuple[list[str], AlertMessage] | None:
        """The marks an alert of a once-per-story rule claims, and the alert with
        its story attached; None when the story has fired and this article brings
        no follow-up. The first alert claims the story, its language and its
        first source level; a later one each language it is the first in, and
        each level of `follow_up_sources` more sources the story has reached."""
        story = await when_available(
            lambda: self._engine.get_document(self._stories, story_id), "story_lookup"
        )
        story = story or {"story_id": story_id, "articles": 1, "source_count": 1}
        language = alert.article.get("language") or "und"
        per = rule.follow_up_sources
        level = max(0, int(story.get("source_count") or 1) - 1) // per if per else 0
        wanted = {
            "first": f"s:{story_id}",
            "new_language": f"s:{story_id}:lang:{language}",
            "sources": f"s:{story_id}:sources:{level}",
        }

        def claim(key: str) -> bool:
            return self._marks.claim(rule.id, [key], alert.alert_id) is None

        if await when_available(lambda: claim(wanted["first"]), "alert_mark"):
            keys = [wanted["first"]]
            for other in ("new_language", "sources"):  # what a follow-up would be
                if await when_available(partial(claim, wanted[other]), "alert_mark"):
                    keys.append(wanted[other])
            reasons = ["first"]
        else:
            keys, reasons = [], []
            follow = {"new_language": rule.follow_up_languages, "sources": level > 0}
            for reason in ("new_language", "sources"):
                key = wanted[reason]
                if follow[reason] and await when_available(partial(claim, key), "alert_mark"):
                    keys.append(key)
                    reasons.append(reason)
            if not keys:
                return None
        summary = {
            key: story[key]
            for key in ("story_id", "title", "articles", "languages", "sources", "source_count")
            if key in story
        }
        return keys, alert.model_copy(update={"story": {**summary, "reasons": reasons}})

    async def expire_marks(self) -> None:
        """Forget what rules fired on long ago (a Faust timer calls this hourly)."""
        try:
            forgotten = await asyncio.to_thread(self._marks.expire)
        except SearchEngineError as exc:
            log.warning("alert_marks_not_expired", reason=str(exc))
            return
        if forgotten:
            log.info("alert_marks_expired", count=forgotten)

    async def flush_digests(self) -> None:
        """Send every digest whose window is over (a Faust timer calls this)."""
        for rule_id in list(self._state.keys()):
            if not self._state[rule_id].get("digest"):
                continue
            async with self._locks[rule_id]:
                await self._flush_digest(rule_id)

    async def _flush_digest(self, rule_id: str) -> None:
        state = self._rule_state(rule_id)
        if not state["digest"]:
            return
        rule = await self._rule(rule_id)
        window = rule.digest_seconds if rule else 0.0
        if time.time() - (state["digest_since"] or 0) < window:
            return
        alerts = [AlertMessage.model_validate(a) for a in state["digest"]]
        if rule is not None and rule.enabled:
            await self._send(None, rule, alerts, state)
        else:
            await self.record(
                {
                    "delivery_id": alerts[0].alert_id,
                    "rule_id": rule_id,
                    "article_ids": [a.article["id"] for a in alerts if a.article],
                    "status": "skipped",
                    "error": "rule deleted or disabled before its digest was sent",
                }
            )
        state["digest"], state["digest_since"] = [], None
        self._state[rule_id] = state

    async def _send(
        self,
        event: Event | None,
        rule: AlertRule,
        alerts: list[AlertMessage],
        state: dict[str, Any],
    ) -> bool:
        """Call each destination (or record it throttled); False if one failed for
        good (the event, if any, is then dead-lettered with the reason)."""
        delivered = True
        for destination in rule.destinations:
            url = str(destination.url)
            since = time.time() - state["last_sent"].get(url, 0.0)
            if rule.throttle_seconds and since < rule.throttle_seconds:
                await self.record(
                    {
                        "delivery_id": alerts[0].alert_id,
                        "rule_id": rule.id,
                        "destination": masked(url),
                        "article_ids": [a.article["id"] for a in alerts if a.article],
                        "status": "throttled",
                    }
                )
                continue
            failure = await deliver(
                self._client,
                rule,
                destination,
                alerts,
                self.record,
                max_attempts=self._policy.max_attempts,
                backoff=self._policy.backoff,
                timeout=self._policy.timeout,
            )
            if failure is None:
                state["last_sent"][url] = time.time()
            else:
                delivered = False
                shown = masked(url)
                log.warning("delivery_failed", rule_id=rule.id, destination=shown, reason=failure)
                if event is not None:
                    await self._dead_letters.send(event, "deliver", f"webhook {shown}: {failure}")
        return delivered

    async def close(self) -> None:
        await self.flush_records()  # a clean stop leaves no record unwritten
        await self._client.aclose()
