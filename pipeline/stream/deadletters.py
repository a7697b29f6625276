"""The worker's dead-letter sink, and the one way a stage reads articles: valid ones
go on, the others become dead letters (logged, counted by stage, on news.dlq)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Protocol

from prometheus_client import Counter
from pydantic import ValidationError

from vigie import logs
from vigie.article import Article
from vigie.deadletter import DeadLetters, Event, dead_letter, invalid

log = logs.get(__name__)

DEAD_LETTERS = Counter("vigie_dead_letters_total", "Messages sent to the DLQ", ["stage"])
# Every stage's series exists from the start: a rate over a series that appears
# with its first event misses that event.
for _stage in ("enrich", "index", "match", "deliver"):
    DEAD_LETTERS.labels(stage=_stage)


class Topic(Protocol):
    """Where a stage sends its output (a Faust topic)."""

    async def send(self, *, key: bytes | None, value: bytes) -> Any: ...


class TopicDeadLetters:
    """Dead letters on a Kafka topic: why, where the message came from, and its
    original bytes (vigie/deadletter.py), so it can be replayed after a fix."""

    def __init__(self, topic: Topic) -> None:
        self._topic = topic

    async def send(self, event: Event, stage: str, reason: str) -> None:
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
        await self._topic.send(
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


async def valid_articles(
    events: AsyncIterable[Event], stage: str, dead_letters: DeadLetters
) -> AsyncIterator[tuple[Event, Article]]:
    """The events that carry a valid article, with it. An invalid one is acked
    here, after its dead letter is sent."""
    async for event in events:
        try:
            article = Article.model_validate_json(event.value)
        except ValidationError as exc:
            await dead_letters.send(event, stage, invalid("article", exc))
            event.ack()
            continue
        yield event, article
