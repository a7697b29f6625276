"""When to poll a feed next: an interval that follows how often the feed really
changes, and backoff with jitter when it fails (vigie/retry.py)."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.state import FeedState
from vigie.retry import Backoff

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


def after_success(
    known: FeedState,
    configured: float | None,
    bounds: Bounds,
    *,
    hint: float | None,
    new: int = 0,
    total: int = 0,
    unchanged: bool = False,
) -> float:
    """Seconds until the next poll of a feed that answered."""
    if known.last_success is None and not unchanged:
        # A first poll finds everything new, which says nothing of the feed's pace.
        return first_interval(configured, hint, bounds)
    return next_interval(
        known.interval or configured or DEFAULT_INTERVAL,
        new=new,
        total=total,
        unchanged=unchanged,
        hint=hint,
        bounds=bounds,
    )


def after_failure(
    known: FeedState, configured: float | None, bounds: Bounds, retry_after: float | None
) -> float:
    """Seconds until a failed feed is tried again: backoff from its interval (at most
    five minutes to start with) up to the longest interval, never sooner than the
    server's Retry-After, which is believed up to that longest interval too."""
    start = min(known.interval or configured or DEFAULT_INTERVAL, 300.0)
    policy = Backoff(start=start, cap=bounds.high, max_retry_after=bounds.high)
    return policy.delay(known.failures + 1, retry_after)
