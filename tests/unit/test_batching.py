"""EventBatch (pipeline/stream/batching.py): when a batch is handled, and that its
events are acked only once `handle` has returned for it."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.stream.batching import EventBatch
from tests.unit.fakes import FakeEvent


class Handler:
    """A batch's `handle`: keeps each batch, and the acks its events had on arrival."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.acks_seen: list[int] = []
        self.fail = fail

    async def __call__(self, batch: list[tuple[FakeEvent, str]]) -> None:
        self.batches.append([item for _, item in batch])
        self.acks_seen.extend(event.acks for event, _ in batch)
        if self.fail:
            raise RuntimeError("engine exploded")


def _events(n: int) -> list[FakeEvent]:
    return [FakeEvent(f"v{i}".encode(), offset=i) for i in range(n)]


def test_a_batch_is_handled_when_it_holds_max_items() -> None:
    handle = Handler()
    events = _events(4)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=3, max_bytes=10**9, max_wait=60)
        for i, event in enumerate(events[:2]):
            await batch.add(event, f"a{i}", 1)
        assert handle.batches == []
        await batch.add(events[2], "a2", 1)
        assert handle.batches == [["a0", "a1", "a2"]]
        await batch.add(events[3], "a3", 1)  # the next batch starts empty

    asyncio.run(go())
    assert handle.batches == [["a0", "a1", "a2"]]
    assert [e.acks for e in events] == [1, 1, 1, 0]


def test_a_batch_is_handled_when_it_holds_max_bytes() -> None:
    handle = Handler()
    events = _events(5)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=100, max_bytes=10, max_wait=60)
        await batch.add(events[0], "a", 4)
        await batch.add(events[1], "b", 4)
        assert handle.batches == []
        await batch.add(events[2], "c", 4)  # 12 bytes >= 10
        assert handle.batches == [["a", "b", "c"]]
        await batch.add(events[3], "d", 4)  # the byte count starts again from 0
        assert handle.batches == [["a", "b", "c"]]
        await batch.add(events[4], "e", 9)
        assert handle.batches == [["a", "b", "c"], ["d", "e"]]

    asyncio.run(go())
    assert [e.acks for e in events] == [1, 1, 1, 1, 1]


def test_one_oversized_item_is_a_batch_on_its_own() -> None:
    handle = Handler()
    events = _events(1)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=100, max_bytes=10, max_wait=60)
        await batch.add(events[0], "huge", 1_000)

    asyncio.run(go())
    assert handle.batches == [["huge"]]
    assert events[0].acks == 1


def test_flush_if_waiting_leaves_a_batch_younger_than_max_wait() -> None:
    handle = Handler()
    events = _events(2)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=100, max_bytes=10**9, max_wait=60)
        await batch.flush_if_waiting()  # empty: nothing to do
        await batch.add(events[0], "a", 1)
        await batch.add(events[1], "b", 1)
        await batch.flush_if_waiting()

    asyncio.run(go())
    assert handle.batches == []
    assert [e.acks for e in events] == [0, 0]


def test_flush_if_waiting_handles_a_batch_older_than_max_wait() -> None:
    handle = Handler()
    events = _events(3)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=100, max_bytes=10**9, max_wait=0.05)
        await batch.add(events[0], "a", 1)
        await batch.add(events[1], "b", 1)
        await asyncio.sleep(0.06)
        await batch.flush_if_waiting()
        assert handle.batches == [["a", "b"]]
        await batch.add(events[2], "c", 1)  # a new batch: its own wait starts now
        await batch.flush_if_waiting()
        await batch.flush_if_waiting()

    asyncio.run(go())
    assert handle.batches == [["a", "b"]]
    assert [e.acks for e in events] == [1, 1, 0]


def test_events_are_acked_only_after_handle_returns() -> None:
    handle = Handler()
    events = _events(3)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=3, max_bytes=10**9, max_wait=60)
        for event in events:
            await batch.add(event, "x", 1)

    asyncio.run(go())
    assert handle.acks_seen == [0, 0, 0]
    assert [e.acks for e in events] == [1, 1, 1]


def test_nothing_is_acked_when_handle_raises() -> None:
    handle = Handler(fail=True)
    events = _events(2)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=2, max_bytes=10**9, max_wait=60)
        await batch.add(events[0], "a", 1)
        with pytest.raises(RuntimeError, match="engine exploded"):
            await batch.add(events[1], "b", 1)

    asyncio.run(go())
    assert handle.batches == [["a", "b"]]
    assert [e.acks for e in events] == [0, 0]


def test_an_explicit_flush_handles_what_is_pending_once() -> None:
    handle = Handler()
    events = _events(2)

    async def go() -> None:
        batch: EventBatch[str] = EventBatch(handle, max_items=100, max_bytes=10**9, max_wait=60)
        await batch.flush()  # nothing pending: handle is not called
        await batch.add(events[0], "a", 1)
        await batch.add(events[1], "b", 1)
        await batch.flush()
        await batch.flush()

    asyncio.run(go())
    assert handle.batches == [["a", "b"]]
    assert [e.acks for e in events] == [1, 1]


class GatedHandler:
    """A `handle` that waits for `release` and counts how many batches it holds at once."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.running = 0
        self.most_at_once = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, batch: list[tuple[FakeEvent, str]]) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.batches.append([item for _, item in batch])
        self.entered.set()
        await self.release.wait()
        self.running -= 1


def test_concurrent_flushes_handle_each_event_once_and_one_batch_at_a_time() -> None:
    events = _events(4)

    async def go() -> GatedHandler:
        handle = GatedHandler()
        batch: EventBatch[str] = EventBatch(handle, max_items=100, max_bytes=10**9, max_wait=0)
        await batch.add(events[0], "a", 1)
        await batch.add(events[1], "b", 1)
        first = asyncio.create_task(batch.flush())
        await handle.entered.wait()  # the first batch is being handled...
        await batch.add(events[2], "c", 1)  # ...while more arrive
        await batch.add(events[3], "d", 1)
        others = [
            asyncio.create_task(batch.flush()),
            asyncio.create_task(batch.flush_if_waiting()),
            asyncio.create_task(batch.flush()),
        ]
        await asyncio.sleep(0)
        assert [e.acks for e in events] == [0, 0, 0, 0]
        handle.release.set()
        await asyncio.gather(first, *others)
        return handle

    handle = asyncio.run(go())
    assert handle.batches == [["a", "b"], ["c", "d"]]
    assert handle.most_at_once == 1
    assert [e.acks for e in events] == [1, 1, 1, 1]
