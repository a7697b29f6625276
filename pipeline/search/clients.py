"""The two clients a SearchEngine can drive, and how each one's errors map to ours:
Elasticsearch (`elasticsearch` 8.x, the docker-compose default) and OpenSearch
(opensearch-py, the local default and OpenSearch users')."""

from __future__ import annotations

from typing import Any

from pipeline.search.engine import (
    DocumentRejected,
    EngineUnavailable,
    NotFound,
    SearchEngine,
    SearchEngineError,
)
from vigie.settings import Settings

# Agents call from several threads at once (asyncio.to_thread).
_CONNECTIONS = 8


def connect(settings: Settings, timeout: float = 30.0) -> SearchEngine:
    """The engine at `elasticsearch_url`, through the client `search_engine` names.
    Clients never retry by themselves: Vigie's failure policy decides."""
    password = settings.elasticsearch_password
    basic = (
        (settings.elasticsearch_username, password.get_secret_value())
        if settings.elasticsearch_username and password
        else None
    )
    ca = str(settings.elasticsearch_ca_file) if settings.elasticsearch_ca_file else None
    if settings.search_engine == "opensearch":
        from opensearchpy import OpenSearch

        client: Any = OpenSearch(
            hosts=[settings.elasticsearch_url],
            timeout=timeout,
            max_retries=0,
            pool_maxsize=_CONNECTIONS,
            http_auth=basic,
            ca_certs=ca,
        )
        return SearchEngine(client, opensearch_error)
    from elasticsearch import Elasticsearch

    key = settings.elasticsearch_api_key
    secured: dict[str, Any] = {"ca_certs": ca} if ca else {}
    client = Elasticsearch(
        settings.elasticsearch_url,
        request_timeout=timeout,
        max_retries=0,
        connections_per_node=_CONNECTIONS,
        api_key=key.get_secret_value() if key else None,
        basic_auth=basic,
        **secured,
    )
    return SearchEngine(client, elasticsearch_error)


def elasticsearch_error(exc: Exception) -> SearchEngineError | None:
    """Ours for an elasticsearch-py error: ApiError has an HTTP status, transport
    errors (connection, timeout) have none."""
    import elastic_transport
    import elasticsearch

    if isinstance(exc, elasticsearch.ApiError):
        return _answered("elasticsearch", exc.meta.status, exc.message, exc.body)
    if isinstance(exc, elastic_transport.TransportError):
        return EngineUnavailable(f"elasticsearch unreachable: {exc}")
    return None


def opensearch_error(exc: Exception) -> SearchEngineError | None:
    """Ours for an opensearch-py error: status 'N/A' means no HTTP answer at all."""
    from opensearchpy import exceptions as os_errors

    if isinstance(exc, os_errors.ConnectionError):
        return EngineUnavailable(f"opensearch unreachable: {exc}")
    if isinstance(exc, os_errors.TransportError):
        status = exc.status_code
        if not isinstance(status, int):
            return EngineUnavailable(f"opensearch answered {status}: {exc.error}")
        return _answered("opensearch", status, exc.error, exc.info)
    if isinstance(exc, os_errors.OpenSearchException):
        return SearchEngineError(f"opensearch client: {exc}")
    return None


def _answered(engine: str, status: int, message: object, detail: object) -> SearchEngineError:
    """Ours for an HTTP error answer: busy or failing is transient, the rest is final."""
    if status == 429 or status >= 500:
        return EngineUnavailable(f"{engine} answered {status}: {message}")
    if status == 404:
        return NotFound(f"{engine} answered 404: {message}")
    return DocumentRejected(f"{engine} answered {status}: {message} {detail}")
