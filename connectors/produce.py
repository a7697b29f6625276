"""Deliver articles to `news.raw`: one JSON message each, keyed by article id."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from vigie.article import Article


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge every article."""


def make_producer(bootstrap_servers: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        acks="all",
        retries=5,
        linger_ms=20,
        compression_type="gzip",
        request_timeout_ms=15000,
    )


def produce(producer: KafkaProducer, topic: str, articles: Iterable[Article]) -> int:
    """Send and wait for every acknowledgement; raise if any was refused."""
    futures = [
        producer.send(topic, key=a.id.encode(), value=a.model_dump_json().encode())
        for a in articles
    ]
    producer.flush()
    failures = []
    for future in futures:
        try:
            future.get(timeout=30)
        except KafkaError as exc:
            failures.append(str(exc))
    if failures:
        raise DeliveryError(
            f"{len(failures)} of {len(futures)} articles not delivered: {failures[0]}"
        )
    return len(futures)
