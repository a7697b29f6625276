"""Batches of Kafka events that are acked only once their batch is handled.

Agents read with manual acks (`stream.noack()`); an event's offset can only be
committed after `handle` has returned for its batch, so a stop before that
leaves it to be read again. A batch is due when it holds `max_items` items or
`max_bytes` bytes, or when its oldest item has waited `max_wait` seconds (a
Faust timer calls `flush_if_waiting`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class EventBatch(Generic[T]):
    def __init__(
        self,
        handle: Callable[[list[tuple[Any, T]]], Awaitable[None]],
        max_items: int,
        max_bytes: int,
        max_wait: float,
    ) -> None:
        self._handle = handle
        self._max_items, self._max_bytes, self._max_wait = max_items, max_bytes, max_wait
        self._pending: list[tuple[Any, T]] = []
        self._bytes = 0
        self._oldest = 0.0
        self._lock = asyncio.Lock()

    async def add(self, event: Any, item: T, size: int) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append((event, item))
        self._bytes += size
        if len(self._pending) >= self._max_items or self._bytes >= self._max_bytes:
            await self.flush()

    async def flush_if_waiting(self) -> None:
        if self._pending and time.monotonic() - self._oldest >= self._max_wait:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending, self._bytes = self._pending, [], 0
            if batch:
                await self._handle(batch)
                for event, _ in batch:
                    event.ack()
