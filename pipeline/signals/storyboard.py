"""The stories index (`news-stories`): one document per story, what a desk reads
first (how big, since when, in which languages, from which sources, about whom).

A story's document is computed from its articles in the articles index (one
aggregation for a batch of stories), never counted up article by article: any
number of workers, replays and restarts give the same document, and the last
write is always right. The `index` stage says which stories got articles
(`touched`); `refresh` brings those documents up to date once the articles are
searchable (a story at most every REWRITE_SECONDS), and keeps them pending
while the engine is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from pipeline.search.engine import EngineUnavailable, SearchEngine, SearchEngineError
from vigie import logs
from vigie.retry import worth_saying

log = logs.get(__name__)

STORIES_WRITTEN = Counter("vigie_stories_written_total", "Story documents written or rewritten")

# Stories brought up to date per request; more wait for the next refresh.
BATCH = 200
# After an article is written, searches see it within the index's refresh
# interval (1 s): a story is aggregated once this long has passed.
SETTLE_SECONDS = 2.0
# A story is rewritten at most this often: at 150 articles/s, rewriting every
# story touched each 5 s took 6 s of the engine's aggregations per round.
REWRITE_SECONDS = 30.0
_TOP = 10


def _first(sort: str) -> dict[str, Any]:
    return {
        "top_hits": {
            "size": 1,
            "sort": [{"dated_at": sort}],
            "_source": ["id", "title", "url", "language"],
        }
    }


def story_query(story_ids: list[str]) -> dict[str, Any]:
    """One search that sums up every story given, from its articles."""

    def terms(field: str, size: int = _TOP) -> dict[str, Any]:
        return {"terms": {"field": field, "size": size}}

    return {
        "size": 0,
        "query": {"terms": {"story_id": story_ids}},
        "aggs": {
            "stories": {
                "terms": {"field": "story_id", "size": len(story_ids)},
                "aggs": {
                    "first_seen": {"min": {"field": "dated_at"}},
                    "last_seen": {"max": {"field": "dated_at"}},
                    "languages": terms("language", 50),
                    "sources": terms("source.feed_id", 50),
                    "source_count": {"cardinality": {"field": "source.feed_id"}},
                    "tags": terms("tags.id"),
                    "tag_labels": terms("tags.label"),
                    "people": terms("entity_names.PER"),
                    "first": _first("asc"),
                    "titles": {**terms("language", 50), "aggs": {"first": _first("asc")}},
                },
            }
        },
    }


def _keys(aggregation: dict[str, Any]) -> list[str]:
    return [str(bucket["key"]) for bucket in aggregation.get("buckets", [])]


def _top_source(aggregation: dict[str, Any]) -> dict[str, Any]:
    hits = aggregation.get("hits", {}).get("hits", [])
    return dict(hits[0]["_source"]) if hits else {}


def story_documents(
    aggregations: dict[str, Any], now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """(story id, document) of each story the aggregation found."""
    documents = []
    for bucket in aggregations.get("stories", {}).get("buckets", []):
        first = _top_source(bucket["first"])
        titles = []
        for by_language in bucket["titles"]["buckets"]:
            article = _top_source(by_language["first"])
            titles.append(
                {
                    "language": str(by_language["key"]),
                    "title": article.get("title", ""),
                    "url": article.get("url"),
                    "article_id": article.get("id"),
                }
            )
        languages = _keys(bucket["languages"])
        documents.append(
            (
                str(bucket["key"]),
                {
                    "story_id": str(bucket["key"]),
                    "title": first.get("title", ""),
                    "titles": titles,
                    "first_seen": bucket["first_seen"].get("value_as_string"),
                    "last_seen": bucket["last_seen"].get("value_as_string"),
                    "articles": int(bucket["doc_count"]),
                    "languages": languages,
                    "language_count": len(languages),
                    "sources": _keys(bucket["sources"]),
                    "source_count": int(bucket["source_count"]["value"]),
                    "tags": _keys(bucket["tags"]),
                    "tag_labels": _keys(bucket["tag_labels"]),
                    "people": _keys(bucket["people"]),
                    "updated_at": now.isoformat(),
                },
            )
        )
    return documents


class StoryBoard:
    def __init__(
        self,
        engine: SearchEngine,
        articles: str,
        stories: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._engine = engine
        self._articles = articles
        self._stories = stories
        # story id -> when its latest article was written (time.monotonic())
        self._pending: dict[str, float] = {}
        # story id -> when its document was last written (within REWRITE_SECONDS)
        self._written: dict[str, float] = {}
        self._failures = 0

    def touched(self, story_ids: Iterable[str | None]) -> None:
        now = self._clock()
        for story_id in story_ids:
            if story_id:
                self._pending[story_id] = now

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def refresh(self) -> int:
        """Rewrites the documents of the stories whose articles have settled;
        returns how many. An engine that fails keeps them pending."""
        now = self._clock()
        self._written = {s: t for s, t in self._written.items() if now - t < REWRITE_SECONDS}
        due = {
            s: t
            for s, t in self._pending.items()
            if t <= now - SETTLE_SECONDS and s not in self._written
        }
        written = 0
        for start in range(0, len(due), BATCH):
            batch = list(due)[start : start + BATCH]
            try:
                written += await asyncio.to_thread(self._write, batch)
            except SearchEngineError as exc:
                self._failures += 1
                if worth_saying(self._failures):
                    log.warning("stories_not_written", error=str(exc), pending=self.pending)
                return written
            self._failures = 0
            for story_id in batch:
                self._written[story_id] = now
                # Touched again meanwhile: it stays for the next refresh.
                if self._pending.get(story_id) == due[story_id]:
                    del self._pending[story_id]
        return written

    def _write(self, story_ids: list[str]) -> int:
        found = self._engine.search(self._articles, story_query(story_ids))
        documents = story_documents(dict(found.aggregations), datetime.now(UTC))
        if not documents:
            return 0
        items = self._engine.bulk_index(self._stories, documents, unique=False)
        if busy := [item for item in items if not item.ok and item.retryable]:
            raise EngineUnavailable(f"{len(busy)} story documents not taken: {busy[0].error}")
        for item in items:
            if not item.ok:  # the next article of the story tries again
                log.error("story_refused", story_id=item.id, error=item.error)
        STORIES_WRITTEN.inc(len(documents))
        return len(documents)
