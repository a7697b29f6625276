"""The connector's Prometheus metrics, in one place: the poller and the outbox relay
both count into them (README, "Health and metrics")."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter("vigie_connector_polls", "Feed polls by result", ["result"])
ENTRIES = Counter("vigie_connector_entries", "Entries accepted, new or updated", ["kind"])
ERRORS = Counter("vigie_connector_errors", "Errors by kind", ["kind"])
PRODUCED = Counter("vigie_connector_produced", "Articles acknowledged by Kafka")
LAST_SUCCESS = Gauge(
    "vigie_connector_feed_last_success_timestamp_seconds", "Last successful poll", ["feed"]
)
FAILURES = Gauge("vigie_connector_feed_failures", "Failed polls in a row", ["feed"])
UNHEALTHY = Gauge("vigie_connector_unhealthy_feeds", "Feeds failing for a while")
OUTBOX = Gauge("vigie_connector_outbox_articles", "Accepted articles not yet acknowledged")
STAGE = Histogram(
    "vigie_connector_stage_seconds", "Time per poll stage", ["stage"], buckets=(0.01, 0.1, 1, 10)
)
