"""Structured log lines (one JSON object a line) for Vigie and the libraries it runs."""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig that renders stdlib records (Faust, kafka-python, ...) as JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False),
                ],
                "foreign_pre_chain": _SHARED,
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # kafka-python logs every reconnect attempt at INFO/WARNING.
        # Client libraries log every request or reconnect at INFO.
        "loggers": {
            **{
                name: {"level": "WARNING"}
                for name in ("httpx", "opensearch", "elastic_transport")
            },
            # A broker that is down makes the Kafka clients warn at every reconnect
            # (a log storm); Vigie says it once per outage (vigie/health.py).
            "kafka": {"level": "CRITICAL"},
            "aiokafka": {"level": "CRITICAL"},
        },
    }


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
