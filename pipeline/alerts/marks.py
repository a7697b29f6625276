""" "This rule fired on this article (or on a copy of it)": one small document each
in the marks index, claimed atomically by id, forgotten after REMEMBER_DAYS.

Before, each rule's marks were one Faust table value that listed every article it
fired on for 30 days: it grew with every alert until Kafka refused the message
(~13,800 alerts per rule) and "never twice" was silently lost. Here the state is
bounded by time, read in real time by id (no refresh), and the same for every
worker whatever partitions it holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pipeline.search.engine import SearchEngine

REMEMBER_DAYS = 30


def _mark_id(rule_id: str, key: str) -> str:
    return hashlib.sha256(f"{rule_id}\n{key}".encode()).hexdigest()[:32]


class Marks:
    def __init__(self, engine: SearchEngine, index: str) -> None:
        self._engine = engine
        self._index = index

    def claim(self, rule_id: str, keys: Sequence[str], alert_id: str) -> str | None:
        """Claim every key (`a:<article>`, `g:<group>`) for this alert, as pending;
        None when they are all ours (new, or left pending by this same alert: a
        delivery a stop cut short), else the key already taken (fired, or another
        alert's), and nothing stays claimed."""
        now = datetime.now(UTC)
        forgotten = (now - timedelta(days=REMEMBER_DAYS)).isoformat()
        claimed: list[str] = []
        for key in keys:
            doc_id = _mark_id(rule_id, key)
            mark = {
                "rule_id": rule_id,
                "key": key,
                "alert_id": alert_id,
                "status": "pending",
                "at": now.isoformat(),
            }
            if self._engine.create_document(self._index, doc_id, mark):
                claimed.append(key)
                continue
            held = self._engine.get_document(self._index, doc_id)
            if held is None or (
                held.get("alert_id") == alert_id and held.get("status") == "pending"
            ):
                continue  # gone meanwhile, or ours: a delivery a stop cut short
            if str(held.get("at", "")) < forgotten:  # past memory, not yet swept
                self._engine.put_document(self._index, doc_id, mark)
                claimed.append(key)
                continue
            self.release(rule_id, claimed)
            return key
        return None

    def settle(self, rule_id: str, keys: Sequence[str], alert_id: str) -> None:
        """The alert went out (or into a digest, kept by the worker's table): its
        marks say so, and the same alert seen again (an article update, a replay)
        is suppressed."""
        at = datetime.now(UTC).isoformat()
        for key in keys:
            mark = {"rule_id": rule_id, "key": key, "alert_id": alert_id, "status": "sent"}
            self._engine.put_document(self._index, _mark_id(rule_id, key), {**mark, "at": at})

    def release(self, rule_id: str, keys: Sequence[str]) -> None:
        """Forget the keys (a delivery failed for good: its dead letter, replayed
        once the receiver is fixed, must go out)."""
        for key in keys:
            self._engine.delete_document(self._index, _mark_id(rule_id, key))

    def held(self, rule_id: str, prefix: str) -> dict[str, tuple[str, str]]:
        """The rule's marks whose key starts with `prefix`: key -> (alert id, status)
        (signals firing, pipeline/signals/watch.py)."""
        self._engine.refresh(self._index)
        found = self._engine.search(
            self._index,
            {
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"rule_id": rule_id}},
                            {"prefix": {"key": prefix}},
                        ]
                    }
                },
                "size": 10_000,
            },
        )
        return {
            str(h.source["key"]): (str(h.source["alert_id"]), str(h.source["status"]))
            for h in found.hits
        }

    def expire(self, most: int = 10_000) -> int:
        """Delete marks older than REMEMBER_DAYS, at most `most` a call; how many.
        (By search and id: delete-by-query lives in a module the local OpenSearch
        does not load.)"""
        before = (datetime.now(UTC) - timedelta(days=REMEMBER_DAYS)).isoformat()
        self._engine.refresh(self._index)
        found = self._engine.search(
            self._index,
            {"query": {"range": {"at": {"lt": before}}}, "size": most, "_source": False},
        )
        for hit in found.hits:
            self._engine.delete_document(self._index, hit.id)
        return len(found.hits)
