"""Two workers share the stream under load; one is killed with SIGKILL (no goodbye
to the group). The survivor takes its partitions: every article indexed once,
every alert delivered, each with one Idempotency-Key."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from kafka import KafkaProducer

from pipeline.search.clients import connect
from tests.conftest import make_article
from tests.integration.conftest import Stack, wait_for
from vigie.settings import free_port

ARTICLES = 240
RATE = 40.0  # a second


class _Hook(BaseHTTPRequestHandler):
    calls: ClassVar[defaultdict[str, list[str]]] = defaultdict(list)  # url -> keys

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for alert in body["alerts"]:
            type(self).calls[alert["article"]["url"]].append(self.headers["Idempotency-Key"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _indexed(stack: Stack) -> dict[str, int]:
    engine = connect(stack.settings)
    try:
        engine.refresh(stack.settings.index_articles)
        hits = engine.search(
            stack.settings.index_articles,
            {"size": 1000, "_source": ["url"], "query": {"match_all": {}}},
        ).hits
    except Exception:  # the index appears with the first article
        return {}
    finally:
        engine.close()
    counts: dict[str, int] = defaultdict(int)
    for hit in hits:
        counts[str(hit.source["url"])] += 1
    return counts


def test_one_of_two_workers_killed_under_load_loses_and_doubles_nothing(stack: Stack) -> None:
    _Hook.calls.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    first = stack.start_worker()
    second = stack.start("worker", env={"VIGIE_WEB_PORT": str(free_port())})
    rule: dict[str, Any] = {
        "id": "baltique",
        "query": {"text": "Baltique"},
        "destinations": [{"url": f"http://127.0.0.1:{server.server_address[1]}/hook"}],
        "suppress_duplicates": False,
    }
    try:
        stack.create_rule(rule)
        articles = [
            make_article(
                f"https://failover.example/{n}",
                f"Baltique {n}" if n % 4 == 0 else f"Article {n}",
                f"Texte numéro {n} sur la mer et les ports, assez long pour un article.",
            )
            for n in range(ARTICLES)
        ]
        producer = KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap_servers)
        started = time.monotonic()
        for n, article in enumerate(articles):
            producer.send(
                stack.settings.topic_raw,
                key=article.id.encode(),  # spread over the partitions
                value=article.model_dump_json().encode(),
            )
            if n == ARTICLES // 3:
                producer.flush()
                wait_for("a third indexed", lambda: sum(_indexed(stack).values()) >= 40 or None)
                first.send_signal(signal.SIGKILL)
                started = time.monotonic() - n / RATE
            time.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
        producer.flush()
        producer.close()

        urls = {str(a.url) for a in articles}
        matching = {str(a.url) for n, a in enumerate(articles) if n % 4 == 0}
        try:
            wait_for(
                "every article and alert after the kill",
                lambda: (set(_indexed(stack)) >= urls and set(_Hook.calls) >= matching) or None,
                timeout=180,
            )
        except AssertionError as timeout:
            missing = sorted(urls - set(_indexed(stack)))
            unsent = sorted(matching - set(_Hook.calls))
            raise AssertionError(
                f"{timeout}: {len(missing)} not indexed {missing[:5]}, "
                f"{len(unsent)} alerts not sent {unsent[:5]}; the survivor's log ends with:\n"
                + stack.worker_log(1)[-6000:]
            ) from None
        time.sleep(3)  # anything doubled shows up now
        indexed = _indexed(stack)
        assert sorted(indexed) == sorted(urls)
        assert set(indexed.values()) == {1}, "one document per article"
        assert set(_Hook.calls) == matching
        # at least once: the killed worker's last calls may come again, never with a new key
        assert all(len(set(keys)) == 1 for keys in _Hook.calls.values()), dict(_Hook.calls)
        assert second.poll() is None, stack.worker_log(1)[-3000:]
    finally:
        server.shutdown()
