"""Elasticsearch adapter (`elasticsearch` client 8.x): the docker-compose default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import elastic_transport
import elasticsearch
from elasticsearch import Elasticsearch

from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    Hit,
    SearchEngine,
    SearchEngineError,
)

T = TypeVar("T")


def translate(exc: Exception) -> SearchEngineError:
    """Our error for an elasticsearch-py one: ApiError has an HTTP status, transport
    errors (connection, timeout) have none."""
    if isinstance(exc, elasticsearch.ApiError):
        status = exc.meta.status
        if status == 429 or status >= 500:
            return EngineUnavailable(f"elasticsearch answered {status}: {exc.message}")
        return DocumentRejected(f"elasticsearch answered {status}: {exc.message} {exc.body}")
    if isinstance(exc, elastic_transport.TransportError):
        return EngineUnavailable(f"elasticsearch unreachable: {exc}")
    return SearchEngineError(str(exc))


class ElasticsearchEngine(SearchEngine):
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._client = Elasticsearch(url, request_timeout=timeout, max_retries=0)

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (elasticsearch.ApiError, elastic_transport.TransportError) as exc:
            raise translate(exc) from exc

    def health(self) -> str:
        return str(self._call(lambda: self._client.cluster.health())["status"])

    def ensure_index(self, index: str, body: Mapping[str, Any]) -> bool:
        if self._call(lambda: bool(self._client.indices.exists(index=index))):
            return False
        try:
            self._client.indices.create(
                index=index, settings=body.get("settings"), mappings=body.get("mappings")
            )
        except elasticsearch.BadRequestError as exc:
            if exc.error == "resource_already_exists_exception":  # lost a race: fine
                return False
            raise translate(exc) from exc
        except (elasticsearch.ApiError, elastic_transport.TransportError) as exc:
            raise translate(exc) from exc
        return True

    def put(self, index: str, doc_id: str, document: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.index(index=index, id=doc_id, document=document))

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
