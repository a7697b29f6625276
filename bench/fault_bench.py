"""Faults on the real services, with exact counts: each scenario runs real worker
and connector processes on private topics and index, one alert rule on a local
receiver, injects its fault mid-stream, waits for the stream to settle and
prints one row of one table.

    .venv/bin/python -m bench.fault_bench [--articles 1200] [--only kill-worker ...]

`vigie services up` first, from this checkout: two scenarios stop and restart
the engine and Kafka it started (nothing else may use them meanwhile).

Columns: articles produced (by the bench or served in feeds for the connector);
indexed once; documents beyond one per article (duplicates); lost (neither
indexed nor dead-lettered); dead letters on the DLQ topic; alerts expected
(articles matching the rule), delivered in exactly one call, delivered in more
than one call (the same Idempotency-Key each time: at least once), and missing;
worker processes that exited on their own (a dependency failure must not stop
one).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
from kafka import KafkaConsumer, KafkaProducer

from bench.index_bench import bench_article
from bench.soak_bench import Texts
from pipeline.search.clients import connect
from pipeline.search.engine import SearchEngine, SearchEngineError
from services import local as services
from vigie.article import Article
from vigie.settings import Settings, free_port, private_environment, private_prefix, settings_for

VIGIE = str(Path(sys.executable).parent / "vigie")
KEYWORD = "Baltique"
MATCH_EVERY = 5  # every fifth article mentions the rule's keyword
RATE = 40.0  # articles per second, produced or revealed in the feeds
PARTITIONS = 4
SETTLE_SECONDS = 240  # after the last article: enough for a restart and a backlog


@dataclass
class Row:
    scenario: str
    produced: int = 0
    indexed_once: int = 0
    duplicates: int = 0
    lost: int = 0
    dead_letters: int = 0
    alerts_expected: int = 0
    alerts_once: int = 0
    alerts_resent: int = 0
    alerts_missing: int = 0
    exited: int = 0
    note: str = ""


class Receiver:
    """A webhook receiver on 127.0.0.1 that counts the calls bringing each article
    and notes when the first one came (time.monotonic)."""

    def __init__(self) -> None:
        self.calls: defaultdict[str, list[str]] = defaultdict(list)  # url -> keys
        self.first: dict[str, float] = {}  # url -> first call
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    body = json.loads(raw)
                except ValueError:
                    # A sender killed in the middle of its call: nothing was delivered.
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                key = self.headers.get("Idempotency-Key", "")
                now = time.monotonic()
                with receiver.lock:
                    for alert in body.get("alerts", []):
                        receiver.calls[alert["article"]["url"]].append(key)
                        receiver.first.setdefault(alert["article"]["url"], now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> int:
        with self.lock:
            return len(self.calls)

    def close(self) -> None:
        self.server.shutdown()


class Feeds:
    """Feeds served on 127.0.0.1 whose entries appear over time, RATE a second over
    all feeds, so that a connector polls a stream, as it would the web."""

    def __init__(self, count: int, total: int, texts: Texts, tag: str) -> None:
        self.count, self.total, self.started = count, total, time.monotonic()
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                feed = int(self.path.strip("/").split(".")[0])
                body = feeds.rss(feed, texts, tag).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, n: int) -> str:
        return f"{self.base}/article/{n}"

    def revealed(self) -> int:
        return min(self.total, int((time.monotonic() - self.started) * RATE))

    def rss(self, feed: int, texts: Texts, tag: str) -> str:
        items = []
        shown = [n for n in range(feed, self.revealed(), self.count)][-60:]
        for n in reversed(shown):
            title = f"{KEYWORD} {tag} {n}" if n % MATCH_EVERY == 0 else f"Article {tag} {n}"
            date = format_datetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n))
            items.append(
                f"<item><title>{escape(title)}</title><link>{self.url(n)}</link>"
                f"<guid>{self.url(n)}</guid><pubDate>{date}</pubDate>"
                f"<description>{escape(texts.body(n))}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><link>{self.base}/</link>{''.join(items)}"
            "</channel></rss>"
        )

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Run:
    """One scenario's private stack on the shared services."""

    name: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)  # article urls
    matching: set[str] = field(default_factory=set)
    poison: int = 0
    connector: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.env = {
            **private_environment("faults"),
            "VIGIE_TOPIC_PARTITIONS": str(PARTITIONS),
            "VIGIE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "VIGIE_API_TOKEN": secrets.token_urlsafe(24),
            "VIGIE_LOG_LEVEL": "WARNING",
        }
        self.settings: Settings = settings_for(self.env)
        self.receiver = Receiver()
        self.engine: SearchEngine = connect(self.settings)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{self.name}-{len(self.processes)}-{args[0]}.log").open("wb")
        env = {**os.environ, **self.env}
        if args[0] == "worker" and any(p.poll() is None for p in self.processes):
            env["VIGIE_WEB_PORT"] = str(free_port())  # the first one's is taken
        process = subprocess.Popen([VIGIE, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        if args[0] == "connector":
            self.connector = process
        return process

    def create_rule(self) -> None:
        create_rule(self.settings.web_port, self.env["VIGIE_API_TOKEN"], self.receiver.url)

    def indexed(self) -> Counter[str]:
        """Documents per article url."""
        try:
            self.engine.refresh(self.settings.index_articles)
            found = self.engine.search(
                self.settings.index_articles,
                {"size": 10_000, "_source": ["url"], "query": {"match_all": {}}},
            )
        except SearchEngineError:
            return Counter()
        return Counter(str(hit.source.get("url")) for hit in found.hits)

    def dead_letters(self) -> list[dict[str, Any]]:
        consumer = KafkaConsumer(
            self.settings.topic_dlq,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            consumer_timeout_ms=2000,
        )
        letters = [json.loads(m.value) for m in consumer]
        consumer.close()
        return letters

    def settled(self) -> bool:
        docs = self.indexed()
        return self.expected <= set(
            docs
        ) | self._dead_lettered_urls() and self.receiver.delivered() >= len(
            self.matching & set(docs)
        )

    def _dead_lettered_urls(self) -> set[str]:
        urls = set()
        for letter in self.dead_letters():
            try:
                urls.add(json.loads(letter["payload"])["url"])
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
        return urls

    def wait_settled(self, timeout: float = SETTLE_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not self.settled() and time.monotonic() < deadline:
            time.sleep(2)
        time.sleep(5)  # anything doubled shows up now

    def row(self, note: str = "") -> Row:
        docs = self.indexed()
        letters = self.dead_letters()
        lettered = self._dead_lettered_urls()
        calls = dict(self.receiver.calls)
        once = sum(1 for u in self.matching if len(calls.get(u, [])) == 1)
        resent = sum(1 for u in self.matching if len(calls.get(u, [])) > 1)
        if any(len(set(keys)) > 1 for keys in calls.values()):
            note = (note + "; " if note else "") + "an alert came with two keys"
        return Row(
            self.name,
            produced=len(self.expected) + self.poison,
            indexed_once=sum(1 for u in self.expected if docs.get(u) == 1),
            duplicates=sum(n - 1 for n in docs.values() if n > 1),
            lost=len(self.expected - set(docs) - lettered),
            dead_letters=len(letters),
            alerts_expected=len(self.matching),
            alerts_once=once,
            alerts_resent=resent,
            alerts_missing=len(self.matching) - once - resent,
            exited=sum(1 for p in self.processes if p.poll() not in (None, -signal.SIGKILL)),
            note=note,
        )

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.receiver.close()
        with suppress(SearchEngineError):
            self.engine.delete_prefixed(private_prefix(self.settings))
        self.engine.close()


def create_rule(web_port: int, token: str, hook: str) -> None:
    """The rule on KEYWORD, through the rules API of the worker on `web_port` (which
    answers once the worker has started), calling `hook`."""
    rule = {
        "id": "baltique",
        "query": {"text": KEYWORD},
        "destinations": [{"url": hook}],
        "suppress_duplicates": False,
    }
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{web_port}/rules"

    def created() -> bool | None:
        try:
            answer = httpx.post(url, json=rule, headers=headers, timeout=5)
        except httpx.HTTPError:
            return None
        return answer.status_code == 201 or None

    wait("the rules API", created, 180)


def wait(what: str, probe: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)
    return value


class Stream:
    """Articles produced into news.raw at RATE a second from a thread."""

    def __init__(self, run: Run, total: int, texts: Texts) -> None:
        self.run, self.total, self.texts = run, total, texts
        self.sent = 0
        self.thread = threading.Thread(target=self._produce, daemon=True)

    def article(self, n: int) -> Article:
        title = f"{KEYWORD} {n}" if n % MATCH_EVERY == 0 else f"Article {n}"
        url = f"https://faults.example/{self.run.name}/{n}"
        return bench_article(url, title, self.texts.body(n), "faults")

    def _produce(self) -> None:
        producer = KafkaProducer(
            bootstrap_servers=self.run.settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=20,
            max_block_ms=120_000,
        )
        started = time.monotonic()
        for n in range(self.total):
            article = self.article(n)
            self.run.expected.add(article.url or "")
            if n % MATCH_EVERY == 0:
                self.run.matching.add(article.url or "")
            producer.send(
                self.run.settings.topic_raw,
                key=article.id.encode(),
                value=article.model_dump_json().encode(),
            )
            self.sent = n + 1
            ahead = started + (n + 1) / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        producer.flush()
        producer.close()

    def start(self) -> None:
        self.thread.start()

    def done(self) -> None:
        self.thread.join()


def search_service() -> services.Service:
    return next(s for s in services.local_services(Settings()) if "search" in s.name)


def kafka_service() -> services.Service:
    return next(s for s in services.local_services(Settings()) if "kafka" in s.name)


@contextmanager
def down(service: services.Service, seconds: float) -> Iterator[None]:
    stopped = services.stop(service)
    if stopped != f"{service.name}: stopped":
        raise SystemExit(
            f"could not stop {service.name} ({stopped}): run `vigie services up` from this "
            "checkout first"
        )
    try:
        time.sleep(seconds)
        yield
    finally:
        print(f"  {services.start(service)}", flush=True)


def until_indexed(run: Run, count: int) -> None:
    wait(f"{count} articles indexed", lambda: sum(run.indexed().values()) >= count or None, 300)


def worker_scenario(
    name: str,
    logs: Path,
    total: int,
    texts: Texts,
    fault: Callable[[Run, Stream], str],
    workers: int = 1,
) -> Row:
    run = Run(name, logs)
    try:
        for _ in range(workers):
            run.start("worker")
        run.create_rule()
        stream = Stream(run, total, texts)
        stream.start()
        until_indexed(run, total // 3)
        note = fault(run, stream)
        stream.done()
        run.wait_settled()
        return run.row(note)
    finally:
        run.close()


def kill_worker(run: Run, _: Stream) -> str:
    run.processes[0].send_signal(signal.SIGKILL)
    run.processes[0].wait()
    run.start("worker")
    return "SIGKILL at 1/3, a new worker started"


def engine_down(run: Run, _: Stream) -> str:
    with down(search_service(), 60):
        pass
    return "engine stopped 60 s at 1/3, alerts pending"


def one_of_two(run: Run, _: Stream) -> str:
    run.processes[0].send_signal(signal.SIGKILL)
    run.processes[0].wait()
    return "two workers, one SIGKILLed at 1/3, not restarted"


def connector_scenario(
    name: str, logs: Path, total: int, texts: Texts, fault: Callable[[Run, Feeds], str]
) -> Row:
    run = Run(name, logs)
    feeds = Feeds(20, total, texts, name)
    feeds_file = logs / f"{name}-feeds.yaml"
    feeds_file.write_text(
        "feeds:\n"
        + "".join(
            f"  - id: f{k}\n    url: {feeds.base}/{k}.xml\n    language: fr\n"
            "    allow_private: true\n"
            for k in range(feeds.count)
        )
    )
    run.env.update(
        {
            "VIGIE_FEEDS_FILE": str(feeds_file),
            "VIGIE_FETCH_HOST_INTERVAL_SECONDS": "0",
            "VIGIE_POLL_MIN_SECONDS": "0.5",
            "VIGIE_POLL_MAX_SECONDS": "1",
        }
    )
    run.expected = {feeds.url(n) for n in range(total)}
    run.matching = {feeds.url(n) for n in range(0, total, MATCH_EVERY)}
    try:
        run.start("worker")
        run.create_rule()
        feeds.started = time.monotonic()
        run.start("connector", "run")
        until_indexed(run, total // 3)
        note = fault(run, feeds)
        wait("every entry served", lambda: feeds.revealed() >= total or None, 600)
        run.wait_settled()
        return run.row(note)
    finally:
        run.close()
        feeds.close()


def kafka_down(run: Run, _: Feeds) -> str:
    with down(kafka_service(), 30):
        pass
    return "Kafka stopped 30 s at 1/3 (connector and worker running)"


def kill_connector(run: Run, _: Feeds) -> str:
    for _kill in range(3):
        assert run.connector is not None
        run.connector.send_signal(signal.SIGKILL)
        run.connector.wait()
        run.start("connector", "run")
        time.sleep(4)
    return "connector SIGKILLed 3 times mid-poll, restarted each time"


def poison(logs: Path, total: int, texts: Texts) -> Row:
    """Good articles with messages no stage can read among them: each of those must
    reach the DLQ exactly once, the rest must not notice."""
    run = Run("poison-messages", logs)
    deep = b'{"id":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bad = [b"not json at all", b'{"id": 3, "url": []}', b'{"title": "\xff\xfe"}', deep]
    try:
        run.start("worker")
        run.create_rule()
        stream = Stream(run, total, texts)
        producer = KafkaProducer(bootstrap_servers=run.settings.kafka_bootstrap_servers)
        for n in range(total):
            article = stream.article(n)
            run.expected.add(article.url or "")
            if n % MATCH_EVERY == 0:
                run.matching.add(article.url or "")
            producer.send(run.settings.topic_raw, value=article.model_dump_json().encode())
            if n % (total // len(bad)) == 0 and n // (total // len(bad)) < len(bad):
                producer.send(run.settings.topic_raw, value=bad[n // (total // len(bad))])
        producer.flush()
        producer.close()
        run.poison = len(bad)
        run.wait_settled()
        letters = Counter(letter.get("stage") for letter in run.dead_letters())
        return run.row(f"{len(bad)} poison messages; dead letters by stage {dict(letters)}")
    finally:
        run.close()


def oversized(logs: Path, total: int, texts: Texts) -> Row:
    """A 900 KB title (3,700+ entities once enriched): indexed cut, or a dead letter."""
    run = Run("oversized-article", logs)
    try:
        run.start("worker")
        run.create_rule()
        stream = Stream(run, total, texts)
        huge = stream.article(0)
        names = " ".join(f"{KEYWORD} Paris Moscou Séoul Emmanuel Macron {n}" for n in range(20_000))
        huge = huge.model_copy(update={"title": names[:900_000]})
        producer = KafkaProducer(
            bootstrap_servers=run.settings.kafka_bootstrap_servers, max_request_size=2_000_000
        )
        run.expected.add(huge.url or "")
        run.matching.add(huge.url or "")
        producer.send(run.settings.topic_raw, value=huge.model_dump_json().encode())
        for n in range(1, total):
            article = stream.article(n)
            run.expected.add(article.url or "")
            if n % MATCH_EVERY == 0:
                run.matching.add(article.url or "")
            producer.send(run.settings.topic_raw, value=article.model_dump_json().encode())
        producer.flush()
        producer.close()
        run.wait_settled()
        docs = run.indexed()
        fate = "indexed" if docs.get(huge.url or "") else "dead-lettered or lost"
        return run.row(f"900 KB title: {fate}")
    finally:
        run.close()


SCENARIOS: dict[str, Callable[[Path, int, Texts], Row]] = {
    "kill-worker": lambda logs, n, t: worker_scenario("kill-9-worker", logs, n, t, kill_worker),
    "two-workers": lambda logs, n, t: worker_scenario(
        "two-workers-one-killed", logs, n, t, one_of_two, workers=2
    ),
    "kill-connector": lambda logs, n, t: connector_scenario(
        "kill-9-connector", logs, n, t, kill_connector
    ),
    "poison": poison,
    "oversized": oversized,
    "engine-down": lambda logs, n, t: worker_scenario("engine-down-60s", logs, n, t, engine_down),
    "kafka-down": lambda logs, n, t: connector_scenario("kafka-down-30s", logs, n, t, kafka_down),
}


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | produced | indexed once | duplicates | lost | DLQ | alerts expected "
        "| once | resent (same key) | missing | processes exited | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.produced} | {r.indexed_once} | {r.duplicates} | {r.lost} "
            f"| {r.dead_letters} | {r.alerts_expected} | {r.alerts_once} | {r.alerts_resent} "
            f"| {r.alerts_missing} | {r.exited} | {r.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1200)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="vigie-faults-"))
    texts = Texts()
    rows = []
    print(f"Faults: {args.articles} articles a scenario at {RATE:g}/s; logs in {logs}", flush=True)
    for name in args.only or list(SCENARIOS):
        started = time.monotonic()
        rows.append(SCENARIOS[name](logs, args.articles, texts))
        print(f"{json.dumps(rows[-1].__dict__)} ({time.monotonic() - started:.0f} s)", flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
