"""Elasticsearch adapter (`elasticsearch` client 8.x): the docker-compose default."""

from __future__ import annotations

import elastic_transport
import elasticsearch
from elasticsearch import Elasticsearch

from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    NotFound,
    SearchEngine,
    SearchEngineError,
)


def translate(exc: Exception) -> SearchEngineError | None:
    """Our error for an elasticsearch-py one: ApiError has an HTTP status, transport
    errors (connection, timeout) have none."""
    if isinstance(exc, elasticsearch.ApiError):
        status = exc.meta.status
        if status == 429 or status >= 500:
            return EngineUnavailable(f"elasticsearch answered {status}: {exc.message}")
        if status == 404:
            return NotFound(f"elasticsearch answered 404: {exc.message}")
        return DocumentRejected(f"elasticsearch answered {status}: {exc.message} {exc.body}")
    if isinstance(exc, elastic_transport.TransportError):
        return EngineUnavailable(f"elasticsearch unreachable: {exc}")
    return None


class ElasticsearchEngine(SearchEngine):
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        # Agents call from several threads at once (asyncio.to_thread).
        self._client = Elasticsearch(
            url, request_timeout=timeout, max_retries=0, connections_per_node=8
        )

    def _translate(self, exc: Exception) -> SearchEngineError | None:
        return translate(exc)
