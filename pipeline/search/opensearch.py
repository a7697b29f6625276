"""OpenSearch adapter (opensearch-py): the local default, and OpenSearch users'."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    Hit,
    SearchEngine,
    SearchEngineError,
)

T = TypeVar("T")


def translate(exc: Exception) -> SearchEngineError:
    """Our error for an opensearch-py one: status 'N/A' means no HTTP answer at all."""
    if isinstance(exc, os_errors.ConnectionError):
        return EngineUnavailable(f"opensearch unreachable: {exc}")
    if isinstance(exc, os_errors.TransportError):
        status = exc.status_code
        if not isinstance(status, int) or status == 429 or status >= 500:
            return EngineUnavailable(f"opensearch answered {status}: {exc.error}")
        return DocumentRejected(f"opensearch answered {status}: {exc.error} {exc.info}")
    return SearchEngineError(str(exc))


class OpenSearchEngine(SearchEngine):
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._client = OpenSearch(hosts=[url], timeout=timeout, max_retries=0)

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except os_errors.OpenSearchException as exc:
            raise translate(exc) from exc

    def health(self) -> str:
        return str(self._call(lambda: self._client.cluster.health())["status"])

    def ensure_index(self, index: str, body: Mapping[str, Any]) -> bool:
        if self._call(lambda: self._client.indices.exists(index=index)):
            return False
        try:
            self._client.indices.create(index=index, body=dict(body))
        except os_errors.RequestError as exc:
            if exc.error == "resource_already_exists_exception":  # lost a race: fine
                return False
            raise translate(exc) from exc
        except os_errors.OpenSearchException as exc:
            raise translate(exc) from exc
        return True

    def put(self, index: str, doc_id: str, document: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.index(index=index, id=doc_id, body=dict(document)))

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
