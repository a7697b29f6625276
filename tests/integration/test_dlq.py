"""`vigie dlq list|replay` on the real Kafka: letters in the format the worker and
the connector write (vigie/deadletter.py), on a test's own topics."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.stream.topics import ensure_topics
from tests.integration.conftest import Stack
from vigie.deadletter import dead_letter
from vigie.dlq import read_letters

NOT_AN_ARTICLE = b'{"title": "no id, no source"}'
BINARY = b"\xff\xfe\x00 not UTF-8"
ALERT = b'{"rule_id": "r1", "article": {}}'


def _letters(stack: Stack) -> list[tuple[bytes | None, bytes]]:
    topics = stack.settings
    old = json.loads(
        dead_letter(stage="enrich", reason="old", payload=b"{}", topic=topics.topic_raw)
    )
    old["failed_at"] = "2020-01-01T00:00:00+00:00"
    return [
        (b"k-enrich", dead_letter(
            stage="enrich", reason="not a valid article", payload=NOT_AN_ARTICLE,
            topic=topics.topic_raw, partition=0, offset=7,
        )),
        (b"k-index", dead_letter(
            stage="index", reason="search engine refused it", payload=BINARY,
            topic=topics.topic_enriched, partition=1, offset=3,
        )),
        (b"article-1", dead_letter(
            stage="connector", reason="article article-1 (2000000 bytes) refused by Kafka",
            payload=None, topic=topics.topic_raw,
        )),
        (None, b"not a dead letter"),
        (b"r1", dead_letter(
            stage="deliver", reason="webhook https://hooks.example/...: 404", payload=ALERT,
            topic=topics.topic_alerts, partition=0, offset=0,
        )),
        (b"k-old", json.dumps(old).encode()),
    ]  # fmt: skip


def _produce(stack: Stack, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap_servers, acks="all")
    for key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def _read(stack: Stack, topic: str, count: int, timeout: float = 30.0) -> list[tuple[Any, bytes]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=stack.settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    found: list[tuple[Any, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        found.extend((message.key, message.value) for message in consumer)
    consumer.close()
    return found


@pytest.fixture
def dlq(stack: Stack) -> Stack:
    ensure_topics(stack.settings)
    _produce(stack, stack.settings.topic_dlq, _letters(stack))
    return stack


def test_list_shows_every_letter_and_which_can_be_replayed(dlq: Stack) -> None:
    listed = dlq.run("dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(letters) == 6
    by_stage = {letter.get("stage"): letter for letter in letters if letter.get("reason") != "old"}
    assert by_stage["enrich"]["payload"] == NOT_AN_ARTICLE.decode()
    assert by_stage["enrich"]["topic"] == dlq.settings.topic_raw
    assert (by_stage["enrich"]["partition"], by_stage["enrich"]["offset"]) == (0, 7)
    assert by_stage["index"]["payload_encoding"] == "base64"
    assert by_stage["connector"]["replayable"] is False
    assert by_stage["connector"]["skip_reason"] == "no payload: the original bytes were not kept"
    assert by_stage[None]["skip_reason"] == "not a dead letter (not a JSON object)"
    assert sum(letter["replayable"] for letter in letters) == 4
    assert len({(letter["dlq_partition"], letter["dlq_offset"]) for letter in letters}) == 6

    only = dlq.run("dlq", "list", "--stage", "index")
    assert only.returncode == 0, only.stderr
    assert "search engine refused it" in only.stdout
    assert "not a valid article" not in only.stdout
    assert only.stdout.strip().endswith("1 letters on " + dlq.settings.topic_dlq + ", 1 replayable")

    recent = dlq.run("dlq", "list", "--json", "--since", "2024-01-01")
    assert len(recent.stdout.splitlines()) == 4  # neither the 2020 letter nor the garbage


def test_replay_sends_the_original_bytes_to_their_topic_under_their_key(dlq: Stack) -> None:
    settings = dlq.settings
    first = dlq.run("dlq", "replay", "--stage", "enrich", "--since", "1h")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("1 sent, 0 skipped, 0 failed")
    assert _read(dlq, settings.topic_raw, 1) == [(b"k-enrich", NOT_AN_ARTICLE)]

    every = dlq.run("dlq", "replay")
    assert every.returncode == 0, every.stderr
    assert every.stdout.strip().endswith("4 sent, 2 skipped, 0 failed")
    assert "no payload: the original bytes were not kept" in every.stdout
    raw = _read(dlq, settings.topic_raw, 3)
    assert sorted(raw) == [(b"k-enrich", NOT_AN_ARTICLE)] * 2 + [(b"k-old", b"{}")]
    assert _read(dlq, settings.topic_enriched, 1) == [(b"k-index", BINARY)]  # byte for byte
    assert _read(dlq, settings.topic_alerts, 1) == [(b"r1", ALERT)]
    assert len(_read(dlq, settings.topic_dlq, 7, timeout=5)) == 6  # replay adds no letter


def test_a_read_stops_at_the_end_it_found_when_it_started(dlq: Stack) -> None:
    letters = read_letters(dlq.settings)
    first = next(letters)  # the end offsets are taken now
    _produce(dlq, dlq.settings.topic_dlq, _letters(dlq)[:2])
    rest = list(letters)
    assert len([first, *rest]) == 6
    assert len(list(read_letters(dlq.settings))) == 8  # a new read sees them


def test_a_missing_topic_is_a_clear_error(stack: Stack) -> None:
    listed = stack.run("dlq", "list", env={"VIGIE_TOPIC_DLQ": "test.no-such-topic.dlq"})
    assert listed.returncode == 1
    assert "no topic test.no-such-topic.dlq" in listed.stderr
