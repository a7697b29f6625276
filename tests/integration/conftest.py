"""Integration tests run against the real Kafka and search engine that
`vigie services up` starts (the README's test command does). A missing service
fails every test here with the reason; nothing is skipped.

A test marked `both_adapters` (module-wide, with `opensearch_only` exceptions)
runs once per search adapter: the `opensearch-py` client on the engine, and the
`elasticsearch` client on the same engine through tests/esshim.py. The others
run with the local default, OpenSearch."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.search.clients import connect
from pipeline.search.engine import SearchEngine, SearchEngineError
from services import local as services
from tests.esshim import ElasticsearchShim
from vigie.settings import Settings, private_environment, private_prefix, settings_for

VIGIE = str(Path(sys.executable).parent / "vigie")
T = TypeVar("T")


@pytest.fixture(scope="session", autouse=True)
def real_services() -> None:
    problems = [
        f"{service.name}: {why}"
        for service in services.local_services(Settings())
        if (why := service.answers()) is not None
    ]
    if problems:
        pytest.fail(
            "integration tests need the real services; start them with `vigie services up` "
            "(the README's test command does):\n  " + "\n  ".join(problems),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def es_shim() -> Iterator[ElasticsearchShim]:
    shim = ElasticsearchShim(Settings().elasticsearch_url).start()
    yield shim
    shim.stop()


@dataclass(frozen=True)
class Adapter:
    """Which client a test and its `vigie` processes use, and where it reaches the engine."""

    name: Literal["opensearch", "elasticsearch"]
    url: str

    @property
    def env(self) -> dict[str, str]:
        return {"VIGIE_SEARCH_ENGINE": self.name, "ELASTICSEARCH_URL": self.url}

    def settings(self, **fields: Any) -> Settings:
        settings = Settings(search_engine=self.name, elasticsearch_url=self.url, **fields)
        if private_prefix(settings).startswith("test-"):
            _USED_PREFIXES.add(private_prefix(settings))
        return settings


# The private names tests gave settings: what is left of them (indices, and the
# templates setup made) is deleted when the session ends.
_USED_PREFIXES: set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def _delete_what_tests_left() -> Iterator[None]:
    yield
    engine = connect(Settings())
    with suppress(SearchEngineError):
        for prefix in sorted(_USED_PREFIXES):
            engine.delete_prefixed(prefix)
    engine.close()


ADAPTERS = ("opensearch", "elasticsearch")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Module scope, so a module's shared stack is made once per adapter and its
    # tests run in order for one adapter, then for the other.
    if "adapter" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_adapters") is not None
        only = metafunc.definition.get_closest_marker("opensearch_only") is not None
        names = ADAPTERS if both and not only else ADAPTERS[:1]
        metafunc.parametrize("adapter", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def adapter(request: pytest.FixtureRequest) -> Adapter:
    if request.param == "elasticsearch":
        shim: ElasticsearchShim = request.getfixturevalue("es_shim")
        return Adapter("elasticsearch", shim.url)
    return Adapter("opensearch", Settings().elasticsearch_url)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


@dataclass
class Stack:
    """Per-test topic, index and consumer-group names on the shared real services."""

    settings: Settings
    env: dict[str, str]
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, logs: Path, adapter: Adapter) -> Stack:
        env = {
            **private_environment("test"),
            "VIGIE_TOPIC_PARTITIONS": "2",
            # Webhook receivers in these tests run on 127.0.0.1: opted in.
            "VIGIE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "VIGIE_API_TOKEN": secrets.token_urlsafe(24),
            **adapter.env,
        }
        return cls(settings=settings_for(env), env=env, logs=logs)

    def run(
        self, *args: str, timeout: float = 120.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VIGIE, *args],
            env={**os.environ, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_worker(self, *args: str) -> subprocess.Popen[bytes]:
        return self.start("worker", *args)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A long-lived `vigie` process (worker, connector), stopped with the stack;
        its log is worker-<n>.log."""
        log = (self.logs / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [VIGIE, *args],
            env={**os.environ, **self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def worker_log(self, n: int = 0) -> str:
        return (self.logs / f"worker-{n}.log").read_text(errors="replace")

    def create_rule(self, rule: dict[str, Any], timeout: float = 120.0) -> None:
        """Through the worker's rules API, once it answers."""
        token = {"Authorization": f"Bearer {self.env['VIGIE_API_TOKEN']}"}

        def created() -> bool | None:
            try:
                answer = httpx.post(self.url("/rules"), json=rule, headers=token, timeout=5)
            except httpx.HTTPError:
                return None
            return answer.status_code == 201 or None

        wait_for("the rules API", created, timeout=timeout)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}{path}"

    def produce(self, topic: str, values: list[bytes], keys: list[bytes] | None = None) -> None:
        """`values` on `topic`, all with the key `test` (one partition) unless `keys`
        gives each its own."""
        producer = KafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, acks="all"
        )
        for key, value in zip(keys or [b"test"] * len(values), values, strict=True):
            producer.send(topic, key=key, value=value)
        producer.flush()
        producer.close()

    def consume(self, topic: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            consumer_timeout_ms=1000,
        )
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            found.extend(json.loads(message.value) for message in consumer)
        consumer.close()
        return found

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()

    def close(self) -> None:
        self.stop_workers()
        # Straight to the engine (an Elasticsearch shim may be gone by now).
        engine = connect(Settings())
        with suppress(SearchEngineError):
            engine.delete_prefixed(private_prefix(self.settings))
        engine.close()


@pytest.fixture
def stack(tmp_path: Path, adapter: Adapter) -> Iterator[Stack]:
    s = Stack.create(tmp_path, adapter)
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory, adapter: Adapter) -> Iterator[Stack]:
    s = Stack.create(tmp_path_factory.mktemp("stack"), adapter)
    yield s
    s.close()


@pytest.fixture
def engine(shared_stack: Stack) -> Iterator[SearchEngine]:
    e = connect(shared_stack.settings)
    yield e
    e.close()


def indexed(engine: SearchEngine, index: str, query: dict[str, Any]) -> list[Any]:
    try:
        engine.refresh(index)
        return engine.search(index, {"query": query, "size": 100}).hits
    except Exception:  # the index appears with the first article
        return []


def worker_health(stack: Stack) -> dict[str, Any] | None:
    try:
        response = httpx.get(stack.url("/health"), timeout=2.0)
    except httpx.HTTPError:
        return None
    return dict(response.json()) if response.status_code == 200 else None
