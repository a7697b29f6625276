"""Dead letters: a message Vigie cannot process, with the reason, kept on `news.dlq`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any


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
