"""RuleStore (pipeline/alerts/store.py) over an in-memory engine: what it sends and
how it reads the answers. The real percolation is in tests/integration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.alerts.rules import AlertRule, RuleError, parse_rule
from pipeline.alerts.store import RuleMatch, RuleStore
from pipeline.search.documents import to_document
from pipeline.search.engine import Hit, SearchResult
from tests.conftest import make_article
from tests.unit.fakes import FakeEngine

INDEX = "test-rules"


def _rule(rule_id: str = "baltique", **fields: Any) -> AlertRule:
    return parse_rule(
        {
            "id": rule_id,
            "name": rule_id.title(),
            "query": {"text": "Baltique", "languages": ["fr"]},
            "destinations": [{"url": "https://hooks.example/vigie", "secret": "s3cret"}],
            **fields,
        }
    )


def _store() -> tuple[FakeEngine, RuleStore]:
    engine = FakeEngine()
    return engine, RuleStore(engine, INDEX)


def test_put_sends_the_query_the_rule_and_its_state() -> None:
    engine, store = _store()
    rule = _rule(enabled=False)
    store.put(rule)
    ((index, doc_id, document, wait),) = engine.called("put_document")
    assert (index, doc_id, wait) == (INDEX, "baltique", True)
    assert document["query"] == rule.query.article_query().to_query()
    assert document["rule_id"] == "baltique"
    assert document["rule_enabled"] is False
    assert document["rule_owner"] == "api"  # the default: the API's rules
    assert document["rule"]["destinations"][0]["secret"] == "s3cret"  # stored in clear


def test_put_without_wait() -> None:
    engine, store = _store()
    store.put(_rule(), wait=False)
    ((_, _, _, wait),) = engine.called("put_document")
    assert wait is False


def test_get_reads_back_the_rule_with_its_secret() -> None:
    _, store = _store()
    rule = _rule(throttle_seconds=60, digest_seconds=5, suppress_duplicates=False)
    store.put(rule)
    found = store.get("baltique")
    assert found == rule
    assert found is not None
    assert found.destinations[0].secret is not None
    assert found.destinations[0].secret.get_secret_value() == "s3cret"


def test_get_of_a_missing_rule_is_none() -> None:
    engine, store = _store()
    assert store.get("nope") is None
    assert engine.called("get_document") == [(INDEX, "nope")]


def test_delete_says_whether_there_was_a_rule() -> None:
    engine, store = _store()
    store.put(_rule())
    assert store.delete("baltique") is True
    assert store.delete("baltique") is False
    assert engine.called("delete_document") == [(INDEX, "baltique", True)] * 2
    assert store.get("baltique") is None


def test_all_lists_every_rule_sorted_by_id() -> None:
    engine, store = _store()
    for rule_id in ("zeta", "alpha", "mid"):
        store.put(_rule(rule_id))
    assert [r.id for r in store.all()] == ["alpha", "mid", "zeta"]
    ((index, body),) = engine.called("search")
    assert index == INDEX
    assert body == {"query": {"match_all": {}}, "size": 10_000, "sort": ["rule_id"]}


def test_refresh_refreshes_the_rules_index() -> None:
    engine, store = _store()
    store.refresh()
    assert engine.called("refresh") == [(INDEX,)]


def test_load_puts_the_valid_rules_and_reports_the_invalid_ones(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        """
rules:
  - id: coree
    query: {all_tags: [country:KP]}
    destinations: [{url: "https://hooks.example/a"}]
  - id: Bad Id
    query: {}
    destinations: [{url: "https://hooks.example/b"}]
""",
        encoding="utf-8",
    )
    engine, store = _store()
    loaded, errors = store.load(path)
    assert loaded == 1
    (error,) = errors
    assert isinstance(error, RuleError)
    assert "rule Bad Id" in str(error)
    assert {e["field"] for e in error.errors} == {"id", "query"}
    assert [args[1] for args in engine.called("put_document")] == ["coree"]
    assert [r.id for r in store.all()] == ["coree"]


def _file(tmp_path: Path, *rules: str) -> Path:
    """An alerts.yaml holding one rule per id (`id` or `id:text` to vary its query)."""
    path = tmp_path / "alerts.yaml"
    entries = []
    for spec in rules:
        rule_id, _, text = spec.partition(":")
        entries.append(
            f"  - id: {rule_id}\n    query: {{text: {text or rule_id}}}\n"
            '    destinations: [{url: "https://hooks.example/a"}]\n'
        )
    path.write_text("rules:\n" + "".join(entries) if entries else "rules: []\n", "utf-8")
    return path


def _owners(store: RuleStore) -> dict[str, str | None]:
    return {stored.rule.id: stored.owner for stored in store.stored()}


def test_load_stores_the_file_rules_as_the_files_with_one_refresh(tmp_path: Path) -> None:
    engine, store = _store()
    assert store.load(_file(tmp_path, "alpha", "beta")) == (2, [])
    assert _owners(store) == {"alpha": "file", "beta": "file"}
    puts = engine.called("put_document")
    assert [(doc_id, wait) for _, doc_id, _, wait in puts] == [("alpha", False), ("beta", False)]
    assert engine.called("refresh") == [(INDEX,)]


def test_loading_the_same_file_again_writes_nothing(tmp_path: Path) -> None:
    engine, store = _store()
    path = _file(tmp_path, "alpha", "beta")
    store.load(path)
    engine.calls.clear()
    assert store.load(path) == (2, [])
    assert engine.called("put_document") == []
    assert engine.called("delete_document") == []
    assert engine.called("refresh") == []


def test_a_rule_removed_from_the_file_is_removed_and_api_rules_stay(tmp_path: Path) -> None:
    engine, store = _store()
    store.put(_rule("from-api"))
    store.load(_file(tmp_path, "alpha", "beta"))
    assert store.load(_file(tmp_path, "alpha")) == (1, [])
    assert _owners(store) == {"alpha": "file", "from-api": "api"}
    assert [args[1] for args in engine.called("delete_document")] == ["beta"]


def test_a_rule_edited_in_the_file_is_updated(tmp_path: Path) -> None:
    _, store = _store()
    store.load(_file(tmp_path, "alpha:Baltique"))
    store.load(_file(tmp_path, "alpha:Arctique"))
    found = store.get("alpha")
    assert found is not None
    assert found.query.text == "Arctique"


def test_a_missing_file_removes_the_file_rules_only(tmp_path: Path) -> None:
    _, store = _store()
    store.put(_rule("from-api"))
    path = _file(tmp_path, "alpha")
    store.load(path)
    path.unlink()
    assert store.load(path) == (0, [])
    assert _owners(store) == {"from-api": "api"}


def test_the_file_never_touches_an_api_rule_of_the_same_id(tmp_path: Path) -> None:
    engine, store = _store()
    mine = _rule("shared")
    store.put(mine)
    engine.calls.clear()
    loaded, (error,) = store.load(_file(tmp_path, "shared:Arctique", "alpha"))
    assert loaded == 1
    assert "rule shared" in str(error)
    assert error.errors == [
        {"field": "id", "message": "a rule made through the API has this id: rename one of them"}
    ]
    assert [args[1] for args in engine.called("put_document")] == ["alpha"]
    assert store.get("shared") == mine
    assert _owners(store)["shared"] == "api"


def test_an_invalid_rule_keeps_its_stored_version(tmp_path: Path) -> None:
    _, store = _store()
    store.load(_file(tmp_path, "alpha"))
    broken = tmp_path / "alerts.yaml"
    broken.write_text("rules:\n  - id: alpha\n    query: {}\n", "utf-8")
    loaded, (error,) = store.load(broken)
    assert loaded == 0
    assert "rule alpha" in str(error)
    assert _owners(store) == {"alpha": "file"}


def test_a_file_that_cannot_be_read_changes_nothing(tmp_path: Path) -> None:
    engine, store = _store()
    path = _file(tmp_path, "alpha")
    store.load(path)
    engine.calls.clear()
    for text in ("rules: [unclosed\n", "rules: {alpha: 1}\n"):
        path.write_text(text, "utf-8")
        loaded, (error,) = store.load(path)
        assert loaded == 0
        assert error.errors[0]["field"] in ("file", "rules")
    assert engine.called("delete_document") == []
    assert _owners(store) == {"alpha": "file"}


def test_an_ownerless_rule_is_taken_by_the_file_if_named_there_else_left(tmp_path: Path) -> None:
    engine, store = _store()
    for rule_id in ("named", "unnamed"):  # as an older Vigie stored them
        rule = _rule(rule_id)
        engine.documents[INDEX][rule_id] = {"rule_id": rule_id, "rule": rule.stored()}
    assert _owners(store) == {"named": None, "unnamed": None}
    store.load(_file(tmp_path, "named"))
    assert _owners(store) == {"named": "file", "unnamed": None}
    store.load(_file(tmp_path))
    assert _owners(store) == {"unnamed": None}


def test_matching_no_articles_asks_nothing() -> None:
    engine, store = _store()
    assert store.match([]) == []
    assert engine.calls == []


def _hit(rule: AlertRule, slots: list[int] | None) -> Hit:
    fields = {} if slots is None else {"_percolator_document_slot": slots}
    return Hit(id=rule.id, score=1.0, source={"rule": rule.stored()}, fields=fields)


def test_match_percolates_the_batch_once_over_enabled_rules() -> None:
    engine, store = _store()
    articles = [make_article(f"https://x.example/{i}", f"Titre {i}") for i in range(3)]
    engine.search_answers.append(SearchResult(hits=[], total=0))
    assert store.match(articles) == []
    ((index, body),) = engine.called("search")
    assert index == INDEX
    assert body["query"]["bool"]["must"] == {
        "percolate": {"field": "query", "documents": [to_document(a) for a in articles]}
    }
    assert body["query"]["bool"]["filter"] == {"term": {"rule_enabled": True}}
    assert body["_source"] == ["rule"]


def test_match_pairs_each_rule_with_the_articles_of_its_slots() -> None:
    engine, store = _store()
    articles = [make_article(f"https://x.example/{i}", f"Titre {i}") for i in range(3)]
    one, two = _rule("one"), _rule("two")
    engine.search_answers.append(SearchResult(hits=[_hit(one, [0, 2]), _hit(two, [1])], total=2))
    matches = store.match(articles)
    assert matches == [
        RuleMatch(one, articles[0]),
        RuleMatch(one, articles[2]),
        RuleMatch(two, articles[1]),
    ]


def test_a_hit_without_a_slot_field_is_the_only_article() -> None:
    engine, store = _store()
    article = make_article("https://x.example/seul", "Seul")
    rule = _rule()
    engine.search_answers.append(SearchResult(hits=[_hit(rule, None)], total=1))
    assert store.match([article]) == [RuleMatch(rule, article)]
