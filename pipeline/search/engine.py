"""The search engine as Vigie sees it: one small class over either client.

Templates, documents and queries are written once (templates.py, documents.py,
query.py); the two engines differ only in how their client is built and how it
reports errors (clients.py). Only what both Elasticsearch 8 and OpenSearch 2
have is used: composable templates, aliases, the rollover and bulk APIs (no
ILM/ISM).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from pydantic_core import PydanticSerializationError, to_json

from vigie.retry import Backoff, until_done

T = TypeVar("T")

# How long to wait for an engine that is down or busy before asking again: up to
# 5 s, so that work resumes within seconds of the engine coming back.
ENGINE_BACKOFF = Backoff(start=0.5, cap=5.0)
# Ids per query when looking for older copies of a batch's articles, and how many
# copies of one id a query makes room for (one, but for a crash mid-way).
_IDS_PER_QUERY = 1_000
_COPIES_PER_ID = 4


async def when_available(call: Callable[[], T], what: str) -> T:
    """Run a blocking engine call in a thread until the engine answers: while it is
    down or busy the caller waits (and so do its offsets); a refusal goes up."""
    return await until_done(
        lambda: asyncio.to_thread(call),
        transient=EngineUnavailable,
        backoff=ENGINE_BACKOFF,
        what=what,
    )


async def nothing() -> None:
    """A `ready` hook that has nothing to wait for."""


class SearchEngineError(RuntimeError):
    """Base of the errors the adapters raise instead of their client's."""


class EngineUnavailable(SearchEngineError):
    """Transient: cannot connect, timed out, overloaded (429) or a 5xx. Retry later."""


class DocumentRejected(SearchEngineError):
    """Permanent for this request: the engine refused it (mapping, size, ...)."""


class NotFound(DocumentRejected):
    """404: no such document or index."""


@dataclass(frozen=True)
class Hit:
    id: str
    score: float | None
    source: Mapping[str, Any]
    index: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int
    aggregations: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkItem:
    """What the engine said about one document of a bulk request."""

    id: str
    status: int
    error: str | None = None
    index: str = ""  # where it was written (an alias resolves to its write index)
    kind: str = ""  # the engine's error type

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500 or self.kind in INDEX_NOT_READY


# Refusals that are about the index, not the document: seen for ~1 s after an
# engine restart, while an alias was not yet resolved to its write index (the
# bulk tried to create an index of the alias's name: "invalid_index_name_exception
# ... already exists as alias"). Dead-lettering the documents would lose them for
# a passing state of the engine; they are sent again instead.
INDEX_NOT_READY = frozenset(
    {"invalid_index_name_exception", "index_not_found_exception", "cluster_block_exception"}
)


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        reason = error.get("reason", "")
        cause = error.get("caused_by", {})
        detail = f" ({cause.get('reason')})" if isinstance(cause, Mapping) and cause else ""
        return f"{error.get('type', 'error')}: {reason}{detail}"
    return str(error)


# Our error for one of the client's exceptions, or None if it is not the client's.
Translate = Callable[[Exception], SearchEngineError | None]


def _json(value: Any) -> bytes | None:
    """A request's body, made here rather than by the client: its json.dumps took
    three times as long as pydantic's encoder (a bulk request's articles, a
    percolate request's), in a worker thread holding the GIL the event loop
    waits for. The same values (floats and escapes may be spelt otherwise); None
    for what pydantic will not write (a lone surrogate), which the client then
    writes as before."""
    try:
        return to_json(value)
    except PydanticSerializationError:
        return None


def _ndjson(operations: Sequence[Mapping[str, Any]]) -> bytes | None:
    """A bulk request's body (`_json`), one operation a line."""
    body = bytearray()
    for operation in operations:
        line = _json(operation)
        if line is None:
            return None
        body += line
        body += b"\n"
    return bytes(body)


class SearchEngine:
    """Both clients take the same requests with `body=`; what differs is how the
    client is made and which exceptions it raises (`translate`)."""

    def __init__(self, client: Any, translate: Translate) -> None:
        self._client = client
        self._translate = translate

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            ours = self._translate(exc)
            if ours is None:
                raise
            raise ours from exc

    def health(self) -> str:
        """Cluster health colour; raises EngineUnavailable when it does not answer."""
        return str(self._call(lambda: self._client.cluster.health())["status"])

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.cluster.put_component_template(name=name, body=body))

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.indices.put_index_template(name=name, body=body))

    def alias_indices(self, alias: str) -> dict[str, bool]:
        """The indices behind an alias, each with whether it is the write index;
        empty if there is no such alias."""
        if not self._call(lambda: bool(self._client.indices.exists_alias(name=alias))):
            return {}
        found = self._call(lambda: self._client.indices.get_alias(name=alias))
        return {
            index: bool(spec["aliases"][alias].get("is_write_index", len(found) == 1))
            for index, spec in found.items()
        }

    def put_index_settings(self, index: str, body: Mapping[str, Any]) -> None:
        """Change dynamic settings (replicas) of an index, or of every index behind an alias."""
        self._call(lambda: self._client.indices.put_settings(index=index, body=body))

    def creation_dates(self, index: str) -> dict[str, datetime]:
        """When each index (behind an alias, or matching a pattern) was created."""
        found = self._call(
            lambda: self._client.indices.get_settings(index=index, name="index.creation_date")
        )
        return {
            name: datetime.fromtimestamp(
                int(spec["settings"]["index"]["creation_date"]) / 1000, tz=UTC
            )
            for name, spec in found.items()
        }

    def put_mapping(self, index: str, body: Mapping[str, Any]) -> None:
        """Add fields to an existing index's mapping (fields are never changed)."""
        self._call(lambda: self._client.indices.put_mapping(index=index, body=body))

    def index_exists(self, name: str) -> bool:
        return bool(self._call(lambda: self._client.indices.exists(index=name)))

    def create_index(self, name: str, body: Mapping[str, Any]) -> bool:
        """Create an index; False if it already existed."""
        try:
            self._call(lambda: self._client.indices.create(index=name, body=body))
        except DocumentRejected as exc:
            if "resource_already_exists_exception" in str(exc):
                return False
            raise
        return True

    def rollover(self, alias: str, conditions: Mapping[str, Any]) -> tuple[bool, str, str]:
        """Roll the alias over to a new write index if a condition is met:
        (rolled over, old index, new index)."""
        response = self._call(
            lambda: self._client.indices.rollover(alias=alias, body={"conditions": conditions})
        )
        return bool(response["rolled_over"]), response["old_index"], response["new_index"]

    def bulk_index(
        self,
        index: str,
        documents: Sequence[tuple[str, Mapping[str, Any]]],
        unique: bool = True,
    ) -> list[BulkItem]:
        """Index (create or replace) documents by id in one request. With `unique`,
        written through an alias, each id is then in one index only: copies an
        earlier version left in another index behind the alias (before a
        rollover) are deleted once the new one is written, so there is never a
        moment without a copy."""
        operations: list[Mapping[str, Any]] = []
        for doc_id, document in documents:
            operations.append({"index": {"_index": index, "_id": doc_id}})
            operations.append(document)
        body = _ndjson(operations) if operations else None
        response = self._call(lambda: self._client.bulk(body=operations if body is None else body))
        items = []
        for item in response["items"]:
            result = item["index"]
            error = result.get("error")
            items.append(
                BulkItem(
                    id=str(result["_id"]),
                    status=int(result["status"]),
                    error=_error_text(error) if error else None,
                    index=str(result.get("_index", "")),
                    kind=str(error.get("type", "")) if isinstance(error, Mapping) else "",
                )
            )
        if unique:
            # (An answer that does not say where a document went deletes nothing.)
            written = {item.id: item.index for item in items if item.ok and item.index}
            self.delete_other_copies(index, written)
        return items

    def delete_other_copies(self, alias: str, written: Mapping[str, str]) -> None:
        """Delete the copies of `written` ids (id -> the index it was just written
        to) that other indices behind `alias` hold: one ids query, and a bulk
        delete only when there are some. Old indices take no writes but these
        deletes, and were refreshed when rolled over (templates.rollover), so
        the query sees every copy they hold."""
        ids = list(written)
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            body = {
                "query": {"ids": {"values": chunk}},
                "size": _COPIES_PER_ID * len(chunk),
                "_source": False,
                "track_total_hits": False,
            }
            found = self._call(partial(self._client.search, index=alias, body=body))
            stale = [
                {"delete": {"_index": hit["_index"], "_id": hit["_id"]}}
                for hit in found["hits"]["hits"]
                if hit["_index"] != written.get(hit["_id"], hit["_index"])
            ]
            if not stale:
                continue
            response = self._call(partial(self._client.bulk, body=stale))
            for item in response["items"]:
                result = item["delete"]
                # 404: gone already (another worker, a replay). A permanent refusal
                # (a read-only old index) leaves that copy: indexing must go on.
                status = int(result["status"])
                if status == 429 or status >= 500:
                    raise EngineUnavailable(
                        f"deleting an older copy of {result['_id']} in {result['_index']}: "
                        f"{_error_text(result.get('error'))}"
                    )

    def put_document(
        self, index: str, doc_id: str, document: Mapping[str, Any], wait: bool = False
    ) -> None:
        """Create or replace one document; with `wait`, return once searches see it."""
        refresh = "wait_for" if wait else "false"
        self._call(
            lambda: self._client.index(index=index, id=doc_id, body=document, refresh=refresh)
        )

    def create_document(self, index: str, doc_id: str, document: Mapping[str, Any]) -> bool:
        """Create a document unless one with this id exists (then False): an atomic,
        real-time claim, the same for every worker."""
        try:
            self._call(
                lambda: self._client.index(
                    index=index, id=doc_id, body=document, op_type="create", refresh="false"
                )
            )
        except DocumentRejected as exc:
            if " 409" in str(exc) or "version_conflict" in str(exc):
                return False
            raise
        return True

    def get_document(self, index: str, doc_id: str) -> dict[str, Any] | None:
        try:
            found = self._call(lambda: self._client.get(index=index, id=doc_id))
        except NotFound:
            return None
        return dict(found["_source"])

    def delete_document(self, index: str, doc_id: str, wait: bool = False) -> bool:
        refresh = "wait_for" if wait else "false"
        try:
            self._call(lambda: self._client.delete(index=index, id=doc_id, refresh=refresh))
        except NotFound:
            return False
        return True

    def search(self, index: str, body: Mapping[str, Any]) -> SearchResult:
        sent = _json(body) or dict(body)
        response = self._call(lambda: self._client.search(index=index, body=sent))
        total = response["hits"]["total"]
        return SearchResult(
            hits=[
                Hit(
                    id=h["_id"],
                    score=h.get("_score"),
                    source=h.get("_source", {}),
                    index=h["_index"],
                    fields=h.get("fields", {}),
                )
                for h in response["hits"]["hits"]
            ],
            total=int(total["value"] if isinstance(total, Mapping) else total),
            aggregations=response.get("aggregations", {}),
        )

    def refresh(self, index: str) -> None:
        self._call(lambda: self._client.indices.refresh(index=index))

    def delete_index(self, name: str) -> None:
        self._call(lambda: self._client.indices.delete(index=name, ignore_unavailable=True))

    def delete_prefixed(self, prefix: str) -> None:
        """Every index, index template and component template whose name starts
        with `prefix`: a test's or benchmark's, once done (an engine restart
        recovers every index first, every index created is checked against every
        template, and runs left hundreds of each)."""
        self.delete_index(f"{prefix}*")
        indices, cluster = self._client.indices, self._client.cluster
        found = self._call(lambda: indices.get_index_template())["index_templates"]
        for name in [t["name"] for t in found if t["name"].startswith(prefix)]:
            self._call(partial(indices.delete_index_template, name=name))
        found = self._call(lambda: cluster.get_component_template())["component_templates"]
        for name in [t["name"] for t in found if t["name"].startswith(prefix)]:
            self._call(partial(cluster.delete_component_template, name=name))

    def close(self) -> None:
        self._client.close()
