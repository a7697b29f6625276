"""RuleStore (pipeline/alerts/store.py) over an in-memory engine: what it sends and
how it reads the answers. The real percolation is in tests/integration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.alerts.rules import AlertRule, RuleError, parse_rule
from pipeline.alerts.store import RuleMatch, RuleStore, candidates
from pipeline.search.documents import percolated_document, to_document
from pipeline.search.engine import Hit, SearchResult
from pipeline.search.query import ArticleQuery
from tests.conftest import make_article
from tests.unit.fakes import FakeEngine
from vigie.article import Article, Entity, Source, Tag

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
        "percolate": {"field": "query", "documents": [percolated_document(a) for a in articles]}
    }
    enabled, *prefilters = body["query"]["bool"]["filter"]
    assert enabled == {"term": {"rule_enabled": True}}
    assert prefilters == candidates(articles)
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


# The prefilter: each rule stored with what an article must carry for it to
# match, and each batch percolated against the rules its articles can satisfy.

KP = Tag(id="country:KP", label="Corée du Nord", kind="country")
RU = Tag(id="country:RU", label="Russie", kind="country")


def _entity(entity_id: str | None, name: str) -> Entity:
    return Entity(
        type="PER", id=entity_id, name=name, text=name, start=0, end=len(name), source="rules"
    )


def _query_rule(rule_id: str, **query: Any) -> AlertRule:
    return parse_rule(
        {"id": rule_id, "query": query, "destinations": [{"url": "https://hooks.example/a"}]}
    )


def _kept(document: dict[str, Any], clause: dict[str, Any]) -> bool:
    """Whether a rules index document passes a `candidates` clause: the few forms
    it writes (bool should / must_not, exists, terms), as the engine reads them."""
    if "bool" in clause:
        spec = clause["bool"]
        if "must_not" in spec:
            return not _kept(document, spec["must_not"])
        return any(_kept(document, c) for c in spec["should"])
    if "exists" in clause:
        return bool(document.get(clause["exists"]["field"]))
    ((field, values),) = clause["terms"].items()
    return bool(set(document.get(field) or []) & set(values))


def _candidate(engine: FakeEngine, rule_id: str, articles: list[Article]) -> bool:
    document = engine.documents[INDEX][rule_id]
    return all(_kept(document, clause) for clause in candidates(articles))


def test_put_stores_what_an_article_must_carry() -> None:
    engine, store = _store()
    store.put(
        _query_rule(
            "full",
            text="missile",
            languages=["fr", "en"],
            any_tags=["Russie", "country:UA"],
            all_tags=["country:KP"],
            entities=["person:kim-jong-un"],
            sources=["lemonde"],
        )
    )
    document = engine.documents[INDEX]["full"]
    assert document["rule_languages"] == ["en", "fr"]
    assert document["rule_any_tags"] == ["Russie", "country:UA"]
    assert document["rule_sources"] == ["lemonde"]
    assert document["rule_needs"] == ["entity:person:kim-jong-un", "tag:country:KP"]
    store.put(_query_rule("text-only", text="missile"))
    assert [engine.documents[INDEX]["text-only"][f] for f in prefilter_fields()] == [[]] * 4


def prefilter_fields() -> list[str]:
    return ["rule_languages", "rule_any_tags", "rule_sources", "rule_needs"]


def test_a_batch_keeps_only_the_rules_its_articles_can_satisfy() -> None:
    engine, store = _store()
    store.put(_query_rule("fr", languages=["fr"]))
    store.put(_query_rule("by-label", any_tags=["Corée du Nord"]))
    store.put(_query_rule("both", all_tags=["country:KP", "country:RU"]))
    store.put(_query_rule("kim", entities=["Kim Jong-un"]))
    store.put(_query_rule("lemonde", sources=["Le Monde"]))
    store.put(_query_rule("text", text="missile"))
    french = make_article("https://x.example/fr", language="fr", tags=(KP,))
    english = make_article(
        "https://x.example/en",
        language="en",
        tags=(RU,),
        entities=(_entity(None, "Kim Jong-un"),),
        source=Source(feed_id="lemonde", name="Le Monde"),
    )
    kept = {rule_id for rule_id in engine.documents[INDEX] if _candidate(engine, rule_id, [french])}
    assert kept == {"fr", "by-label", "both", "text"}
    kept = {r for r in engine.documents[INDEX] if _candidate(engine, r, [english])}
    # "both" is kept for one of its tags: a batch asks one need, not each.
    assert kept == {"both", "kim", "lemonde", "text"}
    assert all(_candidate(engine, r, [french, english]) for r in engine.documents[INDEX])


def test_a_rule_stored_without_prefilter_values_is_a_candidate_for_every_batch() -> None:
    engine, _ = _store()
    rule = _query_rule("old", languages=["fr"], all_tags=["country:KP"])
    engine.documents[INDEX]["old"] = {  # as a Vigie before the prefilter stored it
        "query": rule.query.article_query().to_query(),
        "rule_id": "old",
        "rule_enabled": True,
        "rule_owner": "api",
        "rule": rule.stored(),
    }
    bare = make_article("https://x.example/bare")
    assert _candidate(engine, "old", [bare])
    assert _candidate(engine, "old", [make_article("https://x.example/de", language="de")])


def test_load_backfills_the_file_rules_stored_without_prefilter_values(tmp_path: Path) -> None:
    engine, store = _store()
    path = _file(tmp_path, "alpha")
    store.load(path)
    store.put(_rule("from-api"))
    for document in engine.documents[INDEX].values():
        for field in prefilter_fields():
            del document[field]
    engine.calls.clear()
    assert store.load(path) == (1, [])
    # The file's rule is written again; the API's is left (a write here could undo
    # a PUT made meanwhile): it stays a candidate for every batch.
    assert [args[1] for args in engine.called("put_document")] == ["alpha"]
    assert "rule_needs" in engine.documents[INDEX]["alpha"]
    assert "rule_needs" not in engine.documents[INDEX]["from-api"]
    assert {s.rule.id: s.prefiltered for s in store.stored()} == {
        "alpha": True,
        "from-api": False,
    }


def _fields_read(query: Any) -> set[str]:
    """Every field name a query (as query.py writes it) reads."""
    found: set[str] = set()
    if isinstance(query, dict):
        for key, value in query.items():
            if key in ("term", "terms", "range"):
                found.update(value)
            elif key == "simple_query_string":
                found.update(name.partition("^")[0] for name in value["fields"])
            else:
                found |= _fields_read(value)
    elif isinstance(query, list):
        for item in query:
            found |= _fields_read(item)
    return found


def _value(document: dict[str, Any], path: str) -> Any:
    """The values at a dotted path (lists flattened, as the engine indexes them)."""
    values: list[Any] = [document]
    for name in path.split("."):
        step: list[Any] = []
        for value in values:
            found = list(value.values()) if name == "*" else [value.get(name)]
            for item in found:
                step.extend(item if isinstance(item, list) else [item])
        values = [v for v in step if v is not None]
    return values


def test_the_percolated_document_has_every_field_a_rule_reads_with_the_same_values() -> None:
    query = _query_rule(
        "every",
        text="missile",
        keywords=["ICBM"],
        languages=["fr"],
        any_tags=["Russie"],
        all_tags=["country:KP"],
        entities=["person:kim-jong-un"],
        sources=["lemonde"],
    ).query.article_query()
    dated = ArticleQuery(text="x", since=datetime(2025, 1, 1, tzinfo=UTC))
    read = _fields_read(query.to_query()) | _fields_read(dated.to_query())
    assert {"title", "body", "i18n.*.body", "tags.label", "entities.id", "language"} <= read
    article = make_article(
        "https://x.example/every",
        "Titre",
        "Corps du texte",
        summary="Résumé",
        language="fr",
        tags=(KP, RU),
        entities=(_entity("person:kim-jong-un", "Kim Jong-un"), _entity(None, "Sans Id")),
        source=Source(feed_id="lemonde", name="Le Monde"),
        published_at=datetime(2025, 2, 1, 12, tzinfo=UTC),
    )
    full, small = to_document(article), percolated_document(article)
    for path in read:
        assert _value(small, path) == _value(full, path), path
        assert _value(full, path), path  # the article above carries every field
    assert len(json.dumps(small)) < len(json.dumps(full))


def test_a_batch_larger_than_the_batch_size_is_sent_in_turns() -> None:
    engine = FakeEngine()
    store = RuleStore(engine, INDEX, batch_size=2)
    articles = [make_article(f"https://x.example/{i}", f"Titre {i}") for i in range(5)]
    rule = _rule()
    for slots in ([0, 1], [0, 1], [0]):
        engine.search_answers.append(SearchResult(hits=[_hit(rule, slots)], total=1))
    matches = store.match(articles)
    sent = [
        body["query"]["bool"]["must"]["percolate"]["documents"]
        for _, body in engine.called("search")
    ]
    assert [len(documents) for documents in sent] == [2, 2, 1]
    # Slots are counted within each request.
    assert [m.article for m in matches] == [
        articles[0],
        articles[1],
        articles[2],
        articles[3],
        articles[4],
    ]


def test_a_changed_rule_is_read_anew_from_the_hit() -> None:
    engine, store = _store()
    article = make_article("https://x.example/a", "A")
    before, after = _rule(throttle_seconds=60), _rule(throttle_seconds=600)
    engine.search_answers.append(SearchResult(hits=[_hit(before, None)], total=1))
    engine.search_answers.append(SearchResult(hits=[_hit(after, None)], total=1))
    assert store.match([article])[0].rule.throttle_seconds == 60
    assert store.match([article])[0].rule.throttle_seconds == 600
