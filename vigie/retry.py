"""The one failure policy: a transient failure (a service down, busy or slow) is
tried again later, with exponential backoff and jitter, never sooner than the
other side's Retry-After and never later than the policy's cap; a permanent one
is the caller's to dead-letter. Every retry loop and schedule in Vigie takes its
delays from a `Backoff`, and every Retry-After header is read by `retry_after`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar

from vigie import logs
from vigie.numbers import whole_number

T = TypeVar("T")
log = logs.get(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays after failures in a row: `start`, doubling up to `cap`, each drawn
    in its upper half (jitter, so that clients that failed together do not come
    back together). A Retry-After is honoured up to `max_retry_after`: a hostile
    or broken server must not be able to say "never"."""

    start: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 3600.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after `failures` failures in a row (1 = the first)."""
        ceiling = min(self.cap, self.start * 2 ** min(max(0, failures - 1), 64))
        wait = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not secrets)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header as seconds from now (delta-seconds or an HTTP date);
    None when absent or unreadable. Callers cap it through their `Backoff`."""
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value, 10**12)  # 5,000 digits are still "a long time"
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


async def until_done(
    call: Callable[[], Awaitable[T]],
    *,
    transient: type[Exception] | tuple[type[Exception], ...],
    backoff: Backoff,
    what: str,
) -> T:
    """Await `call` until it returns, waiting between tries as `backoff` says while
    it raises a `transient` error (anything else goes up at once). For work that
    must not be skipped, such as indexing or matching a batch: the offsets wait."""
    failures = 0
    while True:
        try:
            result = await call()
        except transient as exc:
            failures += 1
            wait = backoff.delay(failures, getattr(exc, "retry_after", None))
            if worth_saying(failures):
                log.warning(
                    f"{what}_retried", error=str(exc), failures=failures, retry_in=round(wait, 2)
                )
            await asyncio.sleep(wait)
        else:
            if failures:
                log.info(f"{what}_succeeded", after_failures=failures)
            return result


def worth_saying(failures: int) -> bool:
    """Whether the `failures`-th failure in a row deserves a log line: the first,
    then one in twelve (about a minute apart at a 5 s cap), so that an outage is
    a few lines, not thousands."""
    return failures == 1 or failures % 12 == 0
