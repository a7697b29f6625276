"""The search engine as Vigie sees it: one small interface, one adapter per client.

Index bodies and queries are written once here; the adapters only differ in how
their client spells a call and how it reports errors.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vigie.settings import Settings

T = TypeVar("T")


class SearchEngineError(RuntimeError):
    """Base of the errors the adapters raise instead of their client's."""


class EngineUnavailable(SearchEngineError):
    """Transient: cannot connect, timed out, overloaded (429) or a 5xx. Retry later."""


class DocumentRejected(SearchEngineError):
    """Permanent for this document: the engine refused it (mapping, size, ...)."""


@dataclass(frozen=True)
class Hit:
    id: str
    score: float | None
    source: Mapping[str, Any]


class SearchEngine(ABC):
    @abstractmethod
    def health(self) -> str:
        """Cluster health colour; raises EngineUnavailable when it does not answer."""

    @abstractmethod
    def ensure_index(self, index: str, body: Mapping[str, Any]) -> bool:
        """Create the index if missing; True if it was created."""

    @abstractmethod
    def put(self, index: str, doc_id: str, document: Mapping[str, Any]) -> None:
        """Write (create or replace) one document under its id."""

    @abstractmethod
    def search(self, index: str, body: Mapping[str, Any]) -> list[Hit]: ...

    @abstractmethod
    def refresh(self, index: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class ClientEngine(SearchEngine):
    """What both adapters share: calls whose request shape is the same for both
    clients, with the client's errors translated into ours."""

    _client: Any

    @abstractmethod
    def _translate(self, exc: Exception) -> SearchEngineError | None:
        """Our error for one of the client's, or None if it is not the client's."""

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            ours = self._translate(exc)
            if ours is None:
                raise
            raise ours from exc

    def health(self) -> str:
        return str(self._call(lambda: self._client.cluster.health())["status"])

    def search(self, index: str, body: Mapping[str, Any]) -> list[Hit]:
        response = self._call(lambda: self._client.search(index=index, body=dict(body)))
        return [
            Hit(id=h["_id"], score=h.get("_score"), source=h["_source"])
            for h in response["hits"]["hits"]
        ]

    def refresh(self, index: str) -> None:
        self._call(lambda: self._client.indices.refresh(index=index))

    def close(self) -> None:
        self._client.close()


def articles_index_body(settings: Settings) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        Path(settings.config_dir, "search", "articles.json").read_text(encoding="utf-8")
    )
    return body


def text_query(text: str, size: int = 10) -> dict[str, Any]:
    """A user's query string over the article text; every word must match."""
    return {
        "size": size,
        "query": {
            "simple_query_string": {
                "query": text,
                "fields": ["title^2", "summary", "body"],
                "default_operator": "and",
            }
        },
        "sort": ["_score", {"published_at": {"order": "desc", "missing": "_last"}}],
    }


def connect(settings: Settings) -> SearchEngine:
    if settings.search_engine == "opensearch":
        from pipeline.search.opensearch import OpenSearchEngine

        return OpenSearchEngine(settings.elasticsearch_url)
    from pipeline.search.elastic import ElasticsearchEngine

    return ElasticsearchEngine(settings.elasticsearch_url)
