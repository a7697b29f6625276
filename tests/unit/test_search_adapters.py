"""Both adapters sort their client's errors the same way: transient (retry) or
rejected (dead letter). Pinned here with each client's real exception types."""

import elastic_transport
import elasticsearch
import pytest
from opensearchpy import exceptions as os_errors

from pipeline.search.clients import elasticsearch_error, opensearch_error
from pipeline.search.engine import DocumentRejected, EngineUnavailable, SearchEngineError


def _es_api_error(status: int) -> elasticsearch.ApiError:
    meta = elastic_transport.ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=elastic_transport.HttpHeaders(),
        duration=0.0,
        node=elastic_transport.NodeConfig("http", "localhost", 9200),
    )
    return elasticsearch.ApiError("some_exception", meta=meta, body={"error": "x"})


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (os_errors.ConnectionError("N/A", "refused", OSError()), EngineUnavailable),
        (os_errors.ConnectionTimeout("TIMEOUT", "timed out", OSError()), EngineUnavailable),
        (os_errors.TransportError(429, "es_rejected_execution_exception", {}), EngineUnavailable),
        (os_errors.TransportError(503, "unavailable_shards_exception", {}), EngineUnavailable),
        (os_errors.RequestError(400, "mapper_parsing_exception", {}), DocumentRejected),
        (os_errors.TransportError(413, "too large", {}), DocumentRejected),
    ],
)
def test_opensearch_errors(error: Exception, expected: type[SearchEngineError]) -> None:
    assert type(opensearch_error(error)) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (elastic_transport.ConnectionError("refused"), EngineUnavailable),
        (elastic_transport.ConnectionTimeout("timed out"), EngineUnavailable),
        (_es_api_error(429), EngineUnavailable),
        (_es_api_error(502), EngineUnavailable),
        (_es_api_error(400), DocumentRejected),
        (_es_api_error(413), DocumentRejected),
    ],
)
def test_elasticsearch_errors(error: Exception, expected: type[SearchEngineError]) -> None:
    assert type(elasticsearch_error(error)) is expected


def test_errors_that_are_not_the_clients_pass_through() -> None:
    assert opensearch_error(ValueError("x")) is None
    assert elasticsearch_error(ValueError("x")) is None
