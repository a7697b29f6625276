"""Everything Vigie keeps in the engine, set up in one place (`setup`, which both
`vigie es setup` and the worker run): the articles' templates and write alias,
the alert rules' percolator index, the webhook deliveries index; and rollover.

The articles live in indices `<alias>-000001`, `<alias>-000002`, ... behind one
alias (VIGIE_INDEX_ARTICLES, default `news-articles`): searches read the alias,
writes go to its write index. Vigie rolls it over itself, through the rollover
API both engines have, when the write index is old, large or full enough.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.search.engine import SearchEngine
from vigie.settings import Settings

# Language of the article -> the engine's analyzer for it (analysis-common has them all).
ANALYZERS = {
    "fr": "french",
    "en": "english",
    "es": "spanish",
    "de": "german",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "sv": "swedish",
    "ru": "russian",
    "uk": "standard",
    "ar": "arabic",
    "fa": "persian",
    "tr": "turkish",
    "zh": "cjk",
    "ja": "cjk",
    "ko": "cjk",
}
TEXT_FIELDS = ("title", "summary", "body")


class SetupError(RuntimeError):
    """The engine holds something that is in the way (the message says what)."""


@dataclass(frozen=True)
class Indices:
    """The names of what Vigie keeps in the engine."""

    articles: str  # the alias searches read and the worker writes to
    rules: str
    deliveries: str
    marks: str  # which articles each rule fired on (pipeline/alerts/marks.py)
    stories: str  # one document per story (pipeline/signals/storyboard.py)
    # Copies of each shard on other nodes: 0 on one node (a replica can never be
    # placed there: the index would stay yellow), 1 or more on a cluster.
    replicas: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Indices:
        return cls(
            settings.index_articles,
            settings.index_alert_rules,
            settings.index_deliveries,
            settings.index_alert_marks,
            settings.index_stories,
            settings.index_replicas,
        )


@dataclass(frozen=True)
class Names:
    alias: str

    @property
    def template(self) -> str:
        return f"{self.alias}-template"

    @property
    def mappings(self) -> str:
        return f"{self.alias}-mappings"

    @property
    def settings(self) -> str:
        return f"{self.alias}-settings"

    @property
    def first_index(self) -> str:
        return f"{self.alias}-000001"


def articles_body(config_dir: Path, replicas: int | None = None) -> dict[str, Any]:
    """Settings and mappings of the articles indices, with one `i18n.<lang>`
    object of language-analysed text fields per language in ANALYZERS (and
    `replicas`, when given, instead of articles.json's number of replicas)."""
    body: dict[str, Any] = json.loads(
        (config_dir / "search" / "articles.json").read_text(encoding="utf-8")
    )
    body.pop("_comment", None)
    if replicas is not None:
        body["settings"]["number_of_replicas"] = replicas
    mappings = copy.deepcopy(body["mappings"])
    mappings["properties"]["i18n"] = {
        "properties": {
            language: {
                "properties": {name: {"type": "text", "analyzer": analyzer} for name in TEXT_FIELDS}
            }
            for language, analyzer in ANALYZERS.items()
        }
    }
    return {"settings": body["settings"], "mappings": mappings}


def rules_body(config_dir: Path, replicas: int = 0) -> dict[str, Any]:
    """The rules index: the articles' fields (the percolator needs their types),
    the query, and the rule itself, stored but not indexed."""
    mappings = copy.deepcopy(articles_body(config_dir)["mappings"])
    mappings["properties"].update(
        {
            "query": {"type": "percolator"},
            "rule_id": {"type": "keyword"},
            "rule_enabled": {"type": "boolean"},
            "rule_owner": {"type": "keyword"},  # file (alerts.yaml) or api
            # What an article must have for the rule to match it, as exact values
            # (pipeline/alerts/store.py `prefilter`): a batch is percolated against
            # the rules its articles can satisfy only.
            "rule_languages": {"type": "keyword"},
            "rule_any_tags": {"type": "keyword"},
            "rule_sources": {"type": "keyword"},
            "rule_needs": {"type": "keyword"},
            "rule": {"type": "object", "enabled": False},
        }
    )
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
        "mappings": mappings,
    }


_DELIVERIES_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "delivery_id": {"type": "keyword"},
        "rule_id": {"type": "keyword"},
        "destination": {"type": "keyword"},
        "article_ids": {"type": "keyword"},
        "attempt": {"type": "integer"},
        "status": {"type": "keyword"},
        "http_status": {"type": "integer"},
        "error": {"type": "text"},
        "latency_ms": {"type": "float"},
        "at": {"type": "date"},
    },
}


def deliveries_body(replicas: int = 0) -> dict[str, Any]:
    """The webhook deliveries index: one document per attempt or decision."""
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
        "mappings": _DELIVERIES_MAPPINGS,
    }


def marks_body(replicas: int = 0) -> dict[str, Any]:
    """The alert marks index (pipeline/alerts/marks.py)."""
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "rule_id": {"type": "keyword"},
                "key": {"type": "keyword"},
                "alert_id": {"type": "keyword"},
                "status": {"type": "keyword"},
                "at": {"type": "date"},
            },
        },
    }


_STORIES_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "story_id": {"type": "keyword"},
        "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
        "titles": {
            "properties": {
                "language": {"type": "keyword"},
                "title": {"type": "text"},
                "url": {"type": "keyword", "index": False},
                "article_id": {"type": "keyword"},
            }
        },
        "first_seen": {"type": "date"},
        "last_seen": {"type": "date"},
        "articles": {"type": "integer"},
        "languages": {"type": "keyword"},
        "language_count": {"type": "integer"},
        "sources": {"type": "keyword"},
        "source_count": {"type": "integer"},
        "tags": {"type": "keyword"},
        "tag_labels": {"type": "keyword"},
        "people": {"type": "keyword"},
        "updated_at": {"type": "date"},
    },
}


def stories_body(replicas: int = 0) -> dict[str, Any]:
    """The stories index (pipeline/signals/storyboard.py)."""
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
        "mappings": _STORIES_MAPPINGS,
    }


def setup(engine: SearchEngine, indices: Indices, config_dir: Path) -> list[str]:
    """The articles' templates and write alias, the rules index and the deliveries
    index, each made if missing, brought up to date (new fields, replicas) if
    not. Idempotent; returns what it did."""
    done = _setup_articles(engine, indices.articles, config_dir, indices.replicas)
    for name, body in (
        (indices.rules, rules_body(config_dir, indices.replicas)),
        (indices.deliveries, deliveries_body(indices.replicas)),
        (indices.marks, marks_body(indices.replicas)),
        (indices.stories, stories_body(indices.replicas)),
    ):
        if engine.index_exists(name):
            # Fields added since it was made (the rules index follows the articles'
            # mapping, which the percolator needs, and records each rule's owner).
            engine.put_mapping(name, body["mappings"])
            engine.put_index_settings(name, _replicas(indices.replicas))
        elif engine.create_index(name, body):
            done.append(f"index {name}")
    return done


def _replicas(replicas: int) -> dict[str, Any]:
    return {"index": {"number_of_replicas": replicas}}


def _setup_articles(engine: SearchEngine, alias: str, config_dir: Path, replicas: int) -> list[str]:
    names = Names(alias)
    body = articles_body(config_dir, replicas)
    engine.put_component_template(names.settings, {"template": {"settings": body["settings"]}})
    engine.put_component_template(names.mappings, {"template": {"mappings": body["mappings"]}})
    engine.put_index_template(
        names.template,
        {
            "index_patterns": [f"{names.alias}-*"],
            "composed_of": [names.settings, names.mappings],
            "priority": 200,
            "_meta": {"managed_by": "vigie"},
        },
    )
    done = [f"templates {names.template} ({names.settings}, {names.mappings})"]
    if existing := engine.alias_indices(names.alias):
        # A newer Vigie may add fields; the strict mapping of the write index would
        # refuse them until the next rollover. (Older indices keep their fields:
        # a search through the alias simply finds no value there.)
        for index, is_write in existing.items():
            if is_write:
                engine.put_mapping(index, body["mappings"])
        # Replicas are a dynamic setting: every index behind the alias follows it.
        engine.put_index_settings(names.alias, _replicas(replicas))
        return [*done, f"alias {names.alias} exists, mapping brought up to date"]
    if engine.index_exists(names.alias):
        raise SetupError(
            f"`{names.alias}` is an index, not an alias (made by an older Vigie?): "
            f"reindex it into {names.first_index} or delete it, then run `vigie es setup`"
        )
    if engine.create_index(names.first_index, {"aliases": {names.alias: {"is_write_index": True}}}):
        done.append(f"index {names.first_index} behind alias {names.alias}")
    return done


def rollover_conditions(settings: Settings) -> dict[str, Any]:
    return {
        "max_age": settings.rollover_max_age,
        "max_docs": settings.rollover_max_docs,
        "max_size": settings.rollover_max_size,
    }


def rollover(engine: SearchEngine, alias: str, conditions: dict[str, Any]) -> str | None:
    """Roll the alias over when a condition is met (always, with no conditions);
    the new write index's name if it did."""
    rolled, old_index, new_index = engine.rollover(alias, conditions)
    if not rolled:
        return None
    # Its last writes become visible to searches now, not at its next refresh: an
    # article updated right after is looked for there (SearchEngine.bulk_index).
    engine.refresh(old_index)
    return new_index
