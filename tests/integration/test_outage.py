"""The search engine goes down mid-stream: nothing is lost, nothing is doubled.

This stops and restarts the shared local engine, so it lives in its own module,
which runs after the others in this folder. It runs once per adapter: with the
Elasticsearch client, the shim in front of the stopped engine answers nothing, as
a stopped Elasticsearch would (test_engine_errors.py checks that)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from pipeline.alerts.delivery import AlertMessage
from pipeline.alerts.rules import parse_rule
from pipeline.search.clients import connect
from services import local as services
from tests.conftest import make_article
from tests.integration.conftest import Stack, indexed, wait_for
from vigie.settings import Settings

pytestmark = pytest.mark.both_adapters


@pytest.fixture
def search_service() -> Iterator[services.Service]:
    service = next(s for s in services.local_services(Settings()) if "search" in s.name)
    yield service
    services.start(service)  # whatever happened, leave it up for what follows


def _retries(stack: Stack) -> float:
    for line in httpx.get(stack.url("/metrics"), timeout=5).text.splitlines():
        if line.startswith("vigie_index_retries_total "):
            return float(line.split()[1])
    return 0.0


def test_engine_outage_loses_nothing_and_doubles_nothing(
    stack: Stack, search_service: services.Service
) -> None:
    alias = stack.settings.index_articles
    before = [
        make_article(f"https://before.example/{n}", "Avant", f"Article {n}.", language="fr")
        for n in range(5)
    ]
    during = [
        make_article(f"https://during.example/{n}", "Pendant", f"Article {n}.", language="fr")
        for n in range(10)
    ]
    topic = stack.settings.topic_enriched

    worker = stack.start_worker()
    stack.produce(topic, [a.model_dump_json().encode() for a in before])
    engine = connect(stack.settings)
    try:
        wait_for(
            "the first articles",
            lambda: len(indexed(engine, alias, {"match_all": {}})) == 5 or None,
        )
    finally:
        engine.close()

    stopped = services.stop(search_service)
    if stopped != f"{search_service.name}: stopped":
        pytest.fail(
            f"could not stop the search engine ({stopped}): this test stops and restarts "
            "the engine this checkout's `vigie services up` started; one started from "
            "another checkout cannot be. Stop that one and run the tests again.",
            pytrace=False,
        )
    stack.produce(topic, [a.model_dump_json().encode() for a in during])
    try:
        wait_for("the worker to retry", lambda: _retries(stack) > 0 or None, timeout=60)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; the worker's log ends:\n{stack.worker_log(0)[-6000:]}"
        ) from exc
    assert worker.poll() is None, "the worker must wait for the engine, not stop"

    # Stopped while the engine is down: its batch must not have been committed.
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, stack.worker_log(0)

    services.start(search_service)
    again = stack.start_worker()
    engine = connect(stack.settings)
    try:
        wait_for(
            "every article after the outage",
            lambda: len(indexed(engine, alias, {"match_all": {}})) >= 15 or None,
            timeout=120,
        )
        time.sleep(2)  # anything doubled would show up now
        hits = indexed(engine, alias, {"match_all": {}})
        total = engine.search(alias, {"query": {"match_all": {}}, "size": 0}).total
    finally:
        engine.close()
    assert sorted(hit.id for hit in hits) == sorted(a.id for a in before + during)
    assert total == 15
    assert again.poll() is None


class _Hook(BaseHTTPRequestHandler):
    keys: ClassVar[list[str]] = []

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).keys.append(self.headers.get("Idempotency-Key", ""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_engine_outage_with_alerts_pending_delivers_each_once_without_a_restart(
    stack: Stack, search_service: services.Service
) -> None:
    """The rule lookup used to raise out of the deliver agent: Faust gave up after a
    few restarts and the whole worker exited, enrichment and indexing with it."""
    _Hook.keys.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rule = {
        "id": "baltique",
        "query": {"text": "Baltique"},
        "destinations": [{"url": f"http://127.0.0.1:{server.server_address[1]}/hook"}],
        "suppress_duplicates": False,
    }
    articles = [
        make_article(f"https://baltique.example/{n}", f"Baltique {n}", f"Mer Baltique {n}.")
        for n in range(8)
    ]
    alerts = [AlertMessage.of(parse_rule(rule), a).model_dump_json().encode() for a in articles]
    worker = stack.start_worker()
    try:
        stack.create_rule(rule, timeout=90)
        stack.produce(stack.settings.topic_alerts, alerts[:3])  # (keyed "test": one partition)
        wait_for("three deliveries", lambda: len(_Hook.keys) >= 3 or None)
        if services.stop(search_service) != f"{search_service.name}: stopped":
            pytest.fail("could not stop the search engine (started from another checkout?)")
        stack.produce(stack.settings.topic_alerts, alerts[3:])
        time.sleep(15)  # alerts wait for their rule; the worker must not give up
        assert worker.poll() is None, stack.worker_log(0)[-3000:]
        services.start(search_service)
        wait_for("every alert", lambda: len(_Hook.keys) >= 8 or None, timeout=120)
        time.sleep(3)  # anything sent twice would show up now
        assert sorted(_Hook.keys) == sorted(json.loads(a)["alert_id"] for a in alerts)
        assert worker.poll() is None, "the worker was never restarted"
    finally:
        server.shutdown()
        services.start(search_service)
