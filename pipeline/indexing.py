"""Bulk indexing of enriched articles, lossless.

The order that keeps it lossless:
  1. the `index` agent reads with manual acks (nothing is acked on arrival);
  2. articles collect in an EventBatch (pipeline/batching.py), sent when it holds
     `bulk_max_docs` articles or `bulk_max_bytes` bytes, or when its oldest has
     waited `bulk_max_wait_seconds`;
  3. documents the engine answers 429/5xx for, or a whole request it cannot take
     (down, overloaded), are sent again with backoff until it takes them;
  4. documents it refuses for good go to news.dlq with the reason;
  5. only then is every event of the batch acked, so its offset can be committed.
A stop in between leaves the batch unacked: it is read again after a restart and
written again under the same ids, which replaces, never duplicates.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Histogram

from pipeline.search.documents import to_document
from pipeline.search.engine import EngineUnavailable, SearchEngine
from pipeline.search.templates import setup
from vigie import logs
from vigie.article import Article
from vigie.settings import Settings

log = logs.get(__name__)

INDEXED = Counter("vigie_articles_indexed_total", "Articles written to the search index")
INDEX_RETRIES = Counter(
    "vigie_index_retries_total", "Bulk requests or documents sent again (engine busy or down)"
)
BULK_SECONDS = Histogram("vigie_bulk_seconds", "Time to get a batch into the index")

_BACKOFF_START, _BACKOFF_MAX = 0.5, 30.0

DeadLetter = Callable[[Any, str], Awaitable[None]]  # (event, reason)


class BulkIndexer:
    """Writes batches of (event, article) to the index: the `handle` of an EventBatch."""

    def __init__(
        self,
        engine: SearchEngine,
        settings: Settings,
        dead_letter: DeadLetter,
        on_indexed: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._dead_letter = dead_letter
        self._on_indexed = on_indexed
        self._ready = False

    async def __call__(self, batch: list[tuple[Any, Article]]) -> None:
        started = time.monotonic()
        documents = {article.id: (event, to_document(article)) for event, article in batch}
        rejected = await self._write(documents)
        for event, reason in rejected:
            await self._dead_letter(event, reason)
        BULK_SECONDS.observe(time.monotonic() - started)
        written = len(documents) - len(rejected)
        INDEXED.inc(written)
        log.info("bulk_indexed", articles=written, rejected=len(rejected))
        self._on_indexed(written)

    async def _write(self, todo: dict[str, tuple[Any, dict[str, Any]]]) -> list[tuple[Any, str]]:
        """Write until every document is in or refused for good; the refused ones
        with the engine's reason."""
        alias = self._settings.index_articles
        rejected: list[tuple[Any, str]] = []
        delay = _BACKOFF_START
        while todo:
            try:
                if not self._ready:
                    await asyncio.to_thread(setup, self._engine, self._settings)
                    self._ready = True
                items = await asyncio.to_thread(
                    self._engine.bulk_index, alias, [(i, doc) for i, (_, doc) in todo.items()]
                )
            except EngineUnavailable as exc:
                items = None
                log.warning("search_engine_unavailable", error=str(exc), retry_in=round(delay, 2))
            if items is not None:
                retry = {}
                for result in items:
                    if result.ok:
                        continue
                    if result.retryable:
                        retry[result.id] = todo[result.id]
                    else:
                        event = todo[result.id][0]
                        rejected.append((event, f"search engine refused it: {result.error}"))
                todo = retry
                if not todo:
                    break
                log.warning("bulk_items_retried", count=len(todo), retry_in=round(delay, 2))
            INDEX_RETRIES.inc()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
            delay = min(delay * 2, _BACKOFF_MAX)
        return rejected
