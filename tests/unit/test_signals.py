"""Spike and silence rules: what a rule may say, and the Kafka figures that
dead-letter and lag rules read (the engine's counts are tested on the real
services, tests/integration/test_signals.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from kafka import TopicPartition

from pipeline.alerts.rules import RuleError, parse_rule
from pipeline.signals.watch import KafkaFigures, read_dead_letters, read_lag

HOOK = [{"url": "https://hooks.example/a"}]


def test_a_silence_rule_watching_feeds_needs_no_query() -> None:
    rule = parse_rule({"id": "s", "kind": "silence", "watch": "feeds", "destinations": HOOK})
    assert not rule.percolated


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "spike"}, "query"),  # a spike of what?
        ({"kind": "silence", "watch": "query"}, "query"),
        ({"kind": "silence"}, "rule"),  # watching nothing
        ({"kind": "spike", "query": {"text": "x"}, "watch": "feeds"}, "rule"),
        ({"kind": "spike", "query": {"text": "x"}, "once_per": "story"}, "rule"),
        ({"kind": "spike", "query": {"text": "x"}, "factor": 1}, "factor"),
        ({"kind": "spike", "query": {"text": "x"}, "window_seconds": 1}, "window_seconds"),
    ],
)
def test_inconsistent_signal_rules_are_refused_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleError) as refused:
        parse_rule({"id": "r", "destinations": HOOK, **fields})
    assert field in {e["field"] for e in refused.value.errors}


@dataclass
class _Kafka:
    """Consumer and admin client in one: end offsets and committed offsets as set."""

    ends: dict[TopicPartition, int]
    committed: dict[TopicPartition, int]

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.ends if tp.topic == topic}

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in partitions}

    def list_consumer_group_offsets(self, group: str) -> dict[TopicPartition, Any]:
        @dataclass
        class Meta:
            offset: int

        return {tp: Meta(o) for tp, o in self.committed.items()}


def _figures(kafka: _Kafka) -> KafkaFigures:
    return KafkaFigures(lambda: (kafka, kafka), "dlq", "group", ("raw",))


def test_dead_letters_are_counted_over_the_window_with_hysteresis() -> None:
    dlq = [TopicPartition("dlq", 0), TopicPartition("dlq", 1)]
    kafka = _Kafka({dlq[0]: 5, dlq[1]: 5}, {})
    figures = _figures(kafka)
    rule = parse_rule(
        {
            "id": "d",
            "kind": "silence",
            "watch": "dead_letters",
            "threshold": 10,
            "window_seconds": 3600,
            "destinations": HOOK,
        }
    )
    figures.sample()
    assert read_dead_letters(rule, figures) is None  # one sample tells no rate
    kafka.ends = {dlq[0]: 12, dlq[1]: 9}  # 11 more
    figures.sample()
    reading = read_dead_letters(rule, figures)
    assert reading is not None
    assert (reading.starts, reading.holds, reading.details["count"]) == (True, True, 11)
    kafka.ends = {dlq[0]: 12, dlq[1]: 9}
    figures._samples[0] = (figures._samples[0][0] - 7200, 14)  # the window moved on
    reading = read_dead_letters(rule, figures)
    assert reading is not None
    assert (reading.starts, reading.holds) == (False, True)  # 7: below 10, above 5


def test_lag_is_end_less_committed_on_the_topics_read() -> None:
    raw0, raw1, other = TopicPartition("raw", 0), TopicPartition("raw", 1), TopicPartition("x", 0)
    kafka = _Kafka(
        {TopicPartition("dlq", 0): 0, raw0: 100, raw1: 50, other: 999},
        {raw0: 40, raw1: 50, other: 0},
    )
    figures = _figures(kafka)
    figures.sample()
    rule = parse_rule(
        {"id": "l", "kind": "silence", "watch": "lag", "threshold": 50, "destinations": HOOK}
    )
    reading = read_lag(rule, figures)
    assert reading is not None
    assert reading.details["lag_records"] == 60
    assert (reading.starts, reading.holds) == (True, True)
    kafka.committed[raw0] = 70
    figures.sample()
    reading = read_lag(rule, figures)
    assert reading is not None
    assert (reading.starts, reading.holds) == (False, True)  # 30: below 50, above 25
