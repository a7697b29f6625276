"""Article queries, written once: `vigie search` builds them, and alert rules will
be the same queries stored in the percolator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pipeline.search.templates import TEXT_FIELDS

# Standard-analysed fields match every language's exact words; i18n.* fields match
# each language's stemmed forms ("négociation" finds "négociations" in French).
SEARCH_FIELDS = [
    "title^2",
    "summary",
    "body",
    *(f"i18n.*.{name}^2" if name == "title" else f"i18n.*.{name}" for name in TEXT_FIELDS),
]

Sort = Literal["relevance", "newest", "oldest"]


def _tag(value: str) -> dict[str, Any]:
    """A tag given by id (country:KP) or by label (Corée du Nord)."""
    return {
        "bool": {
            "should": [{"term": {"tags.id": value}}, {"term": {"tags.label": value}}],
            "minimum_should_match": 1,
        }
    }


def _entity(value: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [{"term": {"entities.id": value}}, {"term": {"entities.name": value}}],
            "minimum_should_match": 1,
        }
    }


@dataclass(frozen=True)
class ArticleQuery:
    text: str | None = None
    all_tags: tuple[str, ...] = ()
    any_tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # feed ids or names
    since: datetime | None = None
    until: datetime | None = None

    def to_query(self) -> dict[str, Any]:
        must: list[dict[str, Any]] = []
        filters: list[dict[str, Any]] = []
        if self.text:
            must.append(
                {
                    "simple_query_string": {
                        "query": self.text,
                        "fields": SEARCH_FIELDS,
                        "default_operator": "and",
                    }
                }
            )
        filters.extend(_tag(tag) for tag in self.all_tags)
        if self.any_tags:
            filters.append(
                {"bool": {"should": [_tag(t) for t in self.any_tags], "minimum_should_match": 1}}
            )
        filters.extend(_entity(entity) for entity in self.entities)
        if self.languages:
            filters.append({"terms": {"language": list(self.languages)}})
        if self.sources:
            filters.append(
                {
                    "bool": {
                        "should": [
                            {"terms": {"source.feed_id": list(self.sources)}},
                            {"terms": {"source.name": list(self.sources)}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        if self.since or self.until:
            bounds = {}
            if self.since:
                bounds["gte"] = self.since.isoformat()
            if self.until:
                bounds["lt"] = self.until.isoformat()
            filters.append({"range": {"published_at": bounds}})
        if not must and not filters:
            return {"match_all": {}}
        return {"bool": {"must": must, "filter": filters}}


def search_body(
    query: ArticleQuery, size: int = 10, sort: Sort = "relevance", top_tags: int = 0
) -> dict[str, Any]:
    body: dict[str, Any] = {"size": size, "query": query.to_query(), "track_total_hits": True}
    newest = {"published_at": {"order": "desc", "missing": "_last"}}
    if sort == "newest":
        body["sort"] = [newest, "_score"]
    elif sort == "oldest":
        body["sort"] = [{"published_at": {"order": "asc", "missing": "_last"}}, "_score"]
    else:
        body["sort"] = ["_score", newest]
    if top_tags:
        body["aggs"] = {
            "top_tags": {"terms": {"field": "tags.label", "size": top_tags}},
        }
    return body
