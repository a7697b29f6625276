"""Soak: a real worker fed distinct ~3 KB articles (a share of them near-copies)
on its own topics and index (`vigie services up` first). Every `--every`
articles indexed it prints the worker's RSS, the near-duplicate table's size,
the changelog records written per article and those Kafka still keeps, then
kills the worker with SIGKILL, starts it again and prints how long it took to
index again.

    .venv/bin/python -m bench.soak_bench [--articles 50000] [--every 10000] [--window-hours 0.01]

`--code DIR` runs the worker from another tree, e.g. the code before the window:

    git archive 06dd848 | tar -x -C /tmp/vigie-before
    .venv/bin/python -m bench.soak_bench --code /tmp/vigie-before --articles 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.index_bench import _seed_body, bench_article
from pipeline.search.clients import connect
from pipeline.search.engine import SearchEngine, SearchEngineError
from vigie.article import Article, article_id
from vigie.settings import Settings, private_environment, private_prefix, settings_for

REPO = Path(__file__).resolve().parents[1]
# Articles produced ahead of those indexed: enough that the worker never waits,
# few enough that a checkpoint is measured close to its count.
AHEAD = 2_000
# Every RECENT_EVERY-th article copies the one RECENT_GAP before it (well within the
# window); every OLD_EVERY-th copies the one OLD_GAP before it (far older than a
# window of 0.01 h at the few hundred articles a second a worker does here). The
# gaps are odd, the periods even: what is copied is never a copy itself.
RECENT_EVERY, RECENT_GAP = 20, 101
OLD_EVERY, OLD_GAP = 50, 25_001


class Texts:
    """Distinct article bodies of about 3 KB: sentences of words drawn from the
    reference article's vocabulary (two bodies share next to no word 3-shingles),
    and the near-copies an outlet makes of one."""

    def __init__(self) -> None:
        self._words = sorted(set(re.findall(r"[^\W\d_]{3,}", _seed_body())))

    def body(self, n: int) -> str:
        """Article n's own body, the same every time."""
        rng, sentences, size = random.Random(n * 7919 + 1), [], 0
        while size < 3_000:
            words = rng.choices(self._words, k=rng.randint(8, 22))
            sentence = " ".join(words).capitalize() + "."
            sentences.append(sentence)
            size += len(sentence) + 1
        return " ".join(sentences)

    def near_copy(self, n: int, outlet: int) -> str:
        """What an outlet does to wire copy: its credit line, a word changed."""
        words = self.body(n).split()
        rng = random.Random(outlet)
        words[rng.randrange(10, len(words) - 10)] = "notamment"
        return f"({['AFP', 'Reuters', 'Belga'][outlet % 3]}) " + " ".join(words)


@dataclass
class Copies:
    recent: list[tuple[str, str]]  # (copy id, first id)
    old: list[tuple[str, str]]


def articles(texts: Texts, tag: str, copies: Copies) -> Iterator[Article]:
    def make(n: int, body: str) -> Article:
        return bench_article(f"https://soak.example/{tag}/{n}", f"Article {n}", body, "soak")

    def first_id(n: int) -> str:
        return article_id(f"https://soak.example/{tag}/{n}")

    n = 0
    while True:
        if n >= OLD_GAP and n % OLD_EVERY == 0:
            article = make(n, texts.near_copy(n - OLD_GAP, n))
            copies.old.append((article.id, first_id(n - OLD_GAP)))
        elif n >= RECENT_GAP and n % RECENT_EVERY == 0:
            article = make(n, texts.near_copy(n - RECENT_GAP, n))
            copies.recent.append((article.id, first_id(n - RECENT_GAP)))
        else:
            article = make(n, texts.body(n))
        yield article
        n += 1


class Worker:
    """`vigie worker` from a source tree, in its own process."""

    def __init__(self, code: Path, env: dict[str, str], prefix: str = "vigie-soak-worker-") -> None:
        self._code, self._env = code, env
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=prefix, suffix=".log", delete=False
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return Path(self._log.name)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from commands.main import main; main()", "worker"],
            cwd=self._code,
            env={**os.environ, **self._env, "PYTHONPATH": str(self._code)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def check(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise SystemExit(f"the worker stopped; see {self._log.name}")

    def rss_mb(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kb = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(kb.group(1)) / 1024 if kb else float("nan")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def metric(settings: Settings, name: str) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def indexed(engine: SearchEngine, settings: Settings) -> int:
    body = {"size": 0, "track_total_hits": True, "query": {"match_all": {}}}
    try:
        return engine.search(settings.index_articles, body).total
    except SearchEngineError:
        return 0


def linked(
    engine: SearchEngine, settings: Settings, pairs: list[tuple[str, str]]
) -> tuple[int, int]:
    """(copies indexed, of which linked to their first copy)."""
    found = same = 0
    for i in range(0, len(pairs), 500):
        chunk = dict(pairs[i : i + 500])
        body: dict[str, Any] = {
            "size": len(chunk),
            "query": {"ids": {"values": list(chunk)}},
            "_source": ["duplicate_of"],
        }
        for hit in engine.search(settings.index_articles, body).hits:
            found += 1
            same += hit.source.get("duplicate_of") == chunk[hit.id]
    return found, same


def changelog(settings: Settings) -> tuple[int, int, int]:
    """(records written, records Kafka keeps, live keys) of the duplicates table's
    changelog: the last two are what a restarting worker replays and holds."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    try:
        topic = f"{settings.app_id}-duplicates-changelog"
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        kept, live = 0, {}
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000, max_records=50_000).values():
                for record in records:
                    kept += 1
                    live[record.key] = record.value is not None
        return sum(ends.values()), kept, sum(live.values())
    finally:
        consumer.close()


@dataclass
class Row:
    indexed: int
    per_second: float  # articles indexed per second since the last checkpoint
    rss_mb: float
    state_keys: float | None
    written: int
    kept: int
    live: int
    recent: tuple[int, int]
    old: tuple[int, int]
    restart_s: float | None = None
    rss_after_restart: float | None = None
    # Articles the restarted worker enriched again: those whose offsets the killed
    # one had not committed yet (each may write its record again if it has expired).
    replayed: int | None = None


def wait_ready(worker: Worker, settings: Settings, started: float, deadline: float) -> float:
    """Seconds from `started` until the (re)started worker has indexed an article."""
    while (metric(settings, "vigie_articles_indexed_total") or 0) < 1:
        worker.check()
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not index anything in time")
        time.sleep(0.2)
    return time.monotonic() - started


def replayed(
    worker: Worker,
    engine: SearchEngine,
    settings: Settings,
    before: int,
    produce_ahead: Callable[[int], None],
) -> int:
    """Articles a restarted worker enriched that were indexed before it started,
    counted once it has indexed 1,000 new ones (give or take a bulk request)."""
    while (new := indexed(engine, settings) - before) < 1_000:
        worker.check()
        produce_ahead(before + new)
        time.sleep(0.5)
    return int(metric(settings, "vigie_articles_enriched_total") or 0) - new


def soak(code: Path, total: int, every: int, window_hours: float, restart: bool) -> list[Row]:
    env = {
        **private_environment("soak"),
        "VIGIE_LOG_LEVEL": "WARNING",
        "VIGIE_DUPLICATES_WINDOW_HOURS": str(window_hours),
    }
    settings = settings_for(env)
    # After a SIGKILL the group waits for the dead member's session to time out
    # before it assigns the partitions again: Faust's default is 60 s, the same for
    # any state; 10 s leaves the part that grows with the state visible.
    worker = Worker(code, {**env, "BROKER_SESSION_TIMEOUT": "10"})
    engine = connect(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=20
    )
    copies = Copies([], [])
    stream = articles(Texts(), uuid.uuid4().hex[:8], copies)
    rows: list[Row] = []
    produced = 0

    def produce_ahead(done: int) -> None:
        nonlocal produced
        while produced < done + AHEAD:
            article = next(stream)
            value = article.model_dump_json().encode()
            producer.send(settings.topic_raw, key=article.id.encode(), value=value)
            produced += 1
        producer.flush()

    try:
        started = time.monotonic()
        worker.start()
        produce_ahead(0)
        first = wait_ready(worker, settings, started, started + 300)
        print(f"first start (empty state): {first:.1f} s to the first article indexed", flush=True)
        checkpoint, since, last = every, time.monotonic(), 0
        while checkpoint <= total:
            worker.check()
            done = indexed(engine, settings)
            produce_ahead(done)
            if done < checkpoint:
                time.sleep(0.5)
                continue
            row = Row(
                done,
                (done - last) / (time.monotonic() - since),
                worker.rss_mb(),
                metric(settings, "vigie_duplicates_state_keys"),
                *changelog(settings),
                linked(engine, settings, copies.recent),
                linked(engine, settings, copies.old),
            )
            if restart:
                worker.kill()
                restarted, before = time.monotonic(), indexed(engine, settings)
                worker.start()
                row.restart_s = wait_ready(worker, settings, restarted, restarted + 1800)
                row.rss_after_restart = worker.rss_mb()
                row.replayed = replayed(worker, engine, settings, before, produce_ahead)
            rows.append(row)
            print(json.dumps(row.__dict__), flush=True)
            checkpoint += every
            since, last = time.monotonic(), indexed(engine, settings)
        return rows
    finally:
        producer.close()
        worker.stop()
        engine.delete_prefixed(private_prefix(settings))
        engine.close()


def table(rows: list[Row]) -> str:
    lines = [
        "| articles indexed | articles/s | RSS MB | table keys | changelog writes / article "
        "| changelog records kept | restart s (RSS MB after) | enriched again after it "
        "| near-copies linked: recent, older than the window |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        keys = (
            f"{r.state_keys:,.0f}"
            if r.state_keys is not None
            else f"{r.live:,} (from the changelog)"
        )
        restart = (
            f"{r.restart_s:.1f} ({r.rss_after_restart:.0f})" if r.restart_s is not None else "-"
        )
        lines.append(
            f"| {r.indexed:,} | {r.per_second:.0f} | {r.rss_mb:.0f} | {keys} "
            f"| {r.written / r.indexed:.2f} "
            f"| {r.kept:,} | {restart} | {'-' if r.replayed is None else f'{r.replayed:,}'} "
            f"| {r.recent[1]}/{r.recent[0]}, {r.old[1]}/{r.old[0]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--window-hours", type=float, default=0.01)
    parser.add_argument("--code", type=Path, default=REPO, help="the source tree to run")
    parser.add_argument("--no-restart", action="store_true", help="measure without SIGKILLs")
    args = parser.parse_args()
    print(
        f"Soak: {args.articles:,} articles through a real worker from {args.code}, "
        f"near-duplicate window {args.window_hours:g} h; every {RECENT_EVERY}th article "
        f"copies one {RECENT_GAP} before, every {OLD_EVERY}th one {OLD_GAP:,} before",
        flush=True,
    )
    rows = soak(args.code, args.articles, args.every, args.window_hours, not args.no_restart)
    print(table(rows))


if __name__ == "__main__":
    main()
