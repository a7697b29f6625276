"""Retention: the indices behind the articles alias that are past
VIGIE_RETENTION_DAYS are deleted, by `vigie es prune` and by the worker's timer.

An index holds the articles written to it until the rollover that made the next
one, so its age is taken from then (the next index's creation date): an index is
past retention once its newest article is. The write index is never deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from pipeline.search.engine import SearchEngine, SearchEngineError
from vigie import logs

log = logs.get(__name__)


def expired(
    engine: SearchEngine, alias: str, days: float, now: datetime | None = None
) -> list[str]:
    """The indices behind `alias` rolled over more than `days` ago, oldest first."""
    behind = engine.alias_indices(alias)
    if len(behind) < 2:
        return []
    created = engine.creation_dates(alias)
    ordered = sorted(behind, key=lambda index: (created[index], index))
    limit = (now or datetime.now(UTC)) - timedelta(days=days)
    return [
        older for older, newer in pairwise(ordered) if not behind[older] and created[newer] < limit
    ]


def prune(engine: SearchEngine, alias: str, days: float, now: datetime | None = None) -> list[str]:
    """Delete the indices behind `alias` past retention; their names."""
    gone = expired(engine, alias, days, now)
    for index in gone:
        engine.delete_index(index)
    return gone


def pruning(
    engine: SearchEngine, alias: str, days: float
) -> Callable[[], Coroutine[None, None, None]]:
    """`prune` as a worker timer: off the event loop, an engine that does not
    answer is a warning (the next tick tries again)."""

    async def prune_expired_indices() -> None:
        try:
            gone = await asyncio.to_thread(prune, engine, alias, days)
        except SearchEngineError as exc:
            log.warning("prune_failed", alias=alias, error=str(exc))
            return
        for index in gone:
            log.info("index_pruned", alias=alias, index=index, retention_days=days)

    return prune_expired_indices
