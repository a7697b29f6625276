"""Deliver articles to `news.raw`: one JSON message each, keyed by article id."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from vigie.article import Article


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every article."""


def make_producer(kafka: dict[str, Any]) -> KafkaProducer:
    """acks=all with retries, batched and compressed; `kafka` is the servers and
    their security (Settings.kafka_options). Raises KafkaError (e.g.
    NoBrokersAvailable) when no broker answers."""
    return KafkaProducer(
        **kafka,
        acks="all",
        retries=5,
        linger_ms=50,
        batch_size=256 * 1024,
        compression_type="gzip",
        request_timeout_ms=15000,
        # A send to a broker that is down fails after this instead of blocking the
        # caller for the default minute.
        max_block_ms=10000,
    )


@dataclass
class Sent:
    """What became of each message, by position: acknowledged, refused for good
    (too large, ...: sending it again cannot help) or failed for now."""

    acknowledged: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def send_each(producer: KafkaProducer, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> Sent:
    """Send (key, value) messages and wait for every acknowledgement."""
    sent = Sent()
    futures = []
    for position, (key, value) in enumerate(messages):
        try:
            futures.append((position, producer.send(topic, key=key, value=value)))
        except KafkaError as exc:
            _sort(sent, position, exc)
    # A flush that times out says nothing more than the futures below do.
    with contextlib.suppress(KafkaError):
        producer.flush(timeout=30)
    for position, future in futures:
        if not future.is_done:
            _sort(sent, position, KafkaTimeoutError("not acknowledged in time"))
            continue
        try:
            future.get(timeout=0)
        except KafkaError as exc:
            _sort(sent, position, exc)
        else:
            sent.acknowledged.append(position)
    return sent


def _sort(sent: Sent, position: int, exc: KafkaError) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    (sent.failed if exc.retriable else sent.refused).append((position, reason))


def produce(producer: KafkaProducer, topic: str, articles: Iterable[Article]) -> int:
    """Send articles; raise DeliveryError unless Kafka acknowledged every one."""
    listed = list(articles)
    sent = send_each(
        producer, topic, ((a.id.encode(), a.model_dump_json().encode()) for a in listed)
    )
    problems = sent.refused + sent.failed
    if problems:
        raise DeliveryError(
            f"{len(problems)} of {len(listed)} articles not delivered: {problems[0][1]}"
        )
    return len(sent.acknowledged)
