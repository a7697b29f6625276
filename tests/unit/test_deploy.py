"""docker-compose.yml and the Dockerfile, read as data (no Docker engine here): a
stack a user can `up` and keep. What is checked is what a first `up`, a `down` and
an `up` again depend on; that the images start is not tested here."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from vigie.settings import Settings, environment_names

VIGIE_SERVICES = ("setup", "worker", "connector")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    """Against the Compose specification's JSON schema (tests/data/compose_spec.json,
    as shipped in docker-compose 1.29.2's wheel, Apache-2.0): a misspelt key or a
    wrong type fails here, not at a user's first `docker compose up`."""
    import json

    import jsonschema

    schema = json.loads((REPO / "tests" / "data" / "compose_spec.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}"
        for e in jsonschema.Draft201909Validator(schema).iter_errors(compose)
    ]
    assert errors == []
    broken = {**compose, "services": {**compose["services"], "worker": {"restart": 3}}}
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(broken))  # it can fail


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of a service's volumes."""
    return {volume.split(":")[1]: volume.split(":")[0] for volume in service.get("volumes", [])}


def _bytes(limit: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mg])", limit).groups()  # type: ignore[union-attr]
    return int(number) * (2**30 if unit == "g" else 2**20)


def test_kafka_and_elasticsearch_keep_their_data_in_named_volumes(
    compose: dict[str, Any],
) -> None:
    services, volumes = compose["services"], set(compose["volumes"])
    kafka = services["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert _mounts(kafka)[log_dirs] in volumes
    # The data on the volume belongs to one cluster id: a fixed, valid one.
    cluster_id = kafka["environment"]["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert _mounts(services["elasticsearch"])["/usr/share/elasticsearch/data"] in volumes
    # The connector's state is in the Vigie home the image sets, on a volume too.
    home = re.search(r"VIGIE_HOME=(\S+)", (REPO / "Dockerfile").read_text())
    assert home is not None
    assert _mounts(services["connector"])[home.group(1)] in volumes


def test_kafka_has_a_listener_for_containers_and_one_for_the_host(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["kafka"]["environment"]
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["PLAINTEXT_HOST"] == "127.0.0.1:9092"
    assert "127.0.0.1:9092:9092" in compose["services"]["kafka"]["ports"]
    internal = advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert internal.startswith("kafka:")
    for name in VIGIE_SERVICES:
        assert compose["services"][name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == internal


def test_one_image_built_once_for_every_vigie_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["setup"]
    images = {services[name]["image"] for name in VIGIE_SERVICES}
    assert len(images) == 1
    for name in ("worker", "connector"):
        assert services[name]["pull_policy"] == "never"
        # `docker compose up worker` alone still builds the image, through setup.
        assert services[name]["depends_on"]["setup"] == {"condition": "service_started"}


def test_first_up_ends_with_the_dashboard(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "healthcheck" in services["kibana"]
    setup = services["setup"]
    script = " ".join(setup["entrypoint"])
    assert "vigie es setup" in script
    wait = re.search(r"vigie kibana import --wait (\d+)", script)
    assert wait is not None
    assert int(wait.group(1)) > 0
    assert setup["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}
    assert setup["environment"]["VIGIE_KIBANA_URL"] == "http://kibana:5601"


def test_restart_policies_memory_limits_and_loopback_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service["restart"] == ("no" if name == "setup" else "unless-stopped"), name
        assert "mem_limit" in service, name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"
    # What the README says the long-running services may take, they may take.
    long_running = sum(_bytes(s["mem_limit"]) for n, s in services.items() if n != "setup")
    stated = re.search(r"limits add up to (\d+) GB", (REPO / "README.md").read_text())
    assert stated is not None
    assert long_running == int(stated.group(1)) * 2**30


def test_the_worker_can_be_scaled_to_as_many_as_the_topics_have_partitions(
    compose: dict[str, Any],
) -> None:
    """`docker compose up --scale worker=N`: no fixed name, and a host port each."""
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    ((port,),) = [worker["ports"]]
    host, first_last, inside = port.rsplit(":", 2)
    first, _, last = first_last.partition("-")
    assert host == "127.0.0.1"
    assert inside == worker["environment"]["VIGIE_WEB_PORT"]
    assert int(last) - int(first) + 1 >= Settings().topic_partitions


def test_the_image_sets_only_setting_names() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    names = set(re.findall(r"\b(VIGIE_[A-Z_]+)=", dockerfile))
    assert {"VIGIE_HOME", "VIGIE_FEEDS_FILE", "VIGIE_LOG_FORMAT"} <= names
    assert names <= environment_names()
    # Installed as a wheel (package data), with the pinned versions.
    assert "--constraint /tmp/constraints.txt /tmp/wheels/*.whl" in dockerfile
    assert "pip install -e" not in dockerfile
