"""Bulk indexing of enriched articles, lossless.

The order that keeps it lossless:
  1. the `index` agent reads with manual acks (nothing is acked on arrival);
  2. articles collect in a batch, sent when it holds `bulk_max_docs` articles or
     `bulk_max_bytes` bytes, or when its oldest has waited `bulk_max_wait_seconds`;
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
from dataclasses import dataclass
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


@dataclass
class _Pending:
    event: Any
    document: dict[str, Any]
    size: int


class BulkIndexer:
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
        self._pending: list[_Pending] = []
        self._bytes = 0
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        self._ready = False

    async def add(self, event: Any, article: Article) -> None:
        document = to_document(article)
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(_Pending(event, document, len(event.value or b"")))
        self._bytes += self._pending[-1].size
        if (
            len(self._pending) >= self._settings.bulk_max_docs
            or self._bytes >= self._settings.bulk_max_bytes
        ):
            await self.flush()

    async def flush_if_waiting(self) -> None:
        waited = time.monotonic() - self._oldest
        if self._pending and waited >= self._settings.bulk_max_wait_seconds:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending, self._bytes = self._pending, [], 0
            if not batch:
                return
            started = time.monotonic()
            rejected = await self._write(batch)
            for item, reason in rejected:
                await self._dead_letter(item.event, reason)
            for item in batch:
                item.event.ack()
            BULK_SECONDS.observe(time.monotonic() - started)
            written = len(batch) - len(rejected)
            INDEXED.inc(written)
            log.info("bulk_indexed", articles=written, rejected=len(rejected))
            self._on_indexed(written)

    async def _write(self, batch: list[_Pending]) -> list[tuple[_Pending, str]]:
        """Write the batch until every document is in or refused for good; the
        refused ones with the engine's reason."""
        alias = self._settings.index_articles
        todo = {item.document["id"]: item for item in batch}
        rejected: list[tuple[_Pending, str]] = []
        delay = _BACKOFF_START
        while todo:
            try:
                if not self._ready:
                    await asyncio.to_thread(setup, self._engine, self._settings)
                    self._ready = True
                items = await asyncio.to_thread(
                    self._engine.bulk_index,
                    alias,
                    [(doc_id, item.document) for doc_id, item in todo.items()],
                )
            except EngineUnavailable as exc:
                items = None
                log.warning("search_engine_unavailable", error=str(exc), retry_in=round(delay, 2))
            if items is not None:
                retry = {}
                for result in items:
                    item = todo[result.id]
                    if result.ok:
                        continue
                    if result.retryable:
                        retry[result.id] = item
                    else:
                        rejected.append((item, f"search engine refused it: {result.error}"))
                todo = retry
                if not todo:
                    break
                log.warning("bulk_items_retried", count=len(todo), retry_in=round(delay, 2))
            INDEX_RETRIES.inc()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
            delay = min(delay * 2, _BACKOFF_MAX)
        return rejected
