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
    if article.language in ANALYZERS:
        document["i18n"] = {
            article.language: {
                "title": article.title,
                "summary": article.summary,
                "body": article.body,
            }
        }
    return document


def entity_names(entities: tuple[Entity, ...]) -> dict[str, list[str]]:
    """Each type's distinct names, in order of first mention (an article counts
    once per name)."""
    names: dict[str, dict[str, None]] = {}
    for entity in entities:
        names.setdefault(entity.type, {})[entity.name] = None
    return {kind: list(found) for kind, found in names.items()}
