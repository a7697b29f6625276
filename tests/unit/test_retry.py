"""The one failure policy (vigie/retry.py): backoff delays, Retry-After headers and
the retry loop for work that must not be skipped."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from pipeline.search.engine import DocumentRejected, EngineUnavailable
from vigie.retry import Backoff, retry_after, until_done

TINY = Backoff(start=0.001, cap=0.002, max_retry_after=0.005)


def _bounds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Record the interval every jittered delay is drawn from (and draw its top)."""
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    return drawn


def test_delays_double_from_start_up_to_the_cap_in_their_upper_half(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = _bounds(monkeypatch)
    backoff = Backoff(start=1.0, cap=10.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert drawn == [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (5.0, 10.0), (5.0, 10.0)]


def test_jittered_delays_stay_within_their_interval() -> None:
    backoff = Backoff(start=0.5, cap=30.0)
    for failures in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (failures - 1))
        delays = {backoff.delay(failures) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, delays)
        assert len(delays) > 1  # jittered, not a fixed step


@pytest.mark.parametrize("failures", [0, -3])
def test_no_failure_yet_waits_about_start(failures: int, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _bounds(monkeypatch)
    Backoff(start=2.0, cap=30.0).delay(failures)
    assert drawn == [(1.0, 2.0)]


@pytest.mark.parametrize("failures", [65, 1_000, 10**6, 2**80])
def test_huge_failure_counts_do_not_overflow(failures: int) -> None:
    wait = Backoff(start=0.5, cap=30.0).delay(failures)
    assert math.isfinite(wait)
    assert 15.0 <= wait <= 30.0


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    backoff = Backoff(start=0.1, cap=1.0, max_retry_after=100.0)
    assert backoff.delay(1, retry_after=42.0) == 42.0


def test_retry_after_is_capped_at_max_retry_after() -> None:
    backoff = Backoff(start=0.1, cap=1.0, max_retry_after=100.0)
    assert backoff.delay(1, retry_after=10_000.0) == 100.0
    assert backoff.delay(1, retry_after=retry_after("9" * 5_000)) == 100.0


def test_a_short_retry_after_does_not_shorten_the_backoff() -> None:
    backoff = Backoff(start=4.0, cap=30.0, max_retry_after=100.0)
    assert 2.0 <= backoff.delay(1, retry_after=0.0) <= 4.0


@pytest.mark.parametrize(
    ("header", "seconds"), [("120", 120.0), ("0", 0.0), ("  7 ", 7.0), ("3600", 3600.0)]
)
def test_retry_after_in_delta_seconds(header: str, seconds: float) -> None:
    assert retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    at = 1445412480.0  # that date, as a timestamp
    assert retry_after(date, now=at - 90) == 90.0
    assert retry_after(date, now=at + 90) == 0.0  # in the past: now


def test_an_http_date_without_a_zone_is_read_as_utc() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now=1445412480.0 - 5) == 5.0


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "soon", "-1", "1.5", "1e3", "Wed, 99 Foo 2015", "²", "١٢٠", "１２０"],
)
def test_unreadable_retry_after_is_none(header: str | None) -> None:
    assert retry_after(header) is None


def test_a_5000_digit_retry_after_is_a_long_finite_time() -> None:
    seconds = retry_after("9" * 5_000)
    assert seconds is not None
    assert math.isfinite(seconds)
    assert seconds >= 10**11


def test_leading_zeros_do_not_change_a_long_delta_seconds_value() -> None:
    assert retry_after("0000000000000120") == 120.0


class Busy(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("busy")
        self.retry_after = retry_after


def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return waits


def test_until_done_retries_a_transient_error_then_returns() -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise EngineUnavailable("down")
        return "indexed"

    result = asyncio.run(until_done(call, transient=EngineUnavailable, backoff=TINY, what="t"))
    assert result == "indexed"
    assert calls == 3


def test_until_done_waits_as_the_backoff_says(monkeypatch: pytest.MonkeyPatch) -> None:
    waits = _no_sleep(monkeypatch)
    errors: list[Exception] = [Busy(), Busy(retry_after=60.0), Busy(retry_after=0.5)]

    async def call() -> int:
        if errors:
            raise errors.pop(0)
        return 7

    backoff = Backoff(start=0.01, cap=0.02, max_retry_after=1.0)
    assert asyncio.run(until_done(call, transient=(KeyError, Busy), backoff=backoff, what="t")) == 7
    assert len(waits) == 3
    assert 0.005 <= waits[0] <= 0.01
    assert waits[1] == 1.0  # the Retry-After, capped
    assert waits[2] == 0.5  # the Retry-After, longer than the backoff


def test_until_done_lets_a_non_transient_error_go_up_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits = _no_sleep(monkeypatch)
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise DocumentRejected("mapper_parsing_exception")

    with pytest.raises(DocumentRejected, match="mapper_parsing_exception"):
        asyncio.run(until_done(call, transient=EngineUnavailable, backoff=TINY, what="t"))
    assert calls == 1
    assert waits == []


def test_until_done_gives_up_on_a_permanent_error_after_transient_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits = _no_sleep(monkeypatch)
    errors: list[Exception] = [EngineUnavailable("down"), ValueError("bad")]

    async def call() -> None:
        raise errors.pop(0)

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(until_done(call, transient=EngineUnavailable, backoff=TINY, what="t"))
    assert len(waits) == 1
    assert errors == []
