"""Alert rules: what a rule is, how it is validated, and the query it stands for.

A rule's query is an `ArticleQuery` (pipeline/search/query.py), the same that
`vigie search` runs, so a rule means exactly what the same search means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.search.query import ArticleQuery
from vigie.outbound import masked

MASK = "********"
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class RuleError(ValueError):
    """A rule is invalid; `errors` names each field with what is wrong."""

    def __init__(self, source: str, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"{source}: {listed}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Bounds on what a rule author may ask of the engine at every article.
_Term = Annotated[str, StringConstraints(max_length=200)]
_Terms = Field(default=(), max_length=50)


class RuleQuery(_Strict):
    text: str | None = Field(default=None, max_length=1000)
    all_tags: tuple[_Term, ...] = _Terms
    any_tags: tuple[_Term, ...] = _Terms
    entities: tuple[_Term, ...] = _Terms
    languages: tuple[_Term, ...] = _Terms
    sources: tuple[_Term, ...] = _Terms
    keywords: tuple[_Term, ...] = Field(default=(), max_length=100)  # any of these

    def article_query(self) -> ArticleQuery:
        text = self.text
        if self.keywords:
            phrases = " | ".join(f'"{k}"' for k in self.keywords)
            text = f"({text}) ({phrases})" if text else phrases
        return ArticleQuery(
            text=text,
            all_tags=self.all_tags,
            any_tags=self.any_tags,
            entities=self.entities,
            languages=self.languages,
            sources=self.sources,
        )

    def is_empty(self) -> bool:
        return not any(
            (
                self.text,
                self.all_tags,
                self.any_tags,
                self.entities,
                self.languages,
                self.sources,
                self.keywords,
            )
        )


class Destination(_Strict):
    url: HttpUrl
    secret: SecretStr | None = None
    format: Literal["generic", "slack"] = "generic"


class AlertRule(_Strict):
    id: str
    name: str = Field(default="", max_length=200)
    enabled: bool = True
    # match (one alert per matching article), spike or silence (see below)
    kind: Literal["match", "spike", "silence"] = "match"
    watch: Literal["feeds", "query", "dead_letters", "lag"] | None = None
    query: RuleQuery = Field(default_factory=RuleQuery, validate_default=True)
    destinations: tuple[Destination, ...] = Field(min_length=1, max_length=10)
    # At most one call per destination in this window; matches in between are
    # recorded as throttled (0: no throttle).
    throttle_seconds: float = Field(default=0.0, ge=0, le=30 * 86400)
    # Collect the matches of this window into one call (0: one call per match).
    digest_seconds: float = Field(default=0.0, ge=0, le=86400)
    # Do not fire again for a near-duplicate of an article the rule fired on.
    suppress_duplicates: bool = True
    # "story": fire once for a story (pipeline/signals/stories.py), on its first
    # matching article; later ones only as follow-ups, when the story reaches a
    # language it was not alerted in (follow_up_languages) or each time it has
    # follow_up_sources more sources (0: never).
    once_per: Literal["article", "story"] = "article"
    follow_up_languages: bool = False
    follow_up_sources: int = Field(default=0, ge=0, le=10_000)

    # Signals (pipeline/signals/watch.py): instead of one alert per matching
    # article, one alert when a condition starts ("firing") and one when it ends
    # ("resolved").
    # - spike: the articles matching `query` in the last `window_seconds` are at
    #   least `min_articles`, and at least `factor` times as many as in the usual
    #   window of the `baseline_days` before; it ends below half of both.
    # - silence, `watch: feeds`: a feed with nothing for `factor` times its usual
    #   interval between articles (over `baseline_days`), and at least
    #   `window_seconds`; `watch: query`: no article matching `query` in the last
    #   `window_seconds`; `watch: dead_letters`: more than `threshold` dead letters
    #   in the last `window_seconds`; `watch: lag`: the workers' consumer lag above
    #   `threshold` records.
    window_seconds: int = Field(default=3600, ge=10, le=7 * 86400)
    factor: float = Field(default=3.0, gt=1, le=1000)
    min_articles: int = Field(default=10, ge=1, le=1_000_000)
    baseline_days: int = Field(default=7, ge=1, le=60)
    threshold: int = Field(default=0, ge=0, le=10_000_000)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError(
                "lower-case letters, digits, - and _ (at most 64), starting with a letter or digit"
            )
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: RuleQuery, info: ValidationInfo) -> RuleQuery:
        kind, watch = info.data.get("kind", "match"), info.data.get("watch")
        if (kind in ("match", "spike") or watch == "query") and value.is_empty():
            raise ValueError("a rule needs at least one condition (text, tags, entities, ...)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AlertRule:
        if self.once_per != "story" and (self.follow_up_languages or self.follow_up_sources):
            raise ValueError("follow_up_languages and follow_up_sources need once_per: story")
        if (self.kind == "silence") != (self.watch is not None):
            raise ValueError("watch: a silence rule says what it watches, other rules do not")
        if self.kind != "match" and (self.once_per != "article" or self.digest_seconds):
            raise ValueError("once_per and digest_seconds are for match rules")
        return self

    @property
    def percolated(self) -> bool:
        """Whether articles are matched against it as they come (match rules)."""
        return self.kind == "match"

    def public(self) -> dict[str, Any]:
        """The rule as the API shows it: secrets and webhook URLs masked (a Slack
        URL is a credential). Sent back as they are, they keep what is stored
        (`unmasked`)."""
        data = self.model_dump(mode="json")
        for destination in data["destinations"]:
            destination["url"] = masked(destination["url"])
            if destination.get("secret"):
                destination["secret"] = MASK
        return data

    def unmasked(self, data: Any) -> Any:
        """`data` (a rule as a client sent it) with masked values put back from this
        stored rule, destination by destination: GET, edit, PUT keeps the secret."""
        if not isinstance(data, dict) or not isinstance(data.get("destinations"), list):
            return data
        destinations = []
        for sent, mine in zip(data["destinations"], self.destinations, strict=False):
            if isinstance(sent, dict):
                sent = dict(sent)
                if sent.get("secret") == MASK and mine.secret is not None:
                    sent["secret"] = mine.secret.get_secret_value()
                if sent.get("url") == masked(str(mine.url)):
                    sent["url"] = str(mine.url)
            destinations.append(sent)
        return {**data, "destinations": destinations + data["destinations"][len(destinations) :]}

    def stored(self) -> dict[str, Any]:
        """The rule as stored (secrets in clear: the rules index is Vigie's own)."""
        data = self.model_dump(mode="json")
        for mine, destination in zip(self.destinations, data["destinations"], strict=True):
            destination["secret"] = mine.secret.get_secret_value() if mine.secret else None
        return data


def parse_rule(data: Any, source: str = "rule") -> AlertRule:
    try:
        return AlertRule.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in error["loc"]) or "rule", "message": error["msg"]}
            for error in exc.errors()
        ]
        raise RuleError(source, errors) from exc


@dataclass(frozen=True)
class RuleFile:
    """What a rules file says: its valid rules, the errors of the others, and every
    id it declares, valid or not (None when the file cannot be read as a list of
    rules: then it says nothing about which rules it holds)."""

    rules: list[AlertRule]
    errors: list[RuleError]
    declared: frozenset[str] | None


def read_rule_file(path: Path) -> RuleFile:
    """Rules of a YAML file (a list under `rules:`); invalid ones are returned as
    errors naming the rule and the field, and the valid ones still load. A missing
    file declares no rule."""
    if not path.exists():
        return RuleFile([], [], frozenset())
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return RuleFile([], [RuleError(str(path), [{"field": "file", "message": str(exc)}])], None)
    entries = data.get("rules", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        error = RuleError(str(path), [{"field": "rules", "message": "expected a list of rules"}])
        return RuleFile([], [error], None)
    rules, errors, seen, declared = [], [], set(), set()
    for position, entry in enumerate(entries):
        name = entry.get("id", f"#{position}") if isinstance(entry, dict) else f"#{position}"
        if isinstance(name, str):
            declared.add(name)
        try:
            rule = parse_rule(entry, f"{path}: rule {name}")
        except RuleError as exc:
            errors.append(exc)
            continue
        if rule.id in seen:
            errors.append(
                RuleError(f"{path}: rule {name}", [{"field": "id", "message": "used twice"}])
            )
            continue
        seen.add(rule.id)
        rules.append(rule)
    return RuleFile(rules, errors, frozenset(declared))


def load_rules(path: Path) -> tuple[list[AlertRule], list[RuleError]]:
    """The valid rules of a YAML file and the errors of the others (`read_rule_file`)."""
    found = read_rule_file(path)
    return found.rules, found.errors
