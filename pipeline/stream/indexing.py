"""The `index` stage: bulk indexing of enriched articles, lossless.

The order that keeps it lossless:
  1. the `index` agent reads with manual acks (nothing is acked on arrival);
  2. articles collect in an EventBatch (pipeline/stream/batching.py), sent when it
     holds `bulk_max_docs` articles or `bulk_max_bytes` bytes, or when its oldest
     has waited `bulk_max_wait_seconds`;
  3. documents the engine answers 429/5xx for, or a whole request it cannot take
     (down, overloaded), are sent again with backoff until it takes them;
  4. documents it refuses for good go to news.dlq with the reason;
  5. only then is every event of the batch acked, so its offset can be committed.
A stop in between leaves the batch unacked: it is read again after a restart and
written again under the same ids, which replaces, never duplicates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Histogram

from pipeline.search import engine as search_engine
from pipeline.search.documents import to_document
from pipeline.search.engine import EngineUnavailable, SearchEngine, nothing
from vigie import logs
from vigie.article import Article
from vigie.deadletter import DeadLetters, Event
from vigie.retry import worth_saying

log = logs.get(__name__)

INDEXED = Counter("vigie_articles_indexed_total", "Articles written to the search index")
INDEX_RETRIES = Counter(
    "vigie_index_retries_total", "Bulk requests or documents sent again (engine busy or down)"
)
BULK_SECONDS = Histogram("vigie_bulk_seconds", "Time to get a batch into the index")


class BulkIndexer:
    """Writes batches of (event, article) to the index: the `handle` of an EventBatch."""

    def __init__(
        self,
        engine: SearchEngine,
        alias: str,
        dead_letters: DeadLetters,
        ready: Callable[[], Awaitable[None]] = nothing,
        on_indexed: Callable[[list[Article]], None] = lambda articles: None,
    ) -> None:
        self._engine = engine
        self._alias = alias
        self._dead_letters = dead_letters
        self._ready = ready
        self._on_indexed = on_indexed

    async def __call__(self, batch: list[tuple[Event, Article]]) -> None:
        started = time.monotonic()
        documents = {article.id: (event, to_document(article)) for event, article in batch}
        await self._ready()
        rejected = await self._write(documents)
        for event, reason in rejected:
            await self._dead_letters.send(event, "index", reason)
        BULK_SECONDS.observe(time.monotonic() - started)
        refused = {id(event) for event, _ in rejected}
        written = list({a.id: a for event, a in batch if id(event) not in refused}.values())
        INDEXED.inc(len(written))
        log.info("bulk_indexed", articles=len(written), rejected=len(rejected))
        self._on_indexed(written)

    async def _write(
        self, todo: dict[str, tuple[Event, dict[str, Any]]]
    ) -> list[tuple[Event, str]]:
        """Write until every document is in or refused for good; the refused ones
        with the engine's reason."""
        rejected: list[tuple[Event, str]] = []
        failures = 0
        while True:
            try:
                items = await asyncio.to_thread(
                    self._engine.bulk_index, self._alias, [(i, d) for i, (_, d) in todo.items()]
                )
            except EngineUnavailable as exc:
                reason = str(exc)
            else:
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
                    return rejected
                reason = f"{len(todo)} documents answered busy or failed"
            failures += 1
            wait = search_engine.ENGINE_BACKOFF.delay(failures)
            INDEX_RETRIES.inc()
            if worth_saying(failures):
                log.warning(
                    "bulk_retried", reason=reason, failures=failures, retry_in=round(wait, 2)
                )
            await asyncio.sleep(wait)
