"""Where feeds are parsed: in child processes when the machine has a core to spare
for them, else in one thread; a parse that crashes its process or overruns its
time costs that feed, never the others or the service.

Parsing is CPU-bound Python (feedparser, about 30 ms for a real feed, a second for
a 3 MB one): in a thread it holds the GIL that fetching, the state and /health
need, and uses one core whatever the machine has.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from connectors.feed import FeedDocument, FeedError, ParsedFeed, parse_feed
from connectors.feedlist import FeedConfig
from vigie.children import start_child
from vigie.settings import Settings


def spare_cores() -> int:
    """Cores this process may run on, less one for the service's own loop."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, (usable or 1) - 1)


Parse = Callable[[FeedDocument, FeedConfig], ParsedFeed]


def _timed_parse(
    parse: Parse, document: FeedDocument, feed: FeedConfig
) -> tuple[ParsedFeed, float]:
    # The CPU time of this parse alone: parses overlap in wall time, not in CPU.
    started = time.thread_time()
    try:
        parsed = parse(document, feed)
    finally:
        seconds = time.thread_time() - started
    return parsed, seconds


class FeedParsers:
    """Parses feeds with `workers` child processes (at most that many at once), or
    in one thread when `workers` is 0.

    A child that dies (a crash, the kernel's OOM killer) or overruns `timeout` is
    stopped with its whole pool, and a new pool is made for the next parse. Feeds
    whose parse was under way in that pool are parsed again, each alone in a process
    of its own: the one that broke the pool fails alone. In a thread, a parse
    cannot be stopped; it is bounded as before (feed bytes, MAX_ENTRIES), not timed.
    """

    def __init__(self, workers: int, timeout: float, parse: Parse = parse_feed) -> None:
        self.workers = workers
        self._parse = parse  # a module-level function: a child process imports it
        self._timeout = timeout
        self._slots = asyncio.Semaphore(2 * max(1, workers))
        self._pool: ProcessPoolExecutor | None = None
        # One thread: more would only hold more parsed feeds in memory at once.
        self._thread = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse") if not workers else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedParsers:
        workers = spare_cores() if settings.parse_workers is None else settings.parse_workers
        return cls(workers, settings.parse_timeout_seconds)

    async def parse(self, document: FeedDocument, feed: FeedConfig) -> tuple[ParsedFeed, float]:
        """The parsed feed and the CPU seconds its parse took."""
        if self._thread is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._thread, _timed_parse, self._parse, document, feed
            )
        # No more parses handed over than there are workers: a pool that is stopped
        # holds no queue of other feeds' parses.
        async with self._slots:
            pool = self._current()
            try:
                return await self._run(pool, document, feed)
            except BrokenProcessPool:
                self._stop(pool)
            # Broken by this feed or by one parsed beside it: this one alone tells.
            alone = _new_pool(1)
            try:
                return await self._run(alone, document, feed)
            except BrokenProcessPool as exc:
                raise FeedError(f"{feed.id}: the feed's parser process died ({exc})") from exc
            finally:
                _kill(alone)

    async def _run(
        self, pool: ProcessPoolExecutor, document: FeedDocument, feed: FeedConfig
    ) -> tuple[ParsedFeed, float]:
        future: Future[tuple[ParsedFeed, float]] = pool.submit(
            _timed_parse, self._parse, document, feed
        )
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self._timeout)
        except TimeoutError:
            self._stop(pool)
            raise FeedError(
                f"{feed.id}: parsing took more than {self._timeout:g} s; stopped"
            ) from None

    def _current(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = _new_pool(self.workers)
        return self._pool

    def _stop(self, pool: ProcessPoolExecutor) -> None:
        if pool is self._pool:
            self._pool = None
        _kill(pool)

    def close(self) -> None:
        executors: list[Executor | None] = [self._thread, self._pool]
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._pool = None


def _new_pool(workers: int) -> ProcessPoolExecutor:
    # Spawned, not forked: the service has threads (the Kafka producer's, the
    # parse thread's) whose locks a fork would copy held.
    spawn = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=spawn, initializer=start_child)


def _kill(pool: ProcessPoolExecutor) -> None:
    # The executor cannot stop a running call; its processes can be. (`_processes`
    # is private, but the only handle on them; None once the pool has shut down.)
    for process in list((pool._processes or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
