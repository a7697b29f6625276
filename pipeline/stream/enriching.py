"""The `enrich` stage: news.raw -> news.enriched, each article enriched
(pipeline/enrichment/), linked to the first copy of its text and given its
story (pipeline/signals/stories.py)."""

from __future__ import annotations

from collections.abc import AsyncIterable

from prometheus_client import Counter, Histogram

from pipeline.enrichment.duplicates import DuplicateIndex
from pipeline.enrichment.enrich import EnrichmentTimeout
from pipeline.signals.stories import StoryIndex
from pipeline.stream.deadletters import Topic, valid_articles
from pipeline.stream.enrichpool import Enrichment, EnrichmentCrashed
from vigie import logs
from vigie.article import Article
from vigie.deadletter import DeadLetters, Event

log = logs.get(__name__)

ENRICHED = Counter("vigie_articles_enriched_total", "Articles enriched and sent on")
ENRICH_SECONDS = Histogram("vigie_enrich_seconds", "Time to enrich one article")


class EnrichStage:
    def __init__(
        self,
        enrichment: Enrichment,
        duplicates: DuplicateIndex,
        stories: StoryIndex,
        enriched: Topic,
        dead_letters: DeadLetters,
        deadline: float = 10.0,
        max_bytes: int = 1_000_000,
    ) -> None:
        self._enrichment = enrichment
        self._duplicates = duplicates
        self._stories = stories
        self._enriched = enriched
        self._dead_letters = dead_letters
        self._deadline = deadline
        self._max_bytes = max_bytes

    async def run(self, events: AsyncIterable[Event]) -> None:
        """Each event is acked once its result (or dead letter) is sent: Faust
        flushes the producer before it commits the offset."""
        async for event, article in valid_articles(events, "enrich", self._dead_letters):
            await self.handle(event, article)
            event.ack()

    async def handle(self, event: Event, article: Article) -> None:
        try:
            with ENRICH_SECONDS.time():
                done = await self._enrichment(article, self._deadline)
            # The tables stay on the event loop's thread.
            result = self._duplicates.link(done.article, done.signature)
            story = self._stories.assign(result, done.features)
            result = result.model_copy(update={"story_id": story.story})
        except EnrichmentTimeout as exc:
            await self._dead_letters.send(
                event, "enrich", f"{exc} ({self._deadline:g}s; VIGIE_ENRICH_DEADLINE_SECONDS)"
            )
            return
        except EnrichmentCrashed as exc:
            await self._dead_letters.send(event, "enrich", str(exc))
            return
        except Exception as exc:  # one bad article must not stop the stream
            log.exception("enrich_failed", article_id=article.id)
            await self._dead_letters.send(event, "enrich", f"enrichment failed: {exc!r}")
            return
        value = result.model_dump_json().encode()
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
