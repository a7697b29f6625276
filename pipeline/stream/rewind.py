"""A Faust app whose consumer rewinds partitions that have no committed offset.

Faust "seeks back to the committed offsets" whenever it drops records it fetched
during a rebalance, and aiokafka's `seek_to_committed` does nothing for a
partition with no commit (or a commit of 0). The fetch position then stays after
the dropped records: the first messages of a partition read by a worker that
starts during a rebalance (a restart right after another worker left) were lost
without a trace. Seeking such partitions to their beginning instead reads them
again: at least once, which every agent here tolerates (indexing by id, alerts
by the never-twice table).

Changelog partitions are left alone: table recovery sets their positions itself.

A second hole, seen in the soak bench: after a rebalance in the middle of the
stream, a run of offsets just past the committed one was never acked although
the offsets after it were. Faust only commits up to the first unacked offset, so
that partition committed nothing more for the rest of the process's life: every
restart read again everything since (10,240 articles after one SIGKILL), and the
consumer's list of acked offsets grew by one entry per message, without bound.
Which interleaving of fetch, rebalance and ack leaves the hole was not pinned
down; what is certain is its shape, and that nothing is processing the missing
offsets. So the consumer looks for that shape every `GAP_CHECK_SECONDS`: a
partition whose acked offsets start after its committed offset, with none of the
offsets in between in flight, twice in a row, is read again from its committed
offset (at least once again; every agent is idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver
from faust.types import TP
from mode import Service
from prometheus_client import Counter

from vigie import logs

log = logs.get(__name__)

GAP_CHECK_SECONDS = 30.0
GAPS_REREAD = Counter(
    "vigie_offset_gaps_reread_total",
    "Partitions read again from their committed offset because offsets after it were "
    "never acked while later ones were",
)


def stuck_heads(
    committed: Mapping[TP, int | None],
    acked: Mapping[TP, Sequence[int]],
    in_flight: Iterable[tuple[TP, int]],
) -> dict[TP, int]:
    """The partitions whose acked offsets start past their committed offset (the
    next one to read) with none of the offsets in between being processed, each
    with its committed offset: what Faust can never commit past."""
    busy: dict[TP, list[int]] = {}
    for tp, offset in in_flight:
        busy.setdefault(tp, []).append(offset)
    heads = {}
    for tp, offsets in acked.items():
        start = committed.get(tp)
        if start is None or not offsets:
            continue
        first = min(offsets)
        if first > start and not any(start <= o < first for o in busy.get(tp, ())):
            heads[tp] = start
    return heads


class _RewindingConsumerThread(driver.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        uncommitted = [
            tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs
        ]
        if uncommitted:
            await self.seek_to_beginning(*uncommitted)
        return committed


class _RewindingConsumer(driver.Consumer):
    _suspects: dict[TP, int] | None = None

    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @Service.timer(GAP_CHECK_SECONDS)
    async def _read_stuck_heads_again(self) -> None:
        if not self.flow_active or self.app.rebalancing:
            self._suspects = None
            return
        heads = stuck_heads(
            self._committed_offset,
            self._acked,
            ((m.tp, m.offset) for m in list(self._unacked_messages)),
        )
        previous, self._suspects = self._suspects or {}, heads
        assigned = self.assignment()
        for tp, offset in heads.items():
            if previous.get(tp) != offset or tp not in assigned:
                continue  # seen once: a batch may be on its way
            acked = self._acked[tp]
            log.warning(
                "offset_gap_read_again",
                topic=tp.topic,
                partition=tp.partition,
                committed=offset,
                first_acked=min(acked),
                acked_waiting=len(acked),
            )
            GAPS_REREAD.inc()
            await self.seek(tp, offset)


class _Transport(driver.Transport):
    Consumer = _RewindingConsumer


class App(faust.App):
    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
