"""Both adapters turn the engine's real answers into the same Vigie errors: no
answer at all, busy (429, 503), a refused document, a missing index. The unit
tests pin the same mapping on hand-made exceptions; these read real responses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.alerts.marks import Marks
from pipeline.search.clients import connect
from pipeline.search.engine import DocumentRejected, EngineUnavailable, NotFound, SearchEngine
from pipeline.search.templates import marks_body
from tests.esshim import ElasticsearchShim
from tests.integration.conftest import Adapter
from vigie.settings import free_port

pytestmark = pytest.mark.both_adapters

STRICT: dict[str, Any] = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {"dynamic": "strict", "properties": {"title": {"type": "text"}}},
}


def _name(what: str) -> str:
    return f"test-{uuid.uuid4().hex[:10]}-{what}"


@pytest.fixture(scope="module")
def strict_index(adapter: Adapter) -> Iterator[tuple[SearchEngine, str]]:
    engine = connect(adapter.settings(), timeout=10)
    name = _name("errors")
    assert engine.create_index(name, STRICT)
    yield engine, name
    engine.delete_index(name)
    engine.close()


def test_an_unreachable_engine_is_unavailable(adapter: Adapter) -> None:
    down = Adapter(adapter.name, f"http://127.0.0.1:{free_port()}")
    engine = connect(down.settings(), timeout=5)
    try:
        with pytest.raises(EngineUnavailable, match=f"{adapter.name} unreachable"):
            engine.health()
        with pytest.raises(EngineUnavailable, match=f"{adapter.name} unreachable"):
            engine.bulk_index("any", [("a", {"title": "x"})])
    finally:
        engine.close()


def test_behind_the_shim_an_engine_that_is_down_gives_no_answer() -> None:
    # What the Elasticsearch run of test_outage.py sees while the engine is stopped:
    # the shim answers nothing, as a stopped Elasticsearch would, rather than a 502.
    shim = ElasticsearchShim(f"http://127.0.0.1:{free_port()}").start()
    engine = connect(Adapter("elasticsearch", shim.url).settings(), timeout=5)
    try:
        with pytest.raises(EngineUnavailable, match="elasticsearch unreachable"):
            engine.health()
    finally:
        engine.close()
        shim.stop()


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_engine_is_unavailable_until_it_answers_again(
    adapter: Adapter,
    strict_index: tuple[SearchEngine, str],
    es_shim: ElasticsearchShim,
    status: int,
) -> None:
    _, index = strict_index
    # No engine answers 429 on demand, so here both clients go through the shim,
    # which makes no difference to opensearch-py's requests.
    engine = connect(Adapter(adapter.name, es_shim.url).settings(), timeout=10)
    try:
        with es_shim.refusing(status, naming=index, times=2):
            with pytest.raises(EngineUnavailable, match=f"{adapter.name} answered {status}"):
                engine.bulk_index(index, [("busy", {"title": "busy"})])
            with pytest.raises(EngineUnavailable, match=f"{adapter.name} answered {status}"):
                engine.search(index, {"query": {"match_all": {}}})
        (item,) = engine.bulk_index(index, [("busy", {"title": "busy"})])
        assert item.ok, item
    finally:
        engine.close()


def test_a_refused_document_is_rejected_for_good(strict_index: tuple[SearchEngine, str]) -> None:
    engine, index = strict_index
    with pytest.raises(DocumentRejected, match="strict_dynamic_mapping_exception") as refused:
        engine.put_document(index, "alone", {"title": "x", "unmapped": 1})
    assert not isinstance(refused.value, NotFound)

    # In a bulk request the engine refuses that one document and takes the others.
    items = engine.bulk_index(
        index, [("before", {"title": "x"}), ("bad", {"unmapped": 1}), ("after", {"title": "y"})]
    )
    assert [(item.id, item.ok) for item in items] == [
        ("before", True),
        ("bad", False),
        ("after", True),
    ]
    assert items[1].status == 400
    assert not items[1].retryable
    assert items[1].error is not None
    assert items[1].error.startswith("strict_dynamic_mapping_exception:")

    with pytest.raises(DocumentRejected, match="illegal_argument_exception"):
        engine.put_mapping(index, {"properties": {"title": {"type": "keyword"}}})
    # create_index reads "already exists" from the refusal's text
    assert engine.create_index(index, STRICT) is False


def test_a_missing_index_or_document_is_not_found(
    adapter: Adapter, strict_index: tuple[SearchEngine, str]
) -> None:
    engine, index = strict_index
    missing = _name("missing")
    with pytest.raises(NotFound, match=f"{adapter.name} answered 404: index_not_found_exception"):
        engine.search(missing, {"query": {"match_all": {}}})
    with pytest.raises(NotFound, match="index_not_found_exception"):
        engine.refresh(missing)
    assert engine.index_exists(missing) is False
    assert engine.alias_indices(missing) == {}
    assert engine.get_document(missing, "x") is None
    assert engine.delete_document(missing, "x") is False
    engine.delete_index(missing)  # nothing to delete is not an error

    assert engine.get_document(index, "never-written") is None
    assert engine.delete_document(index, "never-written") is False
    engine.put_document(index, "written", {"title": "x"}, wait=True)
    assert engine.get_document(index, "written") == {"title": "x"}
    assert engine.delete_document(index, "written", wait=True) is True


def test_a_claim_by_id_is_won_once_and_old_marks_expire(adapter: Adapter) -> None:
    """What alert marks rely on (pipeline/alerts/marks.py): create-if-absent is a
    409 the second time, on both engines; marks past their time are deleted."""
    engine = connect(adapter.settings(), timeout=10)
    index = _name("claims")
    try:
        engine.create_index(index, marks_body())
        marks = Marks(engine, index)
        assert marks.claim("r", ["a:1"], "alert-1") is None
        assert marks.claim("r", ["a:1"], "alert-1") is None  # its own pending claim
        marks.settle("r", ["a:1"], "alert-1")
        assert marks.claim("r", ["a:1"], "alert-1") == "a:1"  # fired: never twice
        assert marks.claim("r", ["a:2", "a:1"], "alert-2") == "a:1"
        assert marks.claim("r", ["a:2"], "alert-3") is None  # a:2 was released
        old = {"rule_id": "r", "key": "a:0", "alert_id": "x", "status": "sent"}
        engine.put_document(index, "old", {**old, "at": "2020-01-01T00:00:00+00:00"})
        assert marks.expire() == 1
        assert engine.get_document(index, "old") is None
        assert marks.claim("r", ["a:1"], "alert-1") == "a:1"  # recent marks stay
    finally:
        engine.delete_index(index)
        engine.close()


def test_delete_prefixed_removes_indices_and_templates_of_that_prefix_only(
    adapter: Adapter,
) -> None:
    engine = connect(adapter.settings(), timeout=10)
    mine, other = _name("mine"), _name("other")
    for prefix in (mine, other):
        engine.put_component_template(f"{prefix}-settings", {"template": {"settings": {}}})
        engine.put_index_template(
            f"{prefix}-template",
            {"index_patterns": [f"{prefix}-*"], "composed_of": [f"{prefix}-settings"]},
        )
        assert engine.create_index(f"{prefix}-1", {})
    try:
        engine.delete_prefixed(mine)
        assert not engine.index_exists(f"{mine}-1")
        assert engine.index_exists(f"{other}-1")
        names = _template_names(engine)
        assert not any(name.startswith(mine) for name in names)
        assert {f"{other}-template", f"{other}-settings"} <= names
    finally:
        engine.delete_prefixed(other)
        engine.close()
    assert not any(name.startswith(other) for name in _template_names(connect(adapter.settings())))


def _template_names(engine: SearchEngine) -> set[str]:
    # What the engine offers is deletion, not a listing: ask its client.
    client = engine._client
    index = client.indices.get_index_template()["index_templates"]
    component = client.cluster.get_component_template()["component_templates"]
    return {t["name"] for t in [*index, *component]}
