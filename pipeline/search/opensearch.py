"""OpenSearch adapter (opensearch-py): the local default, and OpenSearch users'."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from pipeline.search.engine import (
    ClientEngine,
    DocumentRejected,
    EngineUnavailable,
    SearchEngineError,
)


def translate(exc: Exception) -> SearchEngineError | None:
    """Our error for an opensearch-py one: status 'N/A' means no HTTP answer at all."""
    if isinstance(exc, os_errors.ConnectionError):
        return EngineUnavailable(f"opensearch unreachable: {exc}")
    if isinstance(exc, os_errors.TransportError):
        status = exc.status_code
        if not isinstance(status, int) or status == 429 or status >= 500:
            return EngineUnavailable(f"opensearch answered {status}: {exc.error}")
        return DocumentRejected(f"opensearch answered {status}: {exc.error} {exc.info}")
    if isinstance(exc, os_errors.OpenSearchException):
        return SearchEngineError(f"opensearch client: {exc}")
    return None


class OpenSearchEngine(ClientEngine):
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._client = OpenSearch(hosts=[url], timeout=timeout, max_retries=0)

    def _translate(self, exc: Exception) -> SearchEngineError | None:
        return translate(exc)

    def ensure_index(self, index: str, body: Mapping[str, Any]) -> bool:
        if self._call(lambda: self._client.indices.exists(index=index)):
            return False
        try:
            self._call(lambda: self._client.indices.create(index=index, body=dict(body)))
        except DocumentRejected as exc:
            if "resource_already_exists_exception" in str(exc):  # lost a race: fine
                return False
            raise
        return True

    def put(self, index: str, doc_id: str, document: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.index(index=index, id=doc_id, body=dict(document)))
