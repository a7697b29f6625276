"""Create Vigie's Kafka topics if they are missing, so every path sees the same topics."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from vigie.settings import Settings


class TopicsUnavailable(RuntimeError):
    """Kafka did not answer, or refused to create the topics; the message says which."""


def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics (with VIGIE_TOPIC_REPLICATION_FACTOR copies of each
    partition); return the names it created."""
    wanted = [
        settings.topic_raw,
        settings.topic_enriched,
        settings.topic_dlq,
        settings.topic_alerts,
    ]
    try:
        admin = KafkaAdminClient(**settings.kafka_options(), request_timeout_ms=10000)
    except KafkaError as exc:
        raise TopicsUnavailable(
            f"kafka at {settings.kafka_bootstrap_servers}: {exc or type(exc).__name__}"
        ) from exc
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            # Another process may win the race to create them: fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=settings.topic_partitions,
                            replication_factor=settings.topic_replication_factor,
                        )
                        for name in missing
                    ]
                )
        return missing
    except KafkaError as exc:
        raise TopicsUnavailable(f"kafka: cannot create topics {wanted}: {exc}") from exc
    finally:
        admin.close()
