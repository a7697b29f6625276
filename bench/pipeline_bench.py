"""End to end under load: distinct ~3 KB articles cut from the real-world feeds
produced at a fixed rate into news.raw, through W real worker processes, the real
engine and a real webhook receiver, on private topics, index and group, one alert
rule (about 1 article in 5 matches). `vigie services up` first.

    .venv/bin/python -m bench.pipeline_bench [--rate 60] [--seconds 60] [--workers 1]
    .venv/bin/python -m bench.pipeline_bench --matrix 60x1,120x1,200x1,200x2
    .venv/bin/python -m bench.pipeline_bench --matrix 150x1p0,150x1p1
    .venv/bin/python -m bench.pipeline_bench --rate 150 --old ../old-checkout

Each configuration is RATExWORKERS, and pN to give the workers N enrichment
processes (VIGIE_ENRICH_PROCESSES; p0: the worker's own thread); without it, the
setting's default. With --old, each configuration runs first with the workers
of another checkout (its code, this bench), then with this one's.

Each configuration (RATExWORKERS) runs on fresh private topics and prints one row:

- achieved: articles made searchable per second between the moments 10 % and
  90 % of them were (the steady part: a worker that keeps up shows the produced
  rate, one that falls behind shows what it does, its backlog included);
- produce -> searchable and produce -> webhook p50/p95/p99, from Kafka's ack of
  the article to the poll that first finds it by id (ids of every probed article
  not found yet, 1,000 a query, one round after another: the resolution is a
  round, printed as "poll") or to the receiver's first call bringing it; one
  article in --probe-every (10) is probed, as polling for every article made the
  bench's searches a large share of the engine's work, growing with the backlog
  it measures; over every probed article (webhook: every alert), one not found
  when the drain cap (--drain) ran out counting as "-"; the drain waits for every
  article to be counted in the index, probed or not;
- consumer lag on the raw topic (end offsets minus the group's committed
  offsets, every LAG_EVERY s): max, and final once drained; the same for the
  enriched topic (index and match), where a backlog goes once enrich keeps up;
- CPU seconds and peak RSS of each worker, its enrichment processes included
  (from /proc), and of the bench itself, CPU counted from the first article
  produced to the end of the drain, the cores that makes over that time (a worker
  well under 1 is waiting, or starved) and the milliseconds per article;
- counts: indexed once, duplicates (documents beyond one per id), not found when
  the drain cap ran out; alerts in one call, in more than one, missing, and calls
  for articles without the keyword.

The machine's load average (at the start and end) and how busy its cores were
(/proc/stat, every process) are printed with each row: Kafka, the engine, the
workers, the bench and whatever else runs share them.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import resource
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from bench.fault_bench import KEYWORD, MATCH_EVERY, Receiver, create_rule, wait
from bench.index_bench import _found
from bench.soak_bench import REPO, Worker
from connectors.feed import FeedError, parse_feed, read_feed
from connectors.feedlist import FeedConfig
from pipeline.search.clients import connect
from pipeline.search.engine import SearchEngine, SearchEngineError
from services.local import local_services
from vigie.article import Article, Source, article_id
from vigie.settings import Settings, free_port, private_environment, private_prefix, settings_for

FEEDS = Path("/work/shared/realfeeds")
ARTICLE_BYTES = 3_000
# Passages are cut to at most this: an article is several passages of one
# language drawn at random, so that two articles share next to no text.
PASSAGE_CHARS = 700
# A language's passages must add up to a few articles at least, or its articles
# would all be near-copies of each other.
MIN_POOL_CHARS = 4 * ARTICLE_BYTES
PARTITIONS = 4
IDS_PER_QUERY = 1_000
POLL_PAUSE = 0.2  # seconds between two polling rounds: the engine has other work
LAG_EVERY = 3.0
WARM_ARTICLES = 8  # before the measure: a worker that has read every partition once
FINAL_LAG_WAIT = 20.0  # seconds after the drain for the last commits (Faust: 2.8 s)


class RealTexts:
    """Article text cut from real-world feeds read at run time (never copied into
    the repository): per language, passages of at most PASSAGE_CHARS, HTML as
    published (the worker cleans it), none mentioning the rule's keyword."""

    def __init__(self, folder: Path = FEEDS) -> None:
        languages = _manifest_languages(folder)
        pools: dict[str, list[str]] = {}
        titles: dict[str, list[str]] = {}
        for path in sorted(folder.glob("*.xml")):
            try:
                parsed = parse_feed(read_feed(str(path)), FeedConfig.at(str(path), "bench"))
            except FeedError:
                continue  # a capture with nothing recoverable
            language = languages.get(path.name, path.stem)
            for article in parsed.articles:
                text = article.body or article.summary
                if _mentions_keyword(text + article.title):
                    continue
                pools.setdefault(language, []).extend(_passages(text))
                if article.title:
                    titles.setdefault(language, []).append(article.title)
        self.pools = {
            lang: passages
            for lang, passages in pools.items()
            if sum(map(len, passages)) >= MIN_POOL_CHARS and titles.get(lang)
        }
        if not self.pools:
            raise SystemExit(f"no usable feed text in {folder}")
        self.titles = titles
        self._languages = sorted(self.pools)
        # As many articles of a language as it has text: English dominates, as in the feeds.
        self._weights = [sum(map(len, self.pools[lang])) for lang in self._languages]

    def article(self, tag: str, n: int, matching: bool) -> Article:
        """Article n of run `tag`, the same every time: ~3 KB of one language's
        passages, a sentence of its own, and the keyword when `matching`."""
        rng = random.Random(f"{tag}-{n}")
        language = rng.choices(self._languages, self._weights)[0]
        pool = self.pools[language]
        passages, size = [], 0
        for passage in rng.sample(pool, len(pool)):
            passages.append(passage)
            size += len(passage)
            if size >= ARTICLE_BYTES:
                break
        own = f"{KEYWORD} {tag}-{n}." if matching else f"Ref {tag}-{n}."
        title = rng.choice(self.titles[language])
        url = f"https://pipeline.example/{tag}/{n}"
        return Article(
            id=article_id(url),
            url=url,
            canonical_url=url,
            source=Source(feed_id="pipeline-bench", name="Pipeline bench"),
            title=f"{KEYWORD} : {title}" if matching else title,
            body="\n\n".join([*passages, own]),
            fetched_at=datetime.now(UTC),
        )


def _manifest_languages(folder: Path) -> dict[str, str]:
    """File name -> language, from the captures' MANIFEST.tsv when there is one."""
    manifest = folder / "MANIFEST.tsv"
    if not manifest.exists():
        return {}
    rows = [line.split("\t") for line in manifest.read_text(encoding="utf-8").splitlines()[1:]]
    return {row[0]: row[4] for row in rows if len(row) > 4}


def _mentions_keyword(text: str) -> bool:
    # "baltic" too: an English article on the Baltic would match the rule through
    # no stemmer, but keeps the expected set honest if an analyzer folds them.
    return bool(re.search(r"baltiq|baltic", text, re.IGNORECASE))


def _passages(text: str) -> Iterator[str]:
    """`text` in pieces of at most PASSAGE_CHARS, cut at white space."""
    piece: list[str] = []
    size = 0
    words = text.split()
    for word in words:
        if size + len(word) > PASSAGE_CHARS and piece:
            yield " ".join(piece)
            piece, size = [], 0
        piece.append(word)
        size += len(word) + 1
    if piece:
        yield " ".join(piece)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value at least q of them do not exceed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def process_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a live process and its live descendants
    (a worker's enrichment processes), from /proc; peak RSS is the sum of each
    one's peak."""
    cpu, peak = 0.0, 0.0
    for one in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue  # gone meanwhile
        # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
        cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        peak += int(found.group(1)) / 1024 if found else math.nan
    return cpu, peak


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        children = [child for child, parent in parents.items() if parent == todo[-1]]
        todo.pop()
        found += children
        todo += children
    return found


def services_cpu(settings: Settings) -> dict[str, float]:
    """CPU seconds of the local services (Kafka, the engine) that this checkout's
    `vigie services up` started; none for services run some other way."""
    found = {}
    for service in local_services(settings):
        with suppress(OSError, ValueError):
            found[service.name] = process_stats(int(service.pid_file.read_text().strip()))[0]
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def own_stats() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


@dataclass
class LagSample:
    at: float  # seconds since the first article was produced
    lag: int  # summed over the raw topic's partitions
    committed: dict[int, int]
    ends: dict[int, int]
    enriched: int = 0  # the enriched topic's lag, summed


class Background:
    """A loop (`_run`, until `_stop` is set) in a thread of its own."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class LagWatch(Background):
    """The group's lag on the raw topic, sampled from a thread."""

    def __init__(self, settings: Settings, started: float) -> None:
        self.settings, self.started = settings, started
        self.samples: list[LagSample] = []
        self.errors = 0
        super().__init__()

    def sample(self, admin: KafkaAdminClient, consumer: KafkaConsumer) -> LagSample:
        offsets = admin.list_consumer_group_offsets(self.settings.app_id)

        def positions(topic: str) -> tuple[dict[int, int], dict[int, int]]:
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
            ends = {tp.partition: int(end) for tp, end in consumer.end_offsets(partitions).items()}
            committed = {
                tp.partition: int(meta.offset)
                for tp, meta in offsets.items()
                if tp.topic == topic and meta.offset >= 0
            }
            return committed, ends

        committed, ends = positions(self.settings.topic_raw)
        # The enriched topic's offsets are committed once both index and match have
        # acked: its lag is the slower of the two stages'.
        done, written = positions(self.settings.topic_enriched)
        enriched = sum(end - done.get(p, 0) for p, end in written.items())
        lag = sum(end - committed.get(p, 0) for p, end in ends.items())
        return LagSample(time.monotonic() - self.started, lag, committed, ends, enriched)

    def _run(self) -> None:
        servers = self.settings.kafka_bootstrap_servers
        clients: tuple[KafkaAdminClient, KafkaConsumer] | None = None
        while not self._stop.is_set():
            try:
                if clients is None:
                    clients = (
                        KafkaAdminClient(bootstrap_servers=servers),
                        KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False),
                    )
                self.samples.append(self.sample(*clients))
            except Exception:  # Kafka stopped for a while: a gap in the series, new clients
                self.errors += 1
                clients = self._close(clients)
            self._stop.wait(LAG_EVERY)
        self._close(clients)

    @staticmethod
    def _close(clients: tuple[KafkaAdminClient, KafkaConsumer] | None) -> None:
        for client in clients or ():
            with suppress(Exception):
                client.close()

    def stalls(self, minimum: float = 15.0) -> list[str]:
        """Partitions whose committed offset stayed put for `minimum` s or more while
        messages waited behind it: what a commit that stops advancing looks like."""
        found = []
        for partition in sorted({p for s in self.samples for p in s.ends}):
            since: LagSample | None = None
            for sample in [*self.samples, None]:
                behind = sample is not None and sample.committed.get(
                    partition, 0
                ) < sample.ends.get(partition, 0)
                same = (
                    since is not None
                    and sample is not None
                    and sample.committed.get(partition) == since.committed.get(partition)
                )
                if behind and (since is None or not same):
                    since = sample
                elif since is not None and not (behind and same):
                    last = sample if sample is not None else self.samples[-1]
                    if last.at - since.at >= minimum:
                        found.append(
                            f"partition {partition}: committed {since.committed.get(partition)} "
                            f"from {since.at:.0f} s to {last.at:.0f} s "
                            f"(end {last.ends.get(partition)})"
                        )
                    since = sample if behind else None
        return found


class Searchable(Background):
    """Finds, from a thread, when each produced article first answers a search by
    its id: every id not found yet, IDS_PER_QUERY a query, oldest first, round
    after round. An article found in a round was searchable at most one round
    earlier: the round's length is the resolution."""

    def __init__(self, settings: Settings, acked: dict[str, float], probed: set[str]) -> None:
        self.settings, self.acked, self.probed = settings, acked, probed
        self.seen: dict[str, float] = {}
        self.rounds: list[float] = []
        super().__init__()

    def _run(self) -> None:
        engine = connect(self.settings)
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                waiting = sorted(
                    (i for i in list(self.acked) if i in self.probed and i not in self.seen),
                    key=self.acked.__getitem__,
                )
                for k in range(0, len(waiting), IDS_PER_QUERY):
                    asked = time.monotonic()
                    for found in _found(engine, self.settings, waiting[k : k + IDS_PER_QUERY]):
                        self.seen[found] = asked
                if waiting:
                    self.rounds.append(time.monotonic() - began)
                self._stop.wait(POLL_PAUSE)
        finally:
            engine.close()


@dataclass
class Result:
    code: str  # "old" or "" (this checkout)
    rate: float
    workers: int
    processes: int | None  # VIGIE_ENRICH_PROCESSES given to the workers (None: default)
    produced: int = 0
    probed: int = 0  # produced articles whose searchable time was polled for
    probe_every: int = 1
    produce_seconds: float = 0.0
    achieved: float = math.nan
    searchable: list[float] = field(default_factory=list)
    webhook: list[float] = field(default_factory=list)
    poll_round: float = math.nan
    lag_max: int = 0
    lag_final: int | None = None
    lag_series: list[tuple[float, int, int]] = field(default_factory=list)  # s, raw, enriched
    enriched_max: int = 0
    enriched_final: int | None = None
    lag_gaps: int = 0  # samples Kafka did not answer
    stalls: list[str] = field(default_factory=list)
    worker_cpu: list[float] = field(default_factory=list)
    measured_seconds: float = math.nan  # first article produced to the end of the drain
    machine_busy: float = math.nan  # share of all cores busy meanwhile, every process
    worker_rss: list[float] = field(default_factory=list)
    bench_cpu: float = 0.0
    bench_rss: float = 0.0
    services_cpu: dict[str, float] = field(default_factory=dict)
    indexed_once: int = 0
    duplicates: int = 0
    missing: int = 0
    alerts_expected: int = 0
    alerts_once: int = 0
    alerts_more: int = 0
    alerts_missing: int = 0
    alerts_unexpected: int = 0
    load: tuple[float, float] = (0.0, 0.0)
    exited: int = 0
    log_lines: list[str] = field(default_factory=list)


def _count_documents(engine: SearchEngine, settings: Settings, ids: list[str]) -> Counter[str]:
    """Documents per id across every index behind the alias."""
    engine.refresh(settings.index_articles)
    counts: Counter[str] = Counter()
    for k in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[k : k + IDS_PER_QUERY]
        body = {"query": {"ids": {"values": chunk}}, "size": 4 * len(chunk), "_source": False}
        counts.update(hit.id for hit in engine.search(settings.index_articles, body).hits)
    return counts


def _group_members(settings: Settings) -> int:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        (group,) = admin.describe_consumer_groups([settings.app_id])
        return len(group.members) if group.state == "Stable" else 0
    finally:
        admin.close()


def _delete_topics(settings: Settings) -> None:
    """The run's topics: its own four and the ones Faust made for its tables."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        prefix = settings.topic_raw.removesuffix(".raw")
        mine = [
            t
            for t in admin.list_topics()
            if t.startswith(f"{prefix}.") or t.startswith(f"{settings.app_id}-")
        ]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def _clean(engine: SearchEngine, settings: Settings, patience: float = 300) -> None:
    """The run's indices and topics, deleted; a service stopped for a while (a
    fault test on the same services) is waited for, `patience` s at most."""

    def deleted() -> bool | None:
        try:
            # Workers are stopped: nothing writes its stories index again.
            engine.delete_prefixed(private_prefix(settings))
            _delete_topics(settings)
        except (SearchEngineError, KafkaError):
            return None
        return True

    with suppress(SystemExit):
        wait("the services, to delete the run's indices and topics", deleted, patience)


def _log_problems(path: Path) -> list[str]:
    """The worker log's lines (it runs at WARNING): each kind once, the first of
    its kind, with how many there were."""
    # Faust hides and shows the terminal's cursor even into a file.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", path.read_text(errors="replace"))
    kinds: dict[str, tuple[str, int]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        # A timer's name and runtime vary: one kind per event up to its first digit.
        kind = re.sub(r"\d.*", "", line.split('"event": ', 1)[-1])[:80]
        first, count = kinds.get(kind, (line, 0))
        kinds[kind] = (first, count + 1)
    return [f"{count} x {first[:300]}" for first, count in kinds.values()]


def run(
    texts: RealTexts,
    rate: float,
    total: int,
    workers: int,
    processes: int | None,
    drain: float,
    probe_every: int,
    code: Path = REPO,
) -> Result:
    label = "old" if code != REPO else ""
    result = Result(label, rate, workers, processes, load=(os.getloadavg()[0], 0.0))
    result.probe_every = probe_every
    env = {
        **private_environment("pipeline"),
        **({"VIGIE_ENRICH_PROCESSES": str(processes)} if processes is not None else {}),
        "VIGIE_TOPIC_PARTITIONS": str(PARTITIONS),
        "VIGIE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "VIGIE_API_TOKEN": uuid.uuid4().hex,
        "VIGIE_LOG_LEVEL": "WARNING",
    }
    settings = settings_for(env)
    tag = settings.app_id.rsplit("-", 1)[1]
    receiver = Receiver()
    engine = connect(settings)
    # The worker runs this checkout's code, whatever the console script would.
    started_workers = [
        Worker(
            code, env if k == 0 else {**env, "VIGIE_WEB_PORT": str(free_port())}, "vigie-pipeline-"
        )
        for k in range(workers)
    ]
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=5,
        max_block_ms=120_000,
    )
    acked: dict[str, float] = {}
    failed: list[str] = []
    probed: set[str] = set()
    searchable = Searchable(settings, acked, probed)
    lags: LagWatch | None = None
    try:
        setup = time.monotonic()
        for worker in started_workers:
            worker.start()
        create_rule(settings.web_port, env["VIGIE_API_TOKEN"], receiver.url)
        print(f"  rule created: {time.monotonic() - setup:.0f} s", flush=True)
        wait(
            f"{workers} workers in the group",
            lambda: _group_members(settings) >= workers or None,
            180,
        )
        print(f"  {workers} in the group: {time.monotonic() - setup:.0f} s", flush=True)
        warm = [texts.article(f"{tag}warm", n, False) for n in range(WARM_ARTICLES)]
        for article in warm:
            producer.send(
                settings.topic_raw,
                key=article.id.encode(),
                value=article.model_dump_json().encode(),
            )
        producer.flush()
        wait(
            "the warm-up articles searchable",
            lambda: len(_found(engine, settings, [a.id for a in warm])) == len(warm) or None,
            180,
        )

        print(f"  warm-up articles searchable: {time.monotonic() - setup:.0f} s", flush=True)
        articles = [texts.article(tag, n, n % MATCH_EVERY == 0) for n in range(total)]
        matching = {a.url or "" for n, a in enumerate(articles) if n % MATCH_EVERY == 0}
        probed.update(a.id for n, a in enumerate(articles) if n % probe_every == 0)
        by_url = {a.url or "": a.id for a in articles}

        def on_ack(article_id: str) -> Any:
            return lambda _metadata: acked.__setitem__(article_id, time.monotonic())

        cpu_before = [process_stats(w.process.pid)[0] for w in started_workers if w.process]
        bench_before = own_stats()[0]
        machine_before = machine_ticks()
        services_before = services_cpu(settings)
        started = time.monotonic()
        lags = LagWatch(settings, started)
        lags.start()
        searchable.start()
        for n, article in enumerate(articles):
            ahead = started + n / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            # fetched_at is the moment it is produced, as a connector would set it.
            article = article.model_copy(update={"fetched_at": datetime.now(UTC)})
            producer.send(
                settings.topic_raw,
                key=article.id.encode(),
                value=article.model_dump_json().encode(),
            ).add_callback(on_ack(article.id)).add_errback(
                lambda _exc, i=article.id: failed.append(i)
            )
        producer.flush()
        result.produced = total - len(failed)
        result.probed = len(probed - set(failed))
        result.produce_seconds = time.monotonic() - started
        produced_ids = [a.id for a in articles if a.id not in failed]
        counted = {"at": 0.0}

        def drained() -> bool:
            if len(searchable.seen) < result.probed or not all(
                url in receiver.first for url in matching
            ):
                return False
            if time.monotonic() - counted["at"] < 2.0:
                return False
            counted["at"] = time.monotonic()  # the others, counted at most every 2 s
            try:
                return len(_count_documents(engine, settings, produced_ids)) >= result.produced
            except SearchEngineError:
                return False

        deadline = time.monotonic() + drain
        while not drained() and time.monotonic() < deadline:
            for worker in started_workers:
                worker.check()
            time.sleep(0.5)
        ended = time.monotonic()
        searchable.stop()
        machine_after = machine_ticks()
        result.machine_busy = (machine_after[0] - machine_before[0]) / max(
            1, machine_after[1] - machine_before[1]
        )
        result.measured_seconds = ended - started
        for k, worker in enumerate(started_workers):
            assert worker.process is not None
            cpu, peak = process_stats(worker.process.pid)
            result.worker_cpu.append(cpu - cpu_before[k])
            result.worker_rss.append(peak)
        bench_cpu, result.bench_rss = own_stats()
        result.bench_cpu = bench_cpu - bench_before
        result.services_cpu = {
            name: cpu - services_before[name]
            for name, cpu in services_cpu(settings).items()
            if name in services_before
        }

        # The last commits: Faust commits acked offsets every few seconds.
        deadline = time.monotonic() + FINAL_LAG_WAIT
        while time.monotonic() < deadline:
            time.sleep(LAG_EVERY)
            if lags.samples and lags.samples[-1].lag == lags.samples[-1].enriched == 0:
                break
        lags.stop()
        result.lag_series = [(s.at, s.lag, s.enriched) for s in lags.samples]
        result.lag_max = max((s.lag for s in lags.samples), default=0)
        result.lag_final = lags.samples[-1].lag if lags.samples else None
        result.enriched_max = max((s.enriched for s in lags.samples), default=0)
        result.enriched_final = lags.samples[-1].enriched if lags.samples else None
        result.stalls = lags.stalls()
        result.lag_gaps = lags.errors

        seen = searchable.seen
        result.searchable = [seen[i] - acked[i] for i in seen if i in acked]
        result.webhook = [
            receiver.first[u] - acked[by_url[u]]
            for u in matching
            if u in receiver.first and by_url[u] in acked
        ]
        result.poll_round = percentile(searchable.rounds, 0.5)
        times = sorted(seen.values())
        if len(times) >= 10:
            low, high = int(0.1 * result.probed), min(len(times), int(0.9 * result.probed)) - 1
            if high > low:
                # Each probe stands for probe_every articles produced around it.
                result.achieved = (high - low) * probe_every / (times[high] - times[low])

        def count() -> Counter[str] | None:
            try:
                return _count_documents(engine, settings, [a.id for a in articles])
            except SearchEngineError:  # the engine stopped for a while: count once it is back
                return None

        counts: Counter[str] = wait("the engine, to count the documents", count, 600)
        result.indexed_once = sum(1 for a in articles if counts.get(a.id) == 1)
        result.duplicates = sum(c - 1 for c in counts.values() if c > 1)
        result.missing = sum(1 for a in articles if a.id not in counts)
        calls = dict(receiver.calls)
        result.alerts_expected = len(matching)
        result.alerts_once = sum(1 for u in matching if len(calls.get(u, [])) == 1)
        result.alerts_more = sum(1 for u in matching if len(calls.get(u, [])) > 1)
        result.alerts_missing = result.alerts_expected - result.alerts_once - result.alerts_more
        result.alerts_unexpected = sum(1 for u in calls if u not in matching)
        print(f"  drained {ended - started:.0f} s after the first article", flush=True)
        return result
    finally:
        if lags is not None and lags._thread.is_alive():
            lags.stop()
        if searchable._thread.is_alive():
            searchable.stop()
        producer.close()
        for worker in started_workers:
            if worker.process is not None and worker.process.poll() is not None:
                result.exited += 1
            worker.stop()
            result.log_lines += [f"{worker.log.name}: {line}" for line in _log_problems(worker.log)]
        result.load = (result.load[0], os.getloadavg()[0])
        receiver.close()
        _clean(engine, settings)
        engine.close()


def _seconds(values: list[float], expected: int) -> str:
    """p50/p95/p99 over every article expected: one never seen counts as beyond
    the drain cap ("-")."""
    padded = values + [math.inf] * max(0, expected - len(values))
    return "/".join(
        "-" if math.isinf(v) else f"{v:.1f}"
        for v in (percentile(padded, q) for q in (0.5, 0.95, 0.99))
    )


def table(results: list[Result]) -> str:
    lines = [
        "| rate/s x workers | produced | achieved/s | searchable p50/p95/p99 s | webhook "
        "p50/p95/p99 s | lag raw max, final; enriched max, final "
        "| worker CPU s = cores = ms/article (peak RSS MB) "
        "| bench CPU s (RSS MB) | services CPU ms/article "
        "| indexed once, dup, not found | alerts once, >1, missing "
        "| load 1 min (start, end), machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        services = ", ".join(
            f"{name.split(' (')[0]} {1000 * cpu / max(1, r.produced):.1f}"
            for name, cpu in r.services_cpu.items()
        )
        workers = ", ".join(
            f"{cpu:.0f} = {cpu / r.measured_seconds:.2f} core "
            f"= {1000 * cpu / max(1, r.produced):.1f} ({rss:.0f})"
            for cpu, rss in zip(r.worker_cpu, r.worker_rss, strict=True)
        )
        lines.append(
            f"| {_label(r)} | {r.produced} in {r.produce_seconds:.0f} s "
            f"| {r.achieved:.0f} | {_seconds(r.searchable, r.probed)} "
            f"| {_seconds(r.webhook, r.alerts_expected)} "
            f"| {r.lag_max}, {r.lag_final}; {r.enriched_max}, {r.enriched_final} "
            f"| {workers} | {r.bench_cpu:.0f} ({r.bench_rss:.0f}) "
            f"| {services or '-'} "
            f"| {r.indexed_once}, {r.duplicates}, {r.missing} "
            f"| {r.alerts_once}, {r.alerts_more}, {r.alerts_missing} "
            f"| {r.load[0]:.1f}, {r.load[1]:.1f}, {r.machine_busy:.0%} |"
        )
    return "\n".join(lines)


def _label(r: Result) -> str:
    label = f"{r.code} {r.rate:g} x {r.workers}".strip()
    return label if r.processes is None else f"{label}, {r.processes} enrich processes"


def details(r: Result) -> str:
    """What the row cannot hold: the lag series, stalls, oddities, the log lines."""
    every = max(1, len(r.lag_series) // 20)
    series = " ".join(f"{at:.0f}:{raw}/{enr}" for at, raw, enr in r.lag_series[::every])
    lines = [
        f"{_label(r)}: poll round {r.poll_round:.2f} s (median); "
        f"{len(r.searchable)} searchable of {r.probed} probed (1 in {r.probe_every}), "
        f"{len(r.webhook)} alerts timed; "
        f"lag s:raw/enriched {series}"
    ]
    if r.lag_gaps:
        lines.append(f"  {r.lag_gaps} lag samples missing (Kafka did not answer)")
    if r.alerts_unexpected:
        lines.append(f"  {r.alerts_unexpected} alerts for articles without the keyword")
    if r.exited:
        lines.append(f"  {r.exited} worker(s) exited on their own")
    lines += [f"  commit stalled: {stall}" for stall in r.stalls]
    lines += [f"  log: {line}" for line in r.log_lines]
    return "\n".join(lines)


def configurations(args: argparse.Namespace) -> list[tuple[float, int, int | None]]:
    if not args.matrix:
        return [(args.rate, args.workers, args.processes)]
    found = []
    for item in args.matrix.split(","):
        rate, _, rest = item.strip().partition("x")
        workers, _, processes = rest.partition("p")
        found.append((float(rate), int(workers or 1), int(processes) if processes else None))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=60.0, help="articles per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of production")
    parser.add_argument("--articles", type=int, help="articles per configuration (else rate x s)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--processes", type=int, help="enrichment processes per worker (default: the setting's)"
    )
    parser.add_argument("--matrix", help='configurations RATExWORKERS, e.g. "60x1,200x2"')
    parser.add_argument("--old", type=Path, help="another checkout whose workers run first")
    parser.add_argument(
        "--drain", type=float, default=120.0, help="cap in s on the wait after the last article"
    )
    parser.add_argument(
        "--probe-every",
        type=int,
        default=10,
        help="poll the search for one article in this many (1: every article, as before)",
    )
    args = parser.parse_args()
    texts = RealTexts()
    passages = sum(len(p) for p in texts.pools.values())
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; {passages} passages "
        f"from {FEEDS} in {len(texts.pools)} languages ({', '.join(texts.pools)})",
        flush=True,
    )
    results = []
    for rate, workers, processes in configurations(args):
        total = args.articles or int(rate * args.seconds)
        print(f"{rate:g} articles/s x {workers} worker(s), {total} articles", flush=True)
        for code in [args.old.resolve()] if args.old else []:
            results.append(
                run(texts, rate, total, workers, processes, args.drain, args.probe_every, code)
            )
            print(details(results[-1]), flush=True)
        results.append(run(texts, rate, total, workers, processes, args.drain, args.probe_every))
        print(details(results[-1]), flush=True)
        print(table(results), flush=True)  # so far: a later configuration may fail
    print(
        "Target from issue #14: 200 articles/s achieved on this machine, p99 produce->searchable"
        " < 2 s and produce->webhook < 3 s."
    )


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # Ctrl+C's clean-up on kill
    main()
