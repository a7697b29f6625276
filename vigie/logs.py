"""Log lines for people and for machines, for Vigie and the libraries it runs.

Two formats (`VIGIE_LOG_FORMAT`): `human` (time, level, event, fields) on a
terminal, `json` (one object a line, for a log collector) otherwise. Libraries
log their internals at INFO (a worker's start alone is a hundred lines of Faust),
and the Kafka and engine clients every failed attempt, which Vigie reports
itself: all of that is kept for DEBUG (`vigie --debug`, `VIGIE_LOG_LEVEL=DEBUG`).
Vigie's own events, which go through structlog, are always kept.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import sys
from collections.abc import Iterator
from typing import Any, Literal

import structlog

Format = Literal["human", "json"]

_COMMON: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
]


def _shared(fmt: Format) -> list[structlog.types.Processor]:
    # People read the local time of day; machines want an unambiguous instant.
    stamp = (
        structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False)
        if fmt == "human"
        else structlog.processors.TimeStamper(fmt="iso", utc=True)
    )
    return [*_COMMON, stamp]


def resolve_format(fmt: str | None) -> Format:
    """The format asked for, or the one that suits where stderr goes."""
    if fmt in ("human", "json"):
        return fmt  # type: ignore[return-value]
    return "human" if sys.stderr.isatty() else "json"


# Clients whose failures Vigie catches and reports itself (one line for a command,
# its own event for a service), and which log every failed connection or request
# on their own, with tracebacks, retry after retry.
# aiokafka too: a broker that is down makes it log every reconnect (a storm);
# Vigie says it once per outage (vigie/health.py).
_CLIENTS = frozenset(
    (
        "kafka",
        "aiokafka",
        "opensearch",
        "elasticsearch",
        "elastic_transport",
        "httpx",
        "httpcore",
        "urllib3",
    )
)


class OwnEvents(logging.Filter):
    """Outside DEBUG: Vigie's events (structlog hands the handler a dict), and the
    frameworks' (Faust, mode) warnings and errors; not the clients'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True
        if record.name.partition(".")[0] in _CLIENTS:
            return False
        return record.levelno >= logging.WARNING


def logging_config(level: str, fmt: str | None = None) -> dict[str, Any]:
    """A dictConfig that renders stdlib records (Faust, kafka-python, ...) in the same
    format as Vigie's own; library internals below WARNING only at DEBUG."""
    chosen = resolve_format(fmt)
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if chosen == "human"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    debug = level.upper() == "DEBUG"
    processors: list[structlog.types.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if chosen == "json":  # the human renderer prints tracebacks itself
        processors.append(structlog.processors.format_exc_info)
    handler: dict[str, Any] = {
        "class": "logging.StreamHandler",
        "formatter": chosen,
        "stream": "ext://sys.stderr",
    }
    if not debug:
        handler["filters"] = ["own_events"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            chosen: {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [*processors, renderer],
                "foreign_pre_chain": _shared(chosen),
            }
        },
        "filters": {"own_events": {"()": OwnEvents}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


def configure(level: str = "INFO", fmt: str | None = None) -> None:
    chosen = resolve_format(fmt)
    logging.config.dictConfig(logging_config(level, chosen))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(chosen),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a process may configure twice (a command, then the worker's
        # Faust), and loggers made before must follow.
        cache_logger_on_first_use=False,
    )
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]


@contextlib.contextmanager
def to_current_stderr() -> Iterator[None]:
    """Log lines go to whatever sys.stderr is now, then back: under a progress bar
    (rich puts a proxy there on a terminal) they are drawn above the bar instead of
    through it."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    previous = [(handler, handler.setStream(sys.stderr)) for handler in handlers]
    try:
        yield
    finally:
        for handler, stream in previous:
            if stream is not None:  # None: it was writing there already
                handler.setStream(stream)


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
