"""Spike and silence rules on the real services: a burst of coverage fires one spike
alert and, once the window has passed, one resolved; a feed gone quiet is
reported and cleared by its next article; a worker restart in between fires
nothing twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from tests.conftest import make_article
from tests.integration.conftest import Stack, wait_for
from vigie.article import Article, Source

WINDOW = 30  # seconds: the spike's window, so that it ends within the test


class _Hook(BaseHTTPRequestHandler):
    signals: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for alert in body["alerts"]:
            type(self).signals.append(
                {**alert["signal"], "key_header": self.headers["Idempotency-Key"]}
            )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _article(n: int, feed: str, title: str, when: datetime) -> Article:
    return make_article(
        f"https://{feed}.example/{n}",
        title,
        f"{title}. Texte de l'article numéro {n}.",
        source=Source(feed_id=feed, language_hint="fr"),
        published_at=when,
        fetched_at=when,
    )


def _seen(*wanted: tuple[str, str]) -> Counter[tuple[str, str]] | None:
    seen = Counter((s["key"], s["status"]) for s in _Hook.signals)
    return seen if all(seen[w] for w in wanted) else None


def test_a_spike_and_a_silent_feed_fire_once_and_resolve_across_a_restart(stack: Stack) -> None:
    _Hook.signals.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    env = {"VIGIE_SIGNALS_CHECK_SECONDS": "2"}
    try:
        worker = stack.start("worker", env=env)
        now = datetime.now(UTC)
        quiet = [  # every 10 minutes, the last 70 minutes ago: silent past 30
            _article(n, "quiet", f"Conseil municipal {n}", now - timedelta(minutes=120 - 10 * n))
            for n in range(6)
        ]
        usual = [  # the usual coverage of the Baltic: two articles a day
            _article(10 + n, "busy", f"Mer Baltique {n}", now - timedelta(hours=20 - 10 * n))
            for n in range(2)
        ]
        stack.produce(
            stack.settings.topic_raw, [a.model_dump_json().encode() for a in quiet + usual]
        )
        for rule in (
            {
                "id": "baltique-spike",
                "kind": "spike",
                "query": {"text": "Baltique"},
                "window_seconds": WINDOW,
                "factor": 3,
                "min_articles": 5,
                "baseline_days": 1,
                "destinations": [{"url": hook}],
            },
            {
                "id": "feeds-silent",
                "kind": "silence",
                "watch": "feeds",
                "window_seconds": 600,
                "factor": 3,
                "baseline_days": 1,
                "destinations": [{"url": hook}],
            },
        ):
            stack.create_rule(rule)
        wait_for("the silent feed reported", lambda: _seen(("feed:quiet", "firing")), timeout=90)

        burst = [
            _article(20 + n, "busy", f"Câbles sectionnés en mer Baltique {n}", datetime.now(UTC))
            for n in range(6)
        ]
        stack.produce(stack.settings.topic_raw, [a.model_dump_json().encode() for a in burst])
        wait_for("the spike", lambda: _seen(("spike", "firing")), timeout=60)
        (spike,) = [s for s in _Hook.signals if s["key"] == "spike"]
        assert spike["count"] == 6
        assert spike["kind"] == "spike"
        assert {a["id"] for a in spike["articles"]} == {a.id for a in burst}

        worker.terminate()
        worker.wait(timeout=60)
        stack.start("worker", env=env)
        back = _article(30, "quiet", "Conseil municipal extraordinaire", datetime.now(UTC))
        stack.produce(stack.settings.topic_raw, [back.model_dump_json().encode()])
        wait_for(
            "the feed's silence cleared", lambda: _seen(("feed:quiet", "resolved")), timeout=90
        )
        wait_for("the spike resolved", lambda: _seen(("spike", "resolved")), timeout=WINDOW + 90)
        time.sleep(5)  # anything fired twice shows up now
        seen = Counter((s["key"], s["status"]) for s in _Hook.signals)
        assert seen == {
            ("feed:quiet", "firing"): 1,
            ("feed:quiet", "resolved"): 1,
            ("spike", "firing"): 1,
            ("spike", "resolved"): 1,
        }
        assert len({s["key_header"] for s in _Hook.signals}) == 4
    finally:
        server.shutdown()
