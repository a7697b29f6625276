"""Rules live as percolator queries in their own index, beside the fields of the
articles mapping, so the engine matches articles against every rule at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.alerts.rules import AlertRule, RuleError, load_rules, parse_rule
from pipeline.search.documents import to_document
from pipeline.search.engine import SearchEngine
from vigie.article import Article


@dataclass(frozen=True)
class RuleMatch:
    rule: AlertRule
    article: Article


class RuleStore:
    """The rules index (made by pipeline/search/templates.py `setup`)."""

    def __init__(self, engine: SearchEngine, index: str) -> None:
        self._engine = engine
        self._index = index

    def load(self, path: Path) -> tuple[int, list[RuleError]]:
        """Put the rules of a YAML file (config/alerts.yaml); the invalid ones come
        back as errors naming file, rule and field, and the valid ones load."""
        rules, errors = load_rules(path)
        for rule in rules:
            self.put(rule)
        return len(rules), errors

    def put(self, rule: AlertRule, wait: bool = True) -> None:
        """Create or replace a rule; with `wait`, matching sees it on return."""
        document = {
            "query": rule.query.article_query().to_query(),
            "rule_id": rule.id,
            "rule_enabled": rule.enabled,
            "rule": rule.stored(),
        }
        self._engine.put_document(self._index, rule.id, document, wait=wait)

    def refresh(self) -> None:
        self._engine.refresh(self._index)

    def get(self, rule_id: str) -> AlertRule | None:
        found = self._engine.get_document(self._index, rule_id)
        return parse_rule(found["rule"]) if found else None

    def delete(self, rule_id: str) -> bool:
        return self._engine.delete_document(self._index, rule_id, wait=True)

    def count(self) -> int:
        return self._engine.search(self._index, {"size": 0, "query": {"match_all": {}}}).total

    def all(self) -> list[AlertRule]:
        result = self._engine.search(
            self._index, {"query": {"match_all": {}}, "size": 10_000, "sort": ["rule_id"]}
        )
        return [parse_rule(hit.source["rule"]) for hit in result.hits]

    def match(self, articles: Sequence[Article]) -> list[RuleMatch]:
        """Every (enabled rule, article) pair where the rule's query matches, in one
        percolate request for the whole batch."""
        if not articles:
            return []
        documents: list[dict[str, Any]] = [to_document(a) for a in articles]
        result = self._engine.search(
            self._index,
            {
                "size": 10_000,
                "query": {
                    "bool": {
                        "must": {"percolate": {"field": "query", "documents": documents}},
                        "filter": {"term": {"rule_enabled": True}},
                    }
                },
                "_source": ["rule"],
            },
        )
        matches: list[RuleMatch] = []
        for hit in result.hits:
            rule = parse_rule(hit.source["rule"])
            # One document is percolated without the slot field (ES/OpenSearch both).
            slots = hit.fields.get("_percolator_document_slot", [0])
            matches.extend(RuleMatch(rule, articles[slot]) for slot in slots)
        return matches
