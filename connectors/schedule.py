"""When to poll a feed next: an interval that follows how often the feed really
changes, and backoff with jitter when it fails."""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_INTERVAL = 900.0


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float

    def clamp(self, value: float) -> float:
        return min(self.high, max(self.low, value))


def _floor(hint: float | None, bounds: Bounds) -> Bounds:
    return Bounds(max(bounds.low, min(hint, bounds.high)), bounds.high) if hint else bounds


def first_interval(configured: float | None, hint: float | None, bounds: Bounds) -> float:
    return _floor(hint, bounds).clamp(configured or DEFAULT_INTERVAL)


def next_interval(
    current: float | None,
    *,
    new: int,
    total: int,
    unchanged: bool,
    hint: float | None,
    bounds: Bounds,
) -> float:
    """Slower (x1.5) when nothing or little is new, faster (/2) when most entries
    are new: a feed that fills its window between two polls is losing entries.
    The feed's own update hint (ttl, sy:updatePeriod) is a floor: it said it
    changes no more often than that."""
    interval = current or DEFAULT_INTERVAL
    if unchanged or total == 0 or new == 0:
        interval *= 1.5
    elif new / total > 0.5:
        interval /= 2
    elif new / total < 0.1:
        interval *= 1.2
    return _floor(hint, bounds).clamp(interval)


def backoff(failures: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after `failures` failures in a row; never sooner
    than the server's Retry-After."""
    delay = min(cap, base * 2 ** max(0, failures - 1))
    delay = random.uniform(delay / 2, delay)  # noqa: S311 (jitter)
    return max(delay, retry_after or 0.0)
