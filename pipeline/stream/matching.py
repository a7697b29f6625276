"""The `match` stage: every enriched article is percolated against the alert rules
in batches; each match goes to news.alerts, keyed by rule (so a rule's alerts and
its delivery state share a partition)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Counter, Histogram

from pipeline.alerts.delivery import AlertMessage
from pipeline.alerts.store import RuleMatch, RuleStore
from pipeline.search.engine import DocumentRejected, nothing, when_available
from pipeline.stream.deadletters import Topic
from vigie.article import Article
from vigie.deadletter import DeadLetters, Event

MATCHES = Counter("vigie_rule_matches_total", "Matches of alert rules on articles")
MATCH_SECONDS = Histogram("vigie_match_seconds", "Time to percolate one batch")


class RuleMatcher:
    """The `handle` of an EventBatch: its events are acked once every match of
    the batch is on news.alerts."""

    def __init__(
        self,
        store: RuleStore,
        alerts: Topic,
        dead_letters: DeadLetters,
        ready: Callable[[], Awaitable[None]] = nothing,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._dead_letters = dead_letters
        self._ready = ready

    async def __call__(self, batch: list[tuple[Event, Article]]) -> None:
        with MATCH_SECONDS.time():
            await self._match(batch)

    async def _match(self, batch: list[tuple[Event, Article]]) -> None:
        await self._ready()
        try:
            matches = await self._percolate([article for _, article in batch])
        except DocumentRejected:
            # One article the engine cannot take (the index stage dead-letters it
            # too) must not keep its batch neighbours from their alerts.
            matches = []
            for event, article in batch:
                try:
                    matches.extend(await self._percolate([article]))
                except DocumentRejected as exc:
                    await self._dead_letters.send(event, "match", f"cannot be matched: {exc}")
        for match in matches:
            message = AlertMessage.of(match.rule, match.article)
            await self._alerts.send(
                key=match.rule.id.encode(), value=message.model_dump_json().encode()
            )
            MATCHES.inc()

    async def _percolate(self, articles: Sequence[Article]) -> list[RuleMatch]:
        # The engine being down holds the batch (and its offsets) until it is back.
        return await when_available(lambda: self._store.match(articles), "percolate")
