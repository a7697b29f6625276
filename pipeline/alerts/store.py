"""Rules live as percolator queries in their own index, beside the fields of the
articles mapping, so the engine matches articles against every rule at once.

Every stored rule has an owner (`rule_owner`): `file` for the rules of
config/alerts.yaml, which follow the file (added, updated and removed with it at
each load), and `api` for the rules made through the REST API, which the file
never touches and the API alone changes. A rule stored by an older Vigie has no
owner: the file takes it over if it names it, else it is left to the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipeline.alerts.rules import AlertRule, RuleError, parse_rule, read_rule_file
from pipeline.search.documents import to_document
from pipeline.search.engine import SearchEngine
from vigie import logs
from vigie.article import Article

log = logs.get(__name__)

Owner = Literal["file", "api"]
FILE: Owner = "file"
API: Owner = "api"


@dataclass(frozen=True)
class StoredRule:
    rule: AlertRule
    owner: Owner | None  # None: stored by a Vigie that did not record owners


def _stored_rule(source: Any) -> StoredRule:
    owner = source.get("rule_owner")
    return StoredRule(parse_rule(source["rule"]), owner if owner in (FILE, API) else None)


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
        """Make the rules index hold what the YAML file (config/alerts.yaml) says of
        the rules it owns: its rules added or updated, the file's rules it no longer
        names removed. Rules of the API are never touched: a file rule with an API
        rule's id is an error. An invalid rule is an error naming file, rule and
        field, and keeps its stored version; an unreadable file changes nothing.
        Returns how many of the file's rules are in the index, and the errors."""
        found = read_rule_file(path)
        errors = list(found.errors)
        stored = {s.rule.id: s for s in self.stored()}
        changed, loaded = False, 0
        for rule in found.rules:
            mine = stored.get(rule.id)
            if mine is not None and mine.owner == API:
                message = "a rule made through the API has this id: rename one of them"
                errors.append(
                    RuleError(f"{path}: rule {rule.id}", [{"field": "id", "message": message}])
                )
                continue
            loaded += 1
            if mine is None or mine.owner != FILE or mine.rule.stored() != rule.stored():
                self.put(rule, wait=False, owner=FILE)
                changed = True
        if found.declared is not None:
            for gone in stored.values():
                if gone.owner == FILE and gone.rule.id not in found.declared:
                    self._engine.delete_document(self._index, gone.rule.id)
                    log.info("alert_rule_removed", rule=gone.rule.id, reason=f"not in {path}")
                    changed = True
        if changed:
            self.refresh()
        return loaded, errors

    def put(self, rule: AlertRule, wait: bool = True, owner: Owner = API) -> None:
        """Create or replace a rule; with `wait`, matching sees it on return."""
        document = {
            # Only match rules are percolated; signals are watched on a timer.
            "query": rule.query.article_query().to_query()
            if rule.percolated
            else {"match_none": {}},
            "rule_id": rule.id,
            "rule_enabled": rule.enabled,
            "rule_owner": owner,
            "rule": rule.stored(),
        }
        self._engine.put_document(self._index, rule.id, document, wait=wait)

    def refresh(self) -> None:
        self._engine.refresh(self._index)

    def get(self, rule_id: str) -> AlertRule | None:
        found = self.find(rule_id)
        return found.rule if found else None

    def find(self, rule_id: str) -> StoredRule | None:
        """The rule with its owner."""
        found = self._engine.get_document(self._index, rule_id)
        return _stored_rule(found) if found else None

    def delete(self, rule_id: str) -> bool:
        return self._engine.delete_document(self._index, rule_id, wait=True)

    def count(self) -> int:
        return self._engine.search(self._index, {"size": 0, "query": {"match_all": {}}}).total

    def all(self) -> list[AlertRule]:
        return [stored.rule for stored in self.stored()]

    def stored(self) -> list[StoredRule]:
        """Every rule with its owner, sorted by id."""
        result = self._engine.search(
            self._index, {"query": {"match_all": {}}, "size": 10_000, "sort": ["rule_id"]}
        )
        return [_stored_rule(hit.source) for hit in result.hits]

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
