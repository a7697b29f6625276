"""Entities found by the gazetteer and the name rules, and the topic tags they imply."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from pipeline.enrichment.gazetteer import Gazetteer, ids_of, kind_of
from pipeline.enrichment.matcher import Match, Matcher
from pipeline.enrichment.people import PeopleFinder, Person, Span, person_id
from pipeline.enrichment.textfold import fold, is_unspaced
from vigie.article import Entity, Tag, TextField

_NEXT_WORD = re.compile(r" +(\w+)")
# Chinese joins the parts of a foreign person's name with a middle dot (理查德·麦登):
# a place's name touching one is part of a person's (查德, Chad, in 理查德, Richard).
# Not Japanese ・, which also separates the items of a list (日本・中国).
_NAME_DOTS = frozenset("·‧")
# A place followed by "time" is a time zone, not the place (北京时间, 日本時間).
_TIME_ZONE = ("时间", "時間")


def _watchlist_first(gazetteer: Gazetteer) -> dict[str, frozenset[str]]:
    """Watch-listed id -> the folded first words of its names of several words."""
    firsts: dict[str, set[str]] = {}
    for p in gazetteer.patterns:
        if p.type == "PER" and " " in p.form.strip():
            firsts.setdefault(p.id, set()).add(fold(p.form.split()[0]))
    return {k: frozenset(v) for k, v in firsts.items()}


class EntityLinker:
    def __init__(self, gazetteer: Gazetteer) -> None:
        self._matcher = Matcher(gazetteer.patterns)
        self._labels = gazetteer.labels
        self._needs_support = gazetteer.needs_support
        self._people = (
            PeopleFinder(gazetteer.names_path, _watchlist_first(gazetteer))
            if gazetteer.names_path is not None
            else None
        )
        heads = self._people.org_heads if self._people is not None else {}
        self._heads = heads
        self._all_heads = frozenset().union(*heads.values())
        self._joined_heads = tuple(h for h in self._all_heads if not h.isascii())
        # id -> display label: as many as the gazetteer has ids, worked out once each.
        self._label_of: dict[str, str] = {}

    @property
    def size(self) -> int:
        return self._matcher.size

    def _label(self, entity_id: str) -> str:
        label = self._label_of.get(entity_id)
        if label is None:
            label = self._label_of[entity_id] = self._labels.label(entity_id)
        return label

    def _in_organisation(self, text: str, m: Match, language: str | None) -> bool:
        """Whether a place is the start of an organisation's name (Columbia University)."""
        if m.pattern.type == "PER" or m.end >= len(text):
            return False
        if is_unspaced(text[m.end - 1]):  # the head follows directly: 哥伦比亚大学
            return text.startswith(self._joined_heads, m.end)
        word = _NEXT_WORD.match(text, m.end)
        if word is None:
            return False
        heads = self._heads.get(language or "", self._all_heads)
        return fold(word.group(1)) in heads

    @staticmethod
    def _not_the_place(text: str, m: Match) -> bool:
        """Whether a name in a script without spaces is part of something else: a
        person's name written with middle dots, a time zone."""
        if m.pattern.type == "PER" or not is_unspaced(text[m.start]):
            return False
        before = text[m.start - 1] if m.start else ""
        after = text[m.end] if m.end < len(text) else ""
        return before in _NAME_DOTS or after in _NAME_DOTS or text.startswith(_TIME_ZONE, m.end)

    def find(
        self,
        text: str,
        field: TextField,
        language: str | None,
        authors: list[str] | None = None,
    ) -> list[Entity]:
        """The entities of `text`; names of a byline are added to `authors`."""
        matches = [
            m
            for m in self._matcher.find(text, language)
            if not self._in_organisation(text, m, language) and not self._not_the_place(text, m)
        ]
        people: list[Person] = []
        if self._people is not None:
            spans = [Span(m.start, m.end, m.pattern.id, m.pattern.type) for m in matches]
            people, replaced = self._people.find(text, language, spans)
            if replaced:
                matches = [m for k, m in enumerate(matches) if k not in replaced]
        # Validated construction: pydantic-core's, in Rust, costs a third of
        # model_construct's Python loop over the fields.
        entities = [
            Entity(
                type=m.pattern.type,
                id=entity_id,
                name=self._label(entity_id),
                text=m.text,
                start=m.start,
                end=m.end,
                field=field,
                source="gazetteer",
            )
            for m in matches
            for entity_id in ids_of(m.pattern.id)
        ]
        for p in people:
            if p.author:
                if authors is not None and p.text not in authors:
                    authors.append(p.text)
                continue
            entities.append(
                Entity(
                    type="PER",
                    id=person_id(p.canonical),
                    name=p.canonical,
                    text=p.text,
                    start=p.start,
                    end=p.end,
                    field=field,
                    source="rules",
                )
            )
        if people:
            entities.sort(key=lambda e: e.start)
        return entities

    def supported(self, entities: list[Entity]) -> list[Entity]:
        """The entities less the mentions by a name that needs support (Georgia)
        of an entity the article names no other way (Tbilisi, Georgian, Géorgie):
        over all of an article's fields at once."""
        if not self._needs_support:
            return entities
        doubtful = [fold(e.text) in self._needs_support for e in entities]
        if not any(doubtful):
            return entities
        named = {e.id for e, d in zip(entities, doubtful, strict=True) if not d}
        return [e for e, d in zip(entities, doubtful, strict=True) if not d or e.id in named]

    def tags(self, entities: Iterable[Entity]) -> tuple[Tag, ...]:
        entities = list(entities)
        """One tag per linked id, the most mentioned first (ties: first seen)."""
        counts = Counter(e.id for e in entities if e.id)
        names = {e.id: e.name for e in entities if e.id and e.id.startswith("person:~")}
        return tuple(
            Tag(
                id=entity_id,
                label=names.get(entity_id) or self._label(entity_id),
                kind=kind_of(entity_id),
            )
            for entity_id, _ in counts.most_common()
        )
