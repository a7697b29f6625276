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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver
from faust.types import TP


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
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _RewindingConsumer


class App(faust.App):
    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
