"""OpenSearch adapter (opensearch-py): the local default, and OpenSearch users'."""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    NotFound,
    SearchEngine,
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
        if status == 404:
            return NotFound(f"opensearch answered 404: {exc.error}")
        return DocumentRejected(f"opensearch answered {status}: {exc.error} {exc.info}")
    if isinstance(exc, os_errors.OpenSearchException):
        return SearchEngineError(f"opensearch client: {exc}")
    return None


class OpenSearchEngine(SearchEngine):
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        # Agents call from several threads at once (asyncio.to_thread).
        self._client = OpenSearch(hosts=[url], timeout=timeout, max_retries=0, pool_maxsize=8)

    def _translate(self, exc: Exception) -> SearchEngineError | None:
        return translate(exc)
