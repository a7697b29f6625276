"""Deliver articles to `news.raw`: one JSON message each, keyed by article id."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from vigie.article import Article


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every article."""


def make_producer(bootstrap_servers: str) -> KafkaProducer:
    """acks=all with retries, batched and compressed. Raises KafkaError (e.g.
    NoBrokersAvailable) when no broker answers."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
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


def send_all(producer: KafkaProducer, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Send (key, value) messages and wait for every acknowledgement; raise
    DeliveryError if any was refused or could not be sent."""
    failures: list[str] = []
    futures = []
    for key, value in messages:
        try:
            futures.append(producer.send(topic, key=key, value=value))
        except KafkaError as exc:
            failures.append(str(exc) or type(exc).__name__)
            break
    try:
        producer.flush(timeout=30)
    except KafkaError as exc:
        failures.append(f"flush: {exc or type(exc).__name__}")
    for future in futures:
        if not future.is_done:
            failures.append("not acknowledged in time")
            continue
        try:
            future.get(timeout=0)
        except KafkaError as exc:
            failures.append(str(exc) or type(exc).__name__)
    if failures:
        raise DeliveryError(
            f"{len(failures)} of {len(futures)} messages not delivered: {failures[0]}"
        )
    return len(futures)


def produce(producer: KafkaProducer, topic: str, articles: Iterable[Article]) -> int:
    return send_all(
        producer, topic, ((a.id.encode(), a.model_dump_json().encode()) for a in articles)
    )
