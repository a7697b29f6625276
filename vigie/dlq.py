"""Reading news.dlq back, and replaying its letters after a fix: each letter's
original bytes go to their original topic, under the same key (so to the same
partition, in the order they are replayed).

Reads are bounded: the end offsets are taken when reading starts, and reading
stops there, whatever is dead-lettered meanwhile (a replay that fails again
does not loop). Nothing is committed: listing changes nothing, and replaying
twice sends twice, which the pipeline takes (an article's id is its document
id; an alert fires once per rule and article). `since` bounds what is replayed.
The letter format is vigie/deadletter.py's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from vigie.settings import Settings

# A letter is written before it is sent, so its record's timestamp is later than
# its `failed_at`; this margin covers brokers that stamp records themselves
# (LogAppendTime) with a clock of their own.
_CLOCK_MARGIN = timedelta(hours=1)
# Give up on a broker that stops answering in the middle of a read.
_IDLE_SECONDS = 30.0


class DlqError(RuntimeError):
    """Kafka did not answer, or the topic does not exist; the message says which."""


@dataclass(frozen=True)
class Letter:
    """One record of the DLQ: where it sits there, and what it says."""

    partition: int  # on the DLQ
    offset: int
    key: bytes | None
    record: dict[str, Any]  # the letter as written (vigie/deadletter.py)
    payload: bytes | None  # the original bytes, decoded
    problem: str | None  # why it cannot be replayed; None when it can

    @property
    def stage(self) -> str | None:
        return _text(self.record.get("stage"))

    @property
    def topic(self) -> str | None:
        """The topic the original message came from, and goes back to."""
        return _text(self.record.get("topic"))

    @property
    def failed_at(self) -> datetime | None:
        value = self.record.get("failed_at")
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else None

    def summary(self) -> dict[str, Any]:
        """The letter as `vigie dlq list --json` prints it: as written, with where
        it sits on the DLQ and whether it can be replayed."""
        return {
            "dlq_partition": self.partition,
            "dlq_offset": self.offset,
            **self.record,
            "replayable": self.problem is None,
            "skip_reason": self.problem,
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_letter(partition: int, offset: int, key: bytes | None, value: bytes | None) -> Letter:
    """A DLQ record as a Letter; one that is not a dead letter is still listed,
    with the reason it cannot be replayed."""
    try:
        record = json.loads(value or b"")
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return Letter(partition, offset, key, {}, None, "not a dead letter (not a JSON object)")
    payload, problem = _payload(record)
    if problem is None and not record.get("topic"):
        problem = "no original topic"
    return Letter(partition, offset, key, record, payload, problem)


def _payload(record: dict[str, Any]) -> tuple[bytes | None, str | None]:
    payload = record.get("payload")
    if payload is None:
        # The connector's letters for articles Kafka refused (too large) keep
        # only the article's id and size: there is nothing to send again.
        return None, "no payload: the original bytes were not kept"
    if not isinstance(payload, str):
        return None, "payload is not a string"
    encoding = record.get("payload_encoding", "utf-8")
    if encoding == "utf-8":
        return payload.encode("utf-8"), None
    if encoding == "base64":
        try:
            return base64.b64decode(payload, validate=True), None
        except (binascii.Error, ValueError):
            return None, "payload is not valid base64"
    return None, f"unknown payload_encoding {encoding!r}"


def read_letters(
    settings: Settings, *, stage: str | None = None, since: datetime | None = None
) -> Iterator[Letter]:
    """The letters on the DLQ (`settings.topic_dlq`) up to its end when the read
    starts, partition by partition in offset order; only those of `stage`, and
    failed at or after `since`, when given."""
    topic = settings.topic_dlq
    try:
        consumer = KafkaConsumer(
            **settings.kafka_options(),
            group_id=None,  # no group, no commits: reading changes nothing
            enable_auto_commit=False,
            request_timeout_ms=15000,
        )
    except KafkaError as exc:
        raise DlqError(f"kafka at {settings.kafka_bootstrap_servers}: {exc!r}") from exc
    try:
        yield from _read(consumer, topic, stage, since)
    except KafkaError as exc:
        raise DlqError(f"kafka: reading {topic}: {exc!r}") from exc
    finally:
        consumer.close()


def _read(
    consumer: KafkaConsumer, topic: str, stage: str | None, since: datetime | None
) -> Iterator[Letter]:
    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        raise DlqError(f"no topic {topic} on Kafka")
    partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
    consumer.assign(partitions)
    end = consumer.end_offsets(partitions)
    start = consumer.beginning_offsets(partitions)
    if since is not None:
        stamp = int((since - _CLOCK_MARGIN).timestamp() * 1000)
        found = consumer.offsets_for_times(dict.fromkeys(partitions, stamp))
        # Nothing stamped that late on a partition: nothing on it failed since.
        start = {tp: found[tp].offset if found[tp] else end[tp] for tp in partitions}
    for tp in partitions:
        consumer.seek(tp, start[tp])
    pending = {tp for tp in partitions if start[tp] < end[tp]}
    last_progress = time.monotonic()
    while pending:
        batches = consumer.poll(timeout_ms=1000)
        if batches:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > _IDLE_SECONDS:
            raise DlqError(f"kafka stopped answering while reading {topic}")
        for tp, records in batches.items():
            for record in records:
                if record.offset >= end[tp]:
                    break
                letter = parse_letter(tp.partition, record.offset, record.key, record.value)
                if _wanted(letter, stage, since):
                    yield letter
        for tp in list(pending):
            if consumer.position(tp) >= end[tp]:
                pending.discard(tp)
                consumer.pause(tp)


def _wanted(letter: Letter, stage: str | None, since: datetime | None) -> bool:
    if stage is not None and letter.stage != stage:
        return False
    if since is not None:
        failed_at = letter.failed_at
        return failed_at is not None and failed_at >= since
    return True


@dataclass
class Replay:
    """What a replay did with each letter."""

    sent: list[Letter]
    skipped: list[Letter]  # with their `problem`
    failed: list[tuple[Letter, str]]  # Kafka did not take them


def replay(settings: Settings, letters: Iterable[Letter]) -> Replay:
    """Send each replayable letter's original bytes to its original topic, under
    its key, and wait for Kafka to acknowledge them all (acks=all)."""
    result = Replay([], [], [])
    try:
        producer = KafkaProducer(
            **settings.kafka_options(), acks="all", retries=5, max_block_ms=10000
        )
    except KafkaError as exc:
        raise DlqError(f"kafka at {settings.kafka_bootstrap_servers}: {exc!r}") from exc
    pending = []
    try:
        for letter in letters:
            if letter.problem is None and letter.topic == settings.topic_dlq:
                letter = _unreplayable(letter, "its topic is the dead-letter topic itself")
            if letter.problem is not None or letter.topic is None:
                result.skipped.append(letter)
                continue
            try:
                pending.append(
                    (letter, producer.send(letter.topic, key=letter.key, value=letter.payload))
                )
            except KafkaError as exc:
                result.failed.append((letter, repr(exc)))
        with contextlib.suppress(KafkaError):  # the futures below say what failed
            producer.flush(timeout=30)
        for letter, future in pending:
            try:
                future.get(timeout=0)
            except KafkaError as exc:
                result.failed.append((letter, repr(exc)))
            else:
                result.sent.append(letter)
    finally:
        producer.close()
    return result


def _unreplayable(letter: Letter, problem: str) -> Letter:
    return Letter(letter.partition, letter.offset, letter.key, letter.record, None, problem)
