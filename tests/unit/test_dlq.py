"""Dead letters read back (vigie/dlq.py): what can be replayed, and why not. The
reads and replays themselves run on the real Kafka in tests/integration/test_dlq.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import typer

from commands.dlq import _since
from vigie.deadletter import dead_letter
from vigie.dlq import parse_letter


def test_a_worker_letter_gives_back_the_original_bytes() -> None:
    value = dead_letter(stage="enrich", reason="bad", payload=b'{"a": 1}', topic="news.raw")
    letter = parse_letter(2, 41, b"k", value)
    assert (letter.payload, letter.problem, letter.topic, letter.stage) == (
        b'{"a": 1}',
        None,
        "news.raw",
        "enrich",
    )
    assert letter.failed_at is not None
    summary = letter.summary()
    assert (summary["dlq_partition"], summary["dlq_offset"]) == (2, 41)
    assert (summary["replayable"], summary["skip_reason"]) == (True, None)


def test_bytes_that_are_not_utf8_come_back_byte_for_byte() -> None:
    original = b"\x00\xff\xfe\x80"
    value = dead_letter(stage="index", reason="x", payload=original, topic="news.enriched")
    assert json.loads(value)["payload_encoding"] == "base64"
    assert parse_letter(0, 0, None, value).payload == original


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"stage": "connector", "topic": "news.raw", "payload": None}, "no payload"),
        ({"stage": "enrich", "payload": "{}", "payload_encoding": "utf-8"}, "no original topic"),
        (
            {"topic": "t", "payload": "***", "payload_encoding": "base64"},
            "payload is not valid base64",
        ),
        ({"topic": "t", "payload": "x", "payload_encoding": "rot13"}, "unknown payload_encoding"),
        ({"topic": "t", "payload": 12}, "payload is not a string"),
    ],
)
def test_what_cannot_be_replayed_says_why(record: dict[str, object], problem: str) -> None:
    letter = parse_letter(0, 0, None, json.dumps(record).encode())
    assert letter.problem is not None
    assert letter.problem.startswith(problem)
    assert letter.summary()["replayable"] is False


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", b"", None])
def test_a_record_that_is_not_a_letter_is_listed_not_replayed(value: bytes | None) -> None:
    letter = parse_letter(0, 5, None, value)
    assert letter.problem == "not a dead letter (not a JSON object)"
    assert (letter.stage, letter.topic, letter.failed_at) == (None, None, None)


def test_base64_payloads_round_trip() -> None:
    record = {"topic": "t", "payload": base64.b64encode(b"\x01\x02").decode()}
    record["payload_encoding"] = "base64"
    assert parse_letter(0, 0, None, json.dumps(record).encode()).payload == b"\x01\x02"


def test_since_takes_an_iso_date_or_an_age() -> None:
    assert _since("2025-02-09") == datetime(2025, 2, 9, tzinfo=UTC)
    assert _since("2025-02-09T10:00+01:00") == datetime(2025, 2, 9, 9, tzinfo=UTC)
    two_hours = _since("2h")
    assert two_hours is not None
    assert abs(datetime.now(UTC) - timedelta(hours=2) - two_hours) < timedelta(minutes=1)
    assert _since(None) is None
    with pytest.raises(typer.BadParameter, match="neither an ISO date"):
        _since("yesterday")
