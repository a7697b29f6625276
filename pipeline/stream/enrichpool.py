"""Where the enrich stage's enrichment runs: in child processes, or in one thread
of the worker (`VIGIE_ENRICH_PROCESSES`, 0 for the thread).

In a thread, enrichment is off the event loop but not out of its interpreter:
under load the loop and the enrichment thread take turns on one GIL, so
indexing, matching, delivery, heartbeats and health wait behind the
gazetteer. In a child process each has its own core, and an article that
crashes the enrichment (a native library's fault, memory) takes its child down,
not the worker: the child is replaced and the article tried once more, then
dead-lettered.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

from pydantic_core import to_json

from pipeline.enrichment.duplicates import packed_signature
from pipeline.enrichment.enrich import Enricher, EnrichmentTimeout
from pipeline.signals.stories import Features, features
from vigie import logs
from vigie.article import Article
from vigie.children import start_child
from vigie.settings import Settings

log = logs.get(__name__)


class EnrichmentCrashed(RuntimeError):
    """The child process enriching an article died, twice."""


class EnrichmentFailed(RuntimeError):
    """The enricher raised something else (the message is its repr): one bad
    article, not a reason to stop the others."""


# The article's last fields: the event loop sets the first two (linking it to
# its first copy, giving it its story) and passes the last on; its message on
# news.enriched is made where it was enriched but for these (`Enriched.message`).
_SET_ON_THE_LOOP = ("duplicate_of", "story_id", "notes")
if tuple(Article.model_fields)[-len(_SET_ON_THE_LOOP) :] != _SET_ON_THE_LOOP:
    raise RuntimeError(f"Enriched.message needs Article's last fields to be {_SET_ON_THE_LOOP}")
_LEFT_OUT = set(_SET_ON_THE_LOOP)
_SET_ASIDE = {name: () for name in ("entities", "tags", "languages", "media")}


@dataclass(frozen=True)
class Enriched:
    """An enriched article as the event loop takes it from where it was enriched:
    its news.enriched message all but made, what the near-duplicate and story
    indexes read of it, and what they match it on, worked out there so the loop
    only looks up. (Decoding the whole article back from a child process, its
    entities and tags some thirty models, then encoding it again for Kafka, took
    the loop more time than its linking and story matching together.)"""

    # The article's JSON, as `Article.model_dump_json` writes it, without the
    # fields of _SET_ON_THE_LOOP.
    head: bytes
    # The article without entities, tags, languages and media: what
    # DuplicateIndex.link and StoryIndex.assign read of it, given its signature
    # and features.
    linked: Article
    signature: bytes  # duplicates.packed_signature
    features: Features  # stories.features

    @classmethod
    def of(cls, article: Article) -> Enriched:
        return cls(
            article.model_dump_json(exclude=_LEFT_OUT).encode(),
            article.model_copy(update=_SET_ASIDE),
            packed_signature(article),
            features(article),
        )

    def message(self, duplicate_of: str | None, story_id: str | None) -> bytes:
        """The article's news.enriched message with these two fields: the bytes
        `model_dump_json` writes for it (its last fields appended as pydantic
        writes them, tests/unit/test_enrichpool.py checks it)."""
        return b"".join(
            (
                self.head[:-1],  # its closing brace
                b',"duplicate_of":',
                to_json(duplicate_of),
                b',"story_id":',
                to_json(story_id),
                b',"notes":',
                to_json(self.linked.notes),
                b"}",
            )
        )

    @property
    def article(self) -> Article:
        """The whole enriched article, decoded (for tests and tools: the worker
        sends `message`)."""
        return Article.model_validate_json(
            self.message(self.linked.duplicate_of, self.linked.story_id)
        )


# Per article of a batch: its result, or why it has none.
Outcome = Enriched | EnrichmentTimeout | EnrichmentFailed | EnrichmentCrashed


def enrich(enricher: Enricher, article: Article, seconds: float) -> Enriched:
    """`seconds`: its deadline, counted from now (not from when it was queued)."""
    return Enriched.of(enricher.enrich(article, time.monotonic() + seconds))


def enrich_each(enricher: Enricher, articles: list[Article], seconds: float) -> list[Outcome]:
    """Each article enriched in turn, `seconds` each; one that fails says why."""
    outcomes: list[Outcome] = []
    for article in articles:
        try:
            outcomes.append(enrich(enricher, article, seconds))
        except EnrichmentTimeout as exc:
            outcomes.append(exc)
        except Exception as exc:  # any fault of the enricher is this article's alone
            outcomes.append(EnrichmentFailed(repr(exc)))
    return outcomes


class Enrichment(Protocol):
    async def __call__(self, articles: list[Article], seconds: float) -> list[Outcome]:
        """The articles enriched, in order, each in at most `seconds` once
        started; a batch costs one hand-over, not one per article."""
        ...

    def close(self) -> None: ...


class ThreadEnrichment:
    """One thread of the worker (the enricher is not shared between threads)."""

    def __init__(self, enricher: Enricher) -> None:
        self._enricher = enricher
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich")

    async def __call__(self, articles: list[Article], seconds: float) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._thread, enrich_each, self._enricher, articles, seconds
        )

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


# The child's own enricher, built once by its initializer.
_enricher: Enricher | None = None


def _start_child(settings: Settings) -> None:
    global _enricher
    start_child()  # first: the worker may die while the enricher is being built
    logs.configure(settings.log_level, settings.log_format)
    _enricher = Enricher.from_settings(settings)


def _enrich_in_child(articles: list[Article], seconds: float) -> list[Outcome]:
    assert _enricher is not None, "the child's initializer builds it"
    return enrich_each(_enricher, articles, seconds)


def _ready() -> int:
    return os.getpid()


class ProcessEnrichment:
    """`processes` children, each with its own enricher (built from the gazetteer
    cache: a few seconds, started with the worker).

    The enricher checks its deadline between stages. A stage that runs away (a
    text that sends a native library into a loop) is stopped from here: a batch
    still not back after twice the deadline (it may have waited for a batch
    ahead of it) and `grace` seconds has its children killed and replaced. A
    batch whose child died or was killed is tried again one article at a time,
    so that only the article at fault is given up (dead-lettered as too slow,
    or as crashing)."""

    def __init__(self, settings: Settings, processes: int, grace: float = 5.0) -> None:
        self._settings = settings
        self._processes = processes
        self._grace = grace
        self._pool = self._start()
        # After a crash, the second tries go one at a time, so that an article
        # sharing a child's death with the one that caused it gets a fair retry.
        self._retries = asyncio.Lock()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            self._processes,
            # Not fork: the worker has threads (Kafka clients, the engine's pool).
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(self._settings,),
        )
        for _ in range(self._processes):  # start the children now, not on the first article
            pool.submit(_ready)
        return pool

    async def __call__(self, articles: list[Article], seconds: float) -> list[Outcome]:
        pool = self._pool
        try:
            return await self._on(pool, articles, seconds)
        except (BrokenProcessPool, EnrichmentTimeout):
            pass
        # Alone, and one at a time: a crash or a kill now names its article.
        outcomes: list[Outcome] = []
        async with self._retries:
            for article in articles:
                pool = self._pool
                try:
                    outcomes += await self._on(pool, [article], seconds)
                except EnrichmentTimeout as exc:
                    outcomes.append(exc)
                except BrokenProcessPool:
                    outcomes.append(
                        EnrichmentCrashed(
                            "the process enriching it died twice (a crash or out of memory)"
                        )
                    )
        return outcomes

    async def _on(
        self, pool: ProcessPoolExecutor, articles: list[Article], seconds: float
    ) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(pool, _enrich_in_child, articles, seconds)
        limit = 2 * seconds + self._grace
        try:
            return await asyncio.wait_for(running, limit)
        except BrokenProcessPool:
            self._replace(pool, articles[0])
            raise
        except TimeoutError:
            self._replace(pool, articles[0], kill=True)
            raise EnrichmentTimeout(
                f"enrichment still running after {limit:g}s: its process was stopped"
            ) from None

    def _replace(self, broken: ProcessPoolExecutor, article: Article, kill: bool = False) -> None:
        if broken is not self._pool:
            return  # replaced already, for another article
        log.warning(
            "enrich_process_stopped" if kill else "enrich_process_died", article_id=article.id
        )
        # A pool has no way to stop a busy child. It is the worker's only pool of
        # processes: the children alive now are the broken pool's.
        stopped = multiprocessing.active_children() if kill else []
        self._pool = self._start()
        broken.shutdown(wait=False, cancel_futures=True)
        for child in stopped:
            child.kill()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def enrichment(settings: Settings) -> Enrichment:
    """The enrichment `settings` ask for."""
    if settings.enrich_processes:
        return ProcessEnrichment(settings, settings.enrich_processes)
    return ThreadEnrichment(Enricher.from_settings(settings))
