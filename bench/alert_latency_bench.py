"""Time from an article on news.raw to the webhook call, through a real worker
and a real local receiver, at a steady rate (p50, p99). `vigie services up` first.

    .venv/bin/python -m bench.alert_latency_bench [--rate 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from kafka import KafkaProducer

from bench.index_bench import _articles, _seed_body, send_paced, start_worker
from pipeline.search.clients import connect


class _Receiver(BaseHTTPRequestHandler):
    seen: ClassVar[dict[str, float]] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for alert in body["alerts"]:
            type(self).seen.setdefault(alert["article"]["id"], time.monotonic())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="articles per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker, settings, log = start_worker()
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=0
    )
    api = f"http://127.0.0.1:{settings.web_port}/rules"
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    auth = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(api, headers=auth, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"worker did not start; see {log}")
            time.sleep(0.5)
        rule = {
            "id": "bench",
            "query": {"all_tags": ["country:KP"]},
            "destinations": [{"url": f"http://127.0.0.1:{server.server_address[1]}/hook"}],
            # the articles are copies of one text: they would be suppressed as such
            "suppress_duplicates": False,
        }
        httpx.post(api, json=rule, headers=auth, timeout=10).raise_for_status()
        body = _seed_body()
        articles = _articles(int(args.rate * args.seconds), body, settings.app_id)
        sent: dict[str, float] = {}
        send_paced(producer, settings.topic_raw, articles, args.rate, sent)
        deadline = time.monotonic() + 60
        while len(_Receiver.seen) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        latencies = sorted(_Receiver.seen[i] - sent[i] for i in sent if i in _Receiver.seen)
    finally:
        producer.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        server.shutdown()
        engine = connect(settings)
        for index in (
            f"{settings.index_articles}-*",
            settings.index_alert_rules,
            settings.index_deliveries,
        ):
            engine.delete_index(index)
        engine.close()
    print(
        f"news.raw -> webhook call, {args.rate:g} articles/s for {args.seconds:g} s, 1 rule "
        f"({len(latencies)} of {len(sent)} delivered; match batch wait 1 s)"
    )
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"  p50 {statistics.median(latencies):.2f} s   p99 {p99:.2f} s"
            f"   max {latencies[-1]:.2f} s"
        )


if __name__ == "__main__":
    main()
