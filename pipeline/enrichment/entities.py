"""Entities found by the gazetteer, and the topic tags they imply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pipeline.enrichment.gazetteer import Gazetteer, kind_of
from pipeline.enrichment.matcher import Matcher
from vigie.article import Entity, Tag, TextField


class EntityLinker:
    def __init__(self, gazetteer: Gazetteer) -> None:
        self._matcher = Matcher(gazetteer.patterns)
        self._labels = gazetteer.labels
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

    def find(self, text: str, field: TextField, language: str | None) -> list[Entity]:
        # Validated construction: pydantic-core's, in Rust, costs a third of
        # model_construct's Python loop over the fields.
        return [
            Entity(
                type=m.pattern.type,
                id=m.pattern.id,
                name=self._label(m.pattern.id),
                text=m.text,
                start=m.start,
                end=m.end,
                field=field,
                source="gazetteer",
            )
            for m in self._matcher.find(text, language)
        ]

    def tags(self, entities: Iterable[Entity]) -> tuple[Tag, ...]:
        """One tag per linked id, the most mentioned first (ties: first seen)."""
        counts = Counter(e.id for e in entities if e.id)
        return tuple(
            Tag(id=entity_id, label=self._label(entity_id), kind=kind_of(entity_id))
            for entity_id, _ in counts.most_common()
        )
