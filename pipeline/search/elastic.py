"""Elasticsearch adapter (`elasticsearch` client 8.x): the docker-compose default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import elastic_transport
import elasticsearch
from elasticsearch import Elasticsearch

from pipeline.search.engine import (
    ClientEngine,
    DocumentRejected,
    EngineUnavailable,
    SearchEngineError,
)


def translate(exc: Exception) -> SearchEngineError | None:
    """Our error for an elasticsearch-py one: ApiError has an HTTP status, transport
    errors (connection, timeout) have none."""
    if isinstance(exc, elasticsearch.ApiError):
        status = exc.meta.status
        if status == 429 or status >= 500:
            return EngineUnavailable(f"elasticsearch answered {status}: {exc.message}")
        return DocumentRejected(f"elasticsearch answered {status}: {exc.message} {exc.body}")
    if isinstance(exc, elastic_transport.TransportError):
        return EngineUnavailable(f"elasticsearch unreachable: {exc}")
    return None


class ElasticsearchEngine(ClientEngine):
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._client = Elasticsearch(url, request_timeout=timeout, max_retries=0)

    def _translate(self, exc: Exception) -> SearchEngineError | None:
        return translate(exc)

    def ensure_index(self, index: str, body: Mapping[str, Any]) -> bool:
        if self._call(lambda: bool(self._client.indices.exists(index=index))):
            return False
        try:
            self._call(
                lambda: self._client.indices.create(
                    index=index, settings=body.get("settings"), mappings=body.get("mappings")
                )
            )
        except DocumentRejected as exc:
            if "resource_already_exists_exception" in str(exc):  # lost a race: fine
                return False
            raise
        return True

    def put(self, index: str, doc_id: str, document: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.index(index=index, id=doc_id, document=document))
