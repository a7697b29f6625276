"""The search document of an article: the article's own fields, plus its text
under `i18n.<language>` so that language's analyzer stems it."""

from __future__ import annotations

from typing import Any

from pipeline.search.templates import ANALYZERS
from vigie.article import Article


def to_document(article: Article) -> dict[str, Any]:
    document = article.model_dump(mode="json")
    if article.language in ANALYZERS:
        document["i18n"] = {
            article.language: {
                "title": article.title,
                "summary": article.summary,
                "body": article.body,
            }
        }
    return document
