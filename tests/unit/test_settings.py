from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from vigie.settings import Settings, environment_names


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vigie.yaml"
    config.write_text("topic_raw: from.yaml\nindex_articles: from-yaml\n")
    monkeypatch.setenv("VIGIE_CONFIG", str(config))
    monkeypatch.setenv("VIGIE_INDEX_ARTICLES", "from-env")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.example:9092")
    s = Settings()
    assert s.topic_raw == "from.yaml"
    assert s.index_articles == "from-env"
    assert s.kafka_bootstrap_servers == "broker.example:9092"


def test_unknown_yaml_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vigie.yaml"
    config.write_text("topic_rwa: typo\n")
    monkeypatch.setenv("VIGIE_CONFIG", str(config))
    with pytest.raises(ValueError, match="topic_rwa"):
        Settings()


def test_environment_names() -> None:
    names = environment_names()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "ELASTICSEARCH_URL", "VIGIE_SEARCH_ENGINE"} <= names
    assert "VIGIE_KAFKA_BOOTSTRAP_SERVERS" not in names


def test_docker_compose_parses_and_uses_only_setting_names() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "elasticsearch", "kibana", "worker", "connector"} <= set(services)
    assert services["elasticsearch"]["image"].split(":")[-1].startswith("8.")
    assert services["kibana"]["image"].split(":")[-1].startswith("8.")
    known = environment_names()
    for name in ("worker", "connector", "setup"):
        env = services[name]["environment"]
        assert env, name
        assert set(env) <= known, f"{name} sets {set(env) - known}, which no setting reads"
        assert env["VIGIE_SEARCH_ENGINE"] == "elasticsearch"
        Settings.model_validate({k.lower().removeprefix("vigie_"): v for k, v in env.items()})


def test_kafka_security_reaches_every_client() -> None:
    import faust

    from pipeline.stream.app import _credentials

    plain = Settings()
    assert plain.kafka_options()["security_protocol"] == "PLAINTEXT"
    assert "sasl_plain_password" not in plain.kafka_options()
    assert _credentials(plain) is None

    secured = Settings(
        kafka_bootstrap_servers="k1:9093,k2:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="vigie",
        kafka_sasl_password="pw",
    )
    options = secured.kafka_options()
    assert options["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "vigie")
    assert options["sasl_plain_password"] == "pw"
    credentials = _credentials(secured)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.ssl_context is not None
    assert "pw" not in repr(secured)  # a SecretStr


def test_a_bad_webhook_network_is_refused_at_start() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="webhook_allow_networks"):
        Settings(webhook_allow_networks="10.0.0.0/8, not-a-network")
