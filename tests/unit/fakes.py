"""Plain stand-ins for what the worker's stages are given by Faust and the engine:
events that count their acks, topics and a dead-letter sink that keep what they
are sent, and an in-memory SearchEngine that records every call."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pipeline.search.engine import BulkItem, Hit, SearchEngine, SearchResult
from vigie.deadletter import Event

T = TypeVar("T")


@dataclass(frozen=True)
class FakeMessage:
    value: bytes | None
    key: bytes | None = b"key"
    topic: str = "news.test"
    partition: int = 0
    offset: int = 0


class FakeEvent:
    """A Faust event: its message, its value, and how many times it was acked."""

    def __init__(
        self,
        value: bytes | None,
        *,
        key: bytes | None = b"key",
        topic: str = "news.test",
        partition: int = 0,
        offset: int = 0,
    ) -> None:
        self.message = FakeMessage(value, key, topic, partition, offset)
        self.acks = 0

    @property
    def value(self) -> bytes | None:
        return self.message.value

    def ack(self) -> bool:
        self.acks += 1
        return True


async def stream(items: Iterable[T]) -> AsyncIterator[T]:
    """An async iterable over `items`, as a Faust stream would give them."""
    for item in items:
        yield item


class FakeTopic:
    """A Faust topic that keeps what is sent to it."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, *, key: bytes | None, value: bytes) -> Any:
        self.sent.append((key, value))
        return None

    def values(self) -> list[dict[str, Any]]:
        return [json.loads(value) for _, value in self.sent]


class ListDeadLetters:
    """The dead-letter sink, as a list of (event, stage, reason)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Event, str, str]] = []

    async def send(self, event: Event, stage: str, reason: str) -> None:
        self.sent.append((event, stage, reason))

    def reasons(self) -> list[str]:
        return [reason for _, _, reason in self.sent]


class FakeEngine(SearchEngine):
    """The SearchEngine interface over dicts. Every call is in `calls` as
    (method, args); `fail` makes a method raise; `search_answers` are returned by
    `search` in turn (else every document of the index, sorted by id);
    `bulk_statuses` gives, per document id, the statuses of its next bulk writes
    (201 when none is left)."""

    def __init__(self) -> None:
        super().__init__(client=None, translate=lambda exc: None)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.documents: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.indices: set[str] = set()
        self.aliases: dict[str, dict[str, bool]] = {}
        self.created: dict[str, datetime] = {}
        self.search_answers: list[SearchResult] = []
        self.bulk_statuses: dict[str, list[int]] = {}
        self._failures: dict[str, list[Exception]] = {}
        self._always: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def fail(self, method: str, error: Exception, times: int | None = None) -> None:
        """Make `method` raise `error`, `times` times (always when None)."""
        if times is None:
            self._always[method] = error
        else:
            self._failures.setdefault(method, []).extend([error] * times)

    def heal(self, method: str) -> None:
        self._always.pop(method, None)
        self._failures.pop(method, None)

    def called(self, method: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [args for name, args in self.calls if name == method]

    def _enter(self, method: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((method, args))
            if method in self._always:
                raise self._always[method]
            pending = self._failures.get(method)
            if pending:
                raise pending.pop(0)

    def health(self) -> str:
        self._enter("health")
        return "green"

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._enter("put_component_template", name, body)

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._enter("put_index_template", name, body)

    def alias_indices(self, alias: str) -> dict[str, bool]:
        self._enter("alias_indices", alias)
        return dict(self.aliases.get(alias, {}))

    def put_mapping(self, index: str, body: Mapping[str, Any]) -> None:
        self._enter("put_mapping", index, body)

    def put_index_settings(self, index: str, body: Mapping[str, Any]) -> None:
        self._enter("put_index_settings", index, body)

    def creation_dates(self, index: str) -> dict[str, datetime]:
        """From `created` (index -> date), for the indices behind the alias `index`."""
        self._enter("creation_dates", index)
        return {name: self.created[name] for name in self.aliases.get(index, {})}

    def delete_index(self, name: str) -> None:
        self._enter("delete_index", name)
        self.indices.discard(name)
        for behind in self.aliases.values():
            behind.pop(name, None)

    def index_exists(self, name: str) -> bool:
        self._enter("index_exists", name)
        return name in self.indices

    def create_index(self, name: str, body: Mapping[str, Any]) -> bool:
        self._enter("create_index", name, body)
        if name in self.indices:
            return False
        self.indices.add(name)
        return True

    def bulk_index(
        self,
        index: str,
        documents: Sequence[tuple[str, Mapping[str, Any]]],
        unique: bool = True,
    ) -> list[BulkItem]:
        self._enter("bulk_index", index, [doc_id for doc_id, _ in documents])
        items = []
        for doc_id, document in documents:
            statuses = self.bulk_statuses.get(doc_id)
            status = statuses.pop(0) if statuses else 201
            if status < 300:
                self.documents[index][doc_id] = dict(document)
                items.append(BulkItem(doc_id, status))
            else:
                items.append(BulkItem(doc_id, status, f"status {status} for {doc_id}"))
        return items

    def put_document(
        self, index: str, doc_id: str, document: Mapping[str, Any], wait: bool = False
    ) -> None:
        self._enter("put_document", index, doc_id, document, wait)
        self.documents[index][doc_id] = dict(document)

    def create_document(self, index: str, doc_id: str, document: Mapping[str, Any]) -> bool:
        self._enter("create_document", index, doc_id, document)
        if doc_id in self.documents[index]:
            return False
        self.documents[index][doc_id] = dict(document)
        return True

    def get_document(self, index: str, doc_id: str) -> dict[str, Any] | None:
        self._enter("get_document", index, doc_id)
        found = self.documents[index].get(doc_id)
        return dict(found) if found is not None else None

    def delete_document(self, index: str, doc_id: str, wait: bool = False) -> bool:
        self._enter("delete_document", index, doc_id, wait)
        return self.documents[index].pop(doc_id, None) is not None

    def search(self, index: str, body: Mapping[str, Any]) -> SearchResult:
        self._enter("search", index, body)
        if self.search_answers:
            return self.search_answers.pop(0)
        hits = [
            Hit(id=doc_id, score=1.0, source=document, index=index)
            for doc_id, document in sorted(self.documents[index].items())
        ]
        return SearchResult(hits=hits, total=len(hits))

    def refresh(self, index: str) -> None:
        self._enter("refresh", index)

    def close(self) -> None:
        self._enter("close")
