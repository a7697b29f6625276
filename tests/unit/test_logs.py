"""Log lines: JSON for machines, human lines for people, and library internals
(Faust's start, the Kafka client's failed connections) only at DEBUG."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from vigie import logs


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logs.configure("WARNING", "json")  # leave no handler on pytest's captured stream


def _emit() -> None:
    logs.get("vigie.test").info("feed_polled", feed="lemonde", new=3)
    logging.getLogger("faust.worker").info("[^Worker]: Starting...")
    logging.getLogger("mode.supervisors").warning("Agent crashed, restarting")
    logging.getLogger("kafka.conn").error("Connect attempt returned error 111")


def test_json_keeps_own_events_and_framework_warnings_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO", "json")
    _emit()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("vigie.test", "feed_polled"),
        ("mode.supervisors", "Agent crashed, restarting"),
    ]
    assert lines[0]["feed"] == "lemonde"
    assert lines[0]["level"] == "info"
    assert lines[0]["timestamp"].endswith("Z")


def test_debug_keeps_the_libraries_too(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("DEBUG", "json")
    _emit()
    loggers = [json.loads(line)["logger"] for line in capsys.readouterr().err.splitlines()]
    assert loggers == ["vigie.test", "faust.worker", "mode.supervisors", "kafka.conn"]


def test_human_lines_are_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", "human")
    _emit()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert "feed_polled" in lines[0]
    assert "feed=lemonde" in lines[0]
    assert not lines[0].lstrip().startswith("{")


def test_the_format_follows_the_terminal_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert logs.resolve_format(None) == "human"
    assert logs.resolve_format("json") == "json"
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert logs.resolve_format(None) == "json"
    assert logs.resolve_format("human") == "human"


@pytest.mark.parametrize("level", ["WARNING", "INFO"])
def test_the_worker_leaves_the_level_it_was_given(level: str) -> None:
    """Faust's spinner used to set the root logger to DEBUG at WARNING: every
    library's debug records were built, then dropped."""
    import faust

    from pipeline.stream.app import Worker

    worker = Worker(
        faust.App("test-levels", broker="kafka://127.0.0.1:9"),
        loglevel=level,
        logging_config=logs.logging_config(level, "json"),
        quiet=True,
        redirect_stdouts=False,
    )
    worker._setup_logging()
    assert logging.getLogger("aiokafka").getEffectiveLevel() == getattr(logging, level)
    assert not logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG)
