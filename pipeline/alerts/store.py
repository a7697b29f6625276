"""Rules live as percolator queries in their own index, beside the fields of the
articles mapping, so the engine matches articles against every rule at once.

Every stored rule has an owner (`rule_owner`): `file` for the rules of
config/alerts.yaml, which follow the file (added, updated and removed with it at
each load), and `api` for the rules made through the REST API, which the file
never touches and the API alone changes. A rule stored by an older Vigie has no
owner: the file takes it over if it names it, else it is left to the API.

Matching a batch is one percolate request; its cost grows with the rules the
engine has to run, about 1 ms each for a text rule, whatever the batch size. So
each rule is stored with what an article must carry for it to match (`prefilter`),
the request runs only the rules some article of the batch can satisfy, and it
sends only the fields rules read (`percolated_document`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipeline.alerts.rules import AlertRule, RuleError, parse_rule, read_rule_file
from pipeline.search.documents import percolated_document
from pipeline.search.engine import SearchEngine
from vigie import logs
from vigie.article import Article

log = logs.get(__name__)

Owner = Literal["file", "api"]
FILE: Owner = "file"
API: Owner = "api"

# Articles per percolate request: a request costs about the same for 100 articles
# as for 500 (bench/percolate_bench.py), and the `match` stage hands over at most
# VIGIE_BULK_MAX_DOCS (500) at once.
BATCH_SIZE = 500
# Keep a tag and an entity of the same name apart in `rule_needs`.
_TAG, _ENTITY = "tag:", "entity:"
_PREFILTER_FIELDS = ("rule_languages", "rule_any_tags", "rule_sources", "rule_needs")


def prefilter(rule: AlertRule) -> dict[str, list[str]]:
    """What an article must carry for the rule to match it, as the exact values its
    query compares (query.py: terms on keyword fields, no normalizer): one of its
    languages, one of its any_tags (id or label), one of its sources (feed id or
    name), and each of its all_tags and entities. An empty list (stored as no
    value) asks nothing."""
    query = rule.query
    return {
        "rule_languages": sorted(set(query.languages)),
        "rule_any_tags": sorted(set(query.any_tags)),
        "rule_sources": sorted(set(query.sources)),
        "rule_needs": sorted(
            {_TAG + tag for tag in query.all_tags} | {_ENTITY + e for e in query.entities}
        ),
    }


def candidates(articles: Sequence[Article]) -> list[dict[str, Any]]:
    """Filters on the rules index keeping the rules some article of the batch can
    satisfy (`prefilter`). A rule without a value (no such condition, or stored
    before these fields) is kept: it may match anything. Only necessary
    conditions are tested, so the percolator still decides: a kept rule may not
    match, a dropped one could not have. `rule_needs` asks one of the needs in the
    batch, not all of them: `terms_set` would, but is one clause per value, and a
    batch carries more than the engine's 1,024 (indices.query.bool.max_clause_count)."""
    languages = {a.language for a in articles if a.language}
    tags = {value for a in articles for tag in a.tags for value in (tag.id, tag.label)}
    entities = {v for a in articles for e in a.entities for v in (e.id, e.name) if v}
    sources = {v for a in articles for v in (a.source.feed_id, a.source.name) if v}
    needs = {_TAG + tag for tag in tags} | {_ENTITY + entity for entity in entities}
    return [
        _absent_or_any("rule_languages", languages),
        _absent_or_any("rule_any_tags", tags),
        _absent_or_any("rule_sources", sources),
        _absent_or_any("rule_needs", needs),
    ]


def _absent_or_any(field: str, values: Iterable[str]) -> dict[str, Any]:
    absent: dict[str, Any] = {"bool": {"must_not": {"exists": {"field": field}}}}
    if not (found := sorted(values)):
        return absent
    return {"bool": {"should": [absent, {"terms": {field: found}}], "minimum_should_match": 1}}


@dataclass(frozen=True)
class StoredRule:
    rule: AlertRule
    owner: Owner | None  # None: stored by a Vigie that did not record owners
    # False: stored without its `prefilter` values, so run against every batch.
    prefiltered: bool = True


def _stored_rule(source: Any) -> StoredRule:
    owner = source.get("rule_owner")
    return StoredRule(
        parse_rule(source["rule"]),
        owner if owner in (FILE, API) else None,
        all(field in source for field in _PREFILTER_FIELDS),
    )


@dataclass(frozen=True)
class RuleMatch:
    rule: AlertRule
    article: Article


class RuleStore:
    """The rules index (made by pipeline/search/templates.py `setup`)."""

    def __init__(self, engine: SearchEngine, index: str, batch_size: int = BATCH_SIZE) -> None:
        self._engine = engine
        self._index = index
        self._batch_size = batch_size
        # rule id -> (the stored rule, parsed); a changed rule replaces its entry.
        self._rules: dict[str, tuple[Any, AlertRule]] = {}

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
            # A file rule stored without its prefilter values is written again
            # (backfilled); API rules are not (a write here could undo a PUT made
            # meanwhile) and stay candidates for every batch until next written.
            if (
                mine is None
                or mine.owner != FILE
                or mine.rule.stored() != rule.stored()
                or not mine.prefiltered
            ):
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
            **prefilter(rule),
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
        """Every (enabled rule, article) pair where the rule's query matches: one
        percolate request per BATCH_SIZE articles, over the rules the batch can
        satisfy."""
        matches: list[RuleMatch] = []
        for start in range(0, len(articles), self._batch_size):
            matches.extend(self._match(articles[start : start + self._batch_size]))
        return matches

    def _match(self, articles: Sequence[Article]) -> list[RuleMatch]:
        documents = [percolated_document(a) for a in articles]
        result = self._engine.search(
            self._index,
            {
                "size": 10_000,
                "query": {
                    "bool": {
                        "must": {"percolate": {"field": "query", "documents": documents}},
                        "filter": [{"term": {"rule_enabled": True}}, *candidates(articles)],
                    }
                },
                "_source": ["rule"],
            },
        )
        matches: list[RuleMatch] = []
        for hit in result.hits:
            rule = self._parsed(hit.source["rule"])
            # One document is percolated without the slot field (ES/OpenSearch both).
            slots = hit.fields.get("_percolator_document_slot", [0])
            matches.extend(RuleMatch(rule, articles[slot]) for slot in slots)
        return matches

    def _parsed(self, stored: Any) -> AlertRule:
        """The rule of a hit, parsed once per version: validating a rule costs
        about 25 µs, and every batch returns every rule that matched."""
        rule_id = str(stored.get("id", ""))
        known = self._rules.get(rule_id)
        if known is not None and known[0] == stored:
            return known[1]
        rule = parse_rule(stored)
        self._rules[rule_id] = (stored, rule)
        return rule
