"""The search document of an article: the article's own fields, plus what the
index derives from them (the article schema, vigie/article.py, stays as it is):

- its text under `i18n.<language>`, so that language's analyzer stems it;
- `dated_at`, the date every article has: `published_at`, else `fetched_at`
  (the Kibana data view's time field: an undated article is still on the
  timeline, at the time it was fetched);
- `entity_names.<TYPE>` (PER, ORG, LOC, MISC): the article's entity names, one
  keyword field per type. `entities` is an array of objects, which the engine
  flattens into one list per field, so "name" and "type" lose their pairing; a
  field per type keeps it, and every Kibana visualization can count it (nested
  fields cannot be aggregated by Kibana's visualizations).

`percolated_document` is the smaller document alert rules are matched against:
only the fields a rule's query can read (pipeline/search/query.py).
"""

from __future__ import annotations

from typing import Any

from pipeline.search.templates import ANALYZERS
from vigie.article import Article, Entity


def to_document(article: Article) -> dict[str, Any]:
    document = article.model_dump(mode="json")
    document["dated_at"] = document["published_at"] or document["fetched_at"]
    if names := entity_names(article.entities):
        document["entity_names"] = names
    document.update(_i18n(article))
    return document


# What an ArticleQuery reads (query.py: text fields, tags, entities, language,
# source, published_at); tests/unit/test_rule_store.py keeps the two in step.
_PERCOLATED: dict[str, Any] = {
    "title": True,
    "summary": True,
    "body": True,
    "language": True,
    "published_at": True,
    "source": {"feed_id", "name"},
    "tags": {"__all__": {"id", "label"}},
    "entities": {"__all__": {"id", "name"}},
}


def percolated_document(article: Article) -> dict[str, Any]:
    """The article as alert rules see it: the fields of `to_document` that a rule's
    query reads, with the same values. The percolator indexes every field it is
    sent, for every document of the batch; entities' offsets, texts and sources,
    dates, ids and URLs were indexed for nothing."""
    document = article.model_dump(mode="json", include=_PERCOLATED)
    document.update(_i18n(article))
    return document


def _i18n(article: Article) -> dict[str, Any]:
    if article.language not in ANALYZERS:
        return {}
    return {
        "i18n": {
            article.language: {
                "title": article.title,
                "summary": article.summary,
                "body": article.body,
            }
        }
    }


def entity_names(entities: tuple[Entity, ...]) -> dict[str, list[str]]:
    """Each type's distinct names, in order of first mention (an article counts
    once per name)."""
    names: dict[str, dict[str, None]] = {}
    for entity in entities:
        names.setdefault(entity.type, {})[entity.name] = None
    return {kind: list(found) for kind, found in names.items()}
