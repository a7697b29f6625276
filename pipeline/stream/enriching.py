"""The `enrich` stage: news.raw -> news.enriched, each article enriched
(pipeline/enrichment/), linked to the first copy of its text and given its
story (pipeline/signals/stories.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable

from prometheus_client import Counter, Histogram

from pipeline.enrichment.duplicates import DuplicateIndex
from pipeline.enrichment.enrich import EnrichmentTimeout
from pipeline.signals.stories import StoryIndex
from pipeline.stream.deadletters import Topic, valid_articles
from pipeline.stream.enrichpool import (
    Enrichment,
    EnrichmentCrashed,
    EnrichmentFailed,
    Outcome,
)
from vigie import logs
from vigie.article import Article
from vigie.deadletter import DeadLetters, Event

log = logs.get(__name__)

ENRICHED = Counter("vigie_articles_enriched_total", "Articles enriched and sent on")
ENRICH_SECONDS = Histogram("vigie_enrich_seconds", "Time to enrich one batch of articles")


class EnrichStage:
    """Articles go to the enrichment in batches: those waiting when a lane is
    free, at most `batch` (one hand-over to a child process per batch, not per
    article). With several `lanes`, one batch is being enriched while the event
    loop links, assigns and sends the one before."""

    def __init__(
        self,
        enrichment: Enrichment,
        duplicates: DuplicateIndex,
        stories: StoryIndex,
        enriched: Topic,
        dead_letters: DeadLetters,
        deadline: float = 10.0,
        max_bytes: int = 1_000_000,
        batch: int = 16,
        lanes: int = 1,
    ) -> None:
        self._enrichment = enrichment
        self._duplicates = duplicates
        self._stories = stories
        self._enriched = enriched
        self._dead_letters = dead_letters
        self._deadline = deadline
        self._max_bytes = max_bytes
        self._batch = batch
        self._lanes = lanes

    async def run(self, events: AsyncIterable[Event]) -> None:
        """Each event is acked once its result (or dead letter) is sent: Faust
        flushes the producer before it commits the offset. A stop in between
        leaves the events of the batches in hand unacked, to be read again."""
        waiting: asyncio.Queue[tuple[Event, Article]] = asyncio.Queue(self._batch * self._lanes)
        lanes = [asyncio.create_task(self._lane(waiting)) for _ in range(self._lanes)]
        try:
            async for event, article in valid_articles(events, "enrich", self._dead_letters):
                await waiting.put((event, article))
            await waiting.join()  # the stream ended (tests): finish what is in hand
        finally:
            for lane in lanes:
                lane.cancel()

    async def _lane(self, waiting: asyncio.Queue[tuple[Event, Article]]) -> None:
        while True:
            batch = [await waiting.get()]
            while len(batch) < self._batch and not waiting.empty():
                batch.append(waiting.get_nowait())
            done = 0
            try:
                with ENRICH_SECONDS.time():
                    outcomes = await self._enrichment([a for _, a in batch], self._deadline)
                for (event, article), outcome in zip(batch, outcomes, strict=True):
                    await self.handle(event, article, outcome)
                    event.ack()
                    done += 1
            except Exception as exc:
                # Unacked, its events would hold their partitions' commits back for
                # the process's life: each goes to the DLQ with the reason instead.
                log.exception("enrich_batch_failed", articles=len(batch) - done)
                for event, _ in batch[done:]:
                    await self._dead_letters.send(event, "enrich", f"enrich stage failed: {exc!r}")
                    event.ack()
            finally:
                for _ in batch:
                    waiting.task_done()

    async def handle(self, event: Event, article: Article, outcome: Outcome) -> None:
        if isinstance(outcome, EnrichmentTimeout):
            await self._dead_letters.send(
                event, "enrich", f"{outcome} ({self._deadline:g}s; VIGIE_ENRICH_DEADLINE_SECONDS)"
            )
            return
        if isinstance(outcome, EnrichmentCrashed | EnrichmentFailed):
            log.warning("enrich_failed", article_id=article.id, error=str(outcome))
            crashed = isinstance(outcome, EnrichmentCrashed)
            reason = str(outcome) if crashed else f"enrichment failed: {outcome}"
            await self._dead_letters.send(event, "enrich", reason)
            return
        try:
            # The tables stay on the event loop's thread.
            result = self._duplicates.link(outcome.linked, outcome.signature)
            story = self._stories.assign(result, outcome.features)
        except Exception as exc:  # one bad article must not stop the stream
            log.exception("enrich_failed", article_id=article.id)
            await self._dead_letters.send(event, "enrich", f"enrichment failed: {exc!r}")
            return
        value = outcome.message(result.duplicate_of, story.story)
        if len(value) > self._max_bytes:
            # Kafka would refuse it, and the agent would crash with its offset
            # committed: the article would vanish without a trace.
            await self._dead_letters.send(
                event,
                "enrich",
                f"enriched article is {len(value)} bytes, over the {self._max_bytes}-byte "
                "message limit (VIGIE_KAFKA_MAX_MESSAGE_BYTES)",
            )
            return
        await self._enriched.send(key=result.id.encode(), value=value)
        ENRICHED.inc()
