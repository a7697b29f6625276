"""What a service depends on (Kafka, the search engine), whether it answers now, and
one log line when that changes: an outage is a warning when it starts, a reminder
every few minutes while it lasts, and an info line when it ends, not thousands of
lines a second. `/health` (vigie/web.py) reports readiness from these."""

from __future__ import annotations

import socket
import time
from typing import Any

from prometheus_client import Gauge

from vigie import logs

log = logs.get(__name__)

UP = Gauge("vigie_dependency_up", "1 when the dependency answers, 0 when not", ["dependency"])


class Dependency:
    def __init__(self, name: str, remind_every: float = 300.0) -> None:
        self.name = name
        self.ok: bool | None = None  # None: not known yet
        self.reason = "not checked yet"
        self.since = time.time()
        self._remind_every = remind_every
        self._reminded = 0.0

    def up(self) -> None:
        if self.ok is False:
            log.info(f"{self.name}_available", down_for=round(time.time() - self.since, 1))
        if self.ok is not True:
            self.ok, self.reason, self.since = True, "", time.time()
            UP.labels(self.name).set(1)

    def down(self, reason: str) -> None:
        now = time.time()
        if self.ok is not False:
            self.ok, self.since, self._reminded = False, now, now
            log.warning(f"{self.name}_unavailable", reason=reason)
            UP.labels(self.name).set(0)
        elif now - self._reminded >= self._remind_every:
            self._reminded = now
            log.warning(
                f"{self.name}_still_unavailable", reason=reason, for_s=round(now - self.since)
            )
        self.reason = reason

    def report(self) -> dict[str, Any]:
        state = {None: "unknown", True: "ok", False: "down"}[self.ok]
        return {
            "state": state,
            "since": round(self.since),
            **({"reason": self.reason} if not self.ok else {}),
        }


def unreachable(servers: list[str], timeout: float = 2.0) -> str | None:
    """Why none of `servers` ("host:port") accepts a TCP connection, or None if one
    does: a cheap probe that notices a broker gone within seconds, where a client
    with cached metadata would not."""
    reasons = []
    for server in servers:
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return None
        except (OSError, ValueError) as exc:
            reasons.append(f"{server}: {exc}")
    return "; ".join(reasons) or "no server configured"


def readiness(*dependencies: Dependency, **details: Any) -> dict[str, Any]:
    """The /health report: "ok" when every dependency answers, else "unavailable"
    with each one's state and reason (503)."""
    ready = all(d.ok for d in dependencies)
    return {
        "status": "ok" if ready else "unavailable",
        **details,
        "dependencies": {d.name: d.report() for d in dependencies},
    }
