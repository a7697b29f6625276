"""The search document of an article (pipeline/search/documents.py): the fields the
index derives from the article, which Kibana counts and plots."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.search.documents import to_document
from tests.conftest import make_article
from vigie.article import Entity, EntityType

FETCHED = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def _entity(kind: EntityType, name: str, start: int = 0) -> Entity:
    return Entity(
        type=kind,
        id=None,
        name=name,
        text=name,
        start=start,
        end=start + len(name),
        source="gazetteer",
    )


def test_dated_at_is_the_publication_date_when_there_is_one() -> None:
    published = datetime(2025, 2, 27, 17, 0, tzinfo=UTC)
    document = to_document(make_article("https://x.example/a", published_at=published))
    assert document["dated_at"] == "2025-02-27T17:00:00Z"
    assert document["published_at"] == document["dated_at"]


def test_an_undated_article_is_dated_when_it_was_fetched() -> None:
    article = make_article("https://x.example/b", fetched_at=FETCHED, date_missing=True)
    document = to_document(article)
    assert document["published_at"] is None
    assert document["dated_at"] == "2025-03-01T08:30:00Z"


def test_entity_names_are_grouped_by_type_once_each_in_order() -> None:
    entities = (
        _entity("LOC", "Russie"),
        _entity("PER", "Kim Jong-un", 10),
        _entity("LOC", "Corée du Nord", 20),
        _entity("LOC", "Russie", 40),
        _entity("ORG", "ONU", 50),
    )
    document = to_document(make_article("https://x.example/c", entities=entities))
    assert document["entity_names"] == {
        "LOC": ["Russie", "Corée du Nord"],
        "PER": ["Kim Jong-un"],
        "ORG": ["ONU"],
    }
    # The article's own entities are still all there, for "has entity X" queries.
    assert len(document["entities"]) == 5


def test_an_article_without_entities_has_no_entity_names() -> None:
    assert "entity_names" not in to_document(make_article("https://x.example/d"))
