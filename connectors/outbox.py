"""The outbox relay: what the state's outbox holds goes to `news.raw`, oldest first,
and a row is deleted only once Kafka has acknowledged it (acks=all). Used by the
connector service (a loop that backs off while Kafka is down), by `connector run
--once` and by `vigie ingest` (one pass each).

An article Kafka refuses for good (too large) becomes a dead letter on news.dlq
naming it and its size, and does not hold up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from connectors.metrics import ERRORS, OUTBOX, PRODUCED, STAGE
from connectors.produce import DeliveryError, Sent, make_producer, send_each
from connectors.state import State
from vigie import logs
from vigie.deadletter import dead_letter
from vigie.health import Dependency, unreachable
from vigie.retry import Backoff

log = logs.get("vigie.connector")

Row = tuple[int, str, bytes]  # (outbox seq, article id, JSON payload)

# Kafka down: try again after 1 s, doubling up to 5 s (catch up soon once it is back).
_KAFKA_BACKOFF = Backoff(start=1.0, cap=5.0)


class OutboxRelay:
    def __init__(self, state: State, kafka: dict[str, Any], topic: str, dlq_topic: str) -> None:
        self._state = state
        self._kafka = kafka  # Settings.kafka_options()
        self._topic = topic
        self._dlq_topic = dlq_topic
        self._producer: KafkaProducer | None = None
        self._pending = asyncio.Event()
        self._lock = threading.Lock()
        self.kafka = Dependency("kafka")
        self.seconds = 0.0  # time spent producing (benchmarks)

    def wake(self) -> None:
        """Something was added to the outbox: send it without waiting for the timer."""
        self._pending.set()

    def send_pending(self, batch: int = 500) -> int:
        """Send everything the outbox holds; return how many Kafka acknowledged.
        Raises DeliveryError; what was not acknowledged stays for the next pass."""
        sent = 0
        while rows := self._state.outbox(batch):
            sent += self._settle(rows, self._send(rows))
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the outbox empty until `stop`, then make one last pass."""
        failures = 0
        while True:
            rows = self._state.outbox(500)
            if not rows:
                if stop.is_set():
                    return
                self._pending.clear()
                await _first(stop, self._pending, 5.0)
                if not self._pending.is_set():  # idle: is the broker still there?
                    servers = self._kafka["bootstrap_servers"]
                    if why := await asyncio.to_thread(unreachable, servers):
                        self.kafka.down(why)
                    else:
                        self.kafka.up()
                continue
            try:
                # Kafka only in the thread: SQLite stays on the event loop's thread.
                sent = await asyncio.to_thread(self._send, rows)
                delivered = self._settle(rows, sent)
            except DeliveryError as exc:
                failures += 1
                wait = _KAFKA_BACKOFF.delay(failures)
                OUTBOX.set(self._state.outbox_size())  # growing while Kafka is down
                self.kafka.down(f"{exc}; {self._state.outbox_size()} articles wait")
                if stop.is_set():
                    return
                await _first(stop, asyncio.Event(), wait)
                continue
            failures = 0
            log.info("articles_produced", count=delivered, topic=self._topic)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None

    def _send(self, rows: list[Row]) -> Sent:
        started = time.perf_counter()
        try:
            with self._lock:
                if self._producer is None:
                    try:
                        self._producer = make_producer(self._kafka)
                    except KafkaError as exc:
                        raise DeliveryError(
                            f"Kafka unreachable: {exc or type(exc).__name__}"
                        ) from exc
                producer = self._producer
            sent = send_each(
                producer,
                self._topic,
                ((article_id.encode(), payload) for _, article_id, payload in rows),
            )
            if sent.refused:
                self._dead_letters(producer, rows, sent)
            return sent
        except DeliveryError:
            ERRORS.labels("kafka").inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            STAGE.labels("produce").observe(elapsed)

    def _dead_letters(self, producer: KafkaProducer, rows: list[Row], sent: Sent) -> None:
        """A refused article goes to news.dlq, said with its id and size (its bytes
        are what Kafka refused); one whose letter cannot be sent yet stays."""
        letters = [
            (
                rows[position][1].encode(),
                dead_letter(
                    stage="connector",
                    reason=f"article {rows[position][1]} ({len(rows[position][2])} bytes) "
                    f"refused by Kafka: {reason}",
                    payload=None,
                    topic=self._topic,
                ),
            )
            for position, reason in sent.refused
        ]
        posted = send_each(producer, self._dlq_topic, letters)
        unposted = {n for n, _ in posted.failed + posted.refused}
        kept = [refusal for n, refusal in enumerate(sent.refused) if n in unposted]
        sent.refused = [refusal for n, refusal in enumerate(sent.refused) if n not in unposted]
        sent.failed.extend(
            (position, f"{reason} (dead letter not sent)") for position, reason in kept
        )

    def _settle(self, rows: list[Row], sent: Sent) -> int:
        """Drop acknowledged and refused rows from the outbox; raise DeliveryError if
        some failed for now (they stay, in order, for the next pass)."""
        for position, reason in sent.refused:
            _, article_id, payload = rows[position]
            ERRORS.labels("refused").inc()
            log.error(
                "article_refused_by_kafka", article=article_id, bytes=len(payload), reason=reason
            )
        done = [rows[p][0] for p in sent.acknowledged] + [rows[p][0] for p, _ in sent.refused]
        self._state.delivered(done)
        PRODUCED.inc(len(sent.acknowledged))
        OUTBOX.set(self._state.outbox_size())
        if sent.failed:
            ERRORS.labels("kafka").inc()
            raise DeliveryError(
                f"{len(sent.failed)} of {len(rows)} articles not delivered: {sent.failed[0][1]}"
            )
        self.kafka.up()
        return len(sent.acknowledged)


async def _first(stop: asyncio.Event, other: asyncio.Event, seconds: float) -> None:
    """Wait until either event is set, or `seconds` have passed."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(other.wait())]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
