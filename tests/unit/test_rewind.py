"""The shape of a partition Faust can never commit past again (pipeline/stream/rewind.py)."""

from __future__ import annotations

from faust.types import TP

from pipeline.stream.rewind import stuck_heads

RAW, OTHER = TP("news.raw", 0), TP("news.raw", 1)


def test_acked_offsets_that_start_after_the_committed_one_with_nothing_in_flight_are_stuck() -> (
    None
):
    assert stuck_heads({RAW: 1154}, {RAW: [1178, 1179, 1180]}, []) == {RAW: 1154}


def test_an_offset_in_between_still_being_processed_is_no_hole() -> None:
    # a batch waiting for the engine holds offsets past the committed one
    assert stuck_heads({RAW: 1154}, {RAW: [1178]}, [(RAW, 1160)]) == {}
    # in flight on another partition, or outside the hole, does not count
    assert stuck_heads({RAW: 1154}, {RAW: [1178]}, [(OTHER, 1160), (RAW, 1200)]) == {RAW: 1154}


def test_acks_that_follow_the_committed_offset_or_none_yet_are_no_hole() -> None:
    assert stuck_heads({RAW: 1154}, {RAW: [1154, 1155]}, []) == {}
    assert stuck_heads({RAW: 1154}, {RAW: []}, []) == {}
    # a partition never committed is rewound to its beginning instead
    assert stuck_heads({RAW: None}, {RAW: [7]}, []) == {}
    assert stuck_heads({}, {RAW: [7]}, []) == {}
