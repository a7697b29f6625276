"""Dead letters: a message Vigie cannot process, with the reason, kept on `news.dlq`;
the format (written by the connector and the worker alike) and the sink every stage
sends them to."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError


def dead_letter(
    *,
    stage: str,
    reason: str,
    payload: bytes | None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> bytes:
    """The DLQ message: why, where it came from, and the original bytes, untouched
    (as text when they are UTF-8, else base64) so it can be replayed after a fix."""
    record: dict[str, Any] = {
        "stage": stage,
        "reason": reason,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    if payload is None:
        record["payload"] = None
    else:
        try:
            record["payload"] = payload.decode("utf-8")
            record["payload_encoding"] = "utf-8"
        except UnicodeDecodeError:
            record["payload"] = base64.b64encode(payload).decode("ascii")
            record["payload_encoding"] = "base64"
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


class Message(Protocol):
    """What a stage knows of the Kafka record it read (a Faust message)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class Event(Protocol):
    """One record as a stage handles it (a Faust event): acked once its work is
    durable, so that only then can its offset be committed."""

    @property
    def message(self) -> Message: ...
    @property
    def value(self) -> Any: ...
    def ack(self) -> bool: ...


class DeadLetters(Protocol):
    """Where every stage sends what it cannot process, with the reason."""

    async def send(self, event: Event, stage: str, reason: str) -> None: ...


def invalid(what: str, exc: ValidationError) -> str:
    """A dead letter's reason for a message that is not a valid `what`: the first
    few fields at fault, not pydantic's whole report."""
    fields = "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'message'}: {error['msg']}"
        for error in exc.errors()[:5]
    )
    return f"not a valid {what}: {fields}"
