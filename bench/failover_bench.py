"""Failover: two real workers share the stream; one is killed with SIGKILL (no
goodbye to the group); how long do the articles of its partitions wait? Printed
for Kafka's default session timeout beside Vigie's, in the same run.

    .venv/bin/python -m bench.failover_bench [--rate 10] [--after 20]

`vigie services up` first.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kafka import KafkaProducer

from bench.index_bench import _articles, _found, _seed_body, send_paced
from pipeline.search.clients import connect
from vigie.settings import free_port, private_environment, private_prefix, settings_for


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = tempfile.NamedTemporaryFile(prefix="vigie-failover-", suffix=".log", delete=False)  # noqa: SIM115
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "vigie"), "worker"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def run(session_timeout: float, rate: float, after: float) -> tuple[float, float, int, int]:
    """(worst wait of an article produced after the kill, p50, indexed, sent)."""
    env = {
        **private_environment("failover"),
        "VIGIE_LOG_LEVEL": "WARNING",
        "VIGIE_KAFKA_SESSION_TIMEOUT_SECONDS": str(session_timeout),
    }
    settings = settings_for(env)
    body = _seed_body()
    # Each worker serves health and metrics on a port of its own.
    first, second = _worker(env), _worker({**env, "VIGIE_WEB_PORT": str(free_port())})
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    engine = connect(settings)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    try:
        warm = _articles(20, body, f"warm-{session_timeout}")
        send_paced(producer, settings.topic_raw, warm, rate, {})
        deadline = time.monotonic() + 180
        while len(_found(engine, settings, [a.id for a in warm])) < len(warm):
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start")
            time.sleep(1)
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        articles = _articles(int(rate * after), body, f"after-{session_timeout}")

        def watch() -> None:
            for found in _found(engine, settings, [i for i in sent if i not in seen]):
                seen[found] = time.monotonic()

        send_paced(producer, settings.topic_raw, articles, rate, sent, watch)
        deadline = time.monotonic() + session_timeout + 120
        while len(seen) < len(sent) and time.monotonic() < deadline:
            watch()
            time.sleep(0.5)
    finally:
        producer.close()
        for worker in (first, second):
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)
        engine.delete_prefixed(private_prefix(settings))
        engine.close()
    waits = sorted(seen[i] - max(sent[i], killed_at) for i in seen)
    worst = waits[-1] if waits else float("nan")
    median = waits[len(waits) // 2] if waits else float("nan")
    return worst, median, len(seen), len(sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="articles per second")
    parser.add_argument("--after", type=float, default=20.0, help="seconds produced after")
    args = parser.parse_args()
    print(f"kill -9 of one of two workers, {args.rate:g} articles/s for {args.after:g} s after")
    print(f"{'session timeout':>16} | {'worst wait':>10} | {'median':>7} | indexed")
    for label, timeout in (("60 s (Kafka's)", 60.0), ("10 s (Vigie's)", 10.0)):
        worst, median, indexed, sent = run(timeout, args.rate, args.after)
        print(f"{label:>16} | {worst:>8.1f} s | {median:>5.1f} s | {indexed}/{sent}")


if __name__ == "__main__":
    main()
