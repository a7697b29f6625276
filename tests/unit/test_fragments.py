"""Foreign words below the sentence (pipeline/enrichment/fragments.py)."""

from __future__ import annotations

from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.fragments import foreign_openings
from vigie.article import Article


def test_the_reference_articles_spanish_openings_are_reported(
    enricher: Enricher, seed_article: Article
) -> None:
    result = enricher.enrich(seed_article)
    assert result.language == "fr"
    shares = {s.lang: s for s in result.languages}
    assert "es" in shares
    assert 0 < shares["es"].share < 0.05
    (note,) = [n for n in result.notes if "open in another" in n]
    assert "Durante" in note
    assert "Aun así" in note
    assert shares["en"].share > shares["es"].share  # its English sentence, as before


def test_one_word_alone_is_not_enough() -> None:
    # "Total" and "War" are Spanish and German function words, and English nouns.
    text = (
        "Total sales rose sharply this year, the company said.\n"
        "War broke out again in the north of the country last week."
    )
    assert foreign_openings(text, "en") == []


def test_a_shared_word_goes_to_the_language_the_text_shows() -> None:
    text = (
        "Durante une conférence de presse, le ministre a parlé longuement.\n"
        "Sin embargo, les négociations ont échoué au printemps dernier."
    )
    found = {(f.language, f.text) for f in foreign_openings(text, "fr")}
    assert found == {("es", "Durante"), ("es", "Sin embargo")}
    # Without the Spanish pair, "Durante" (Spanish, Portuguese, Italian) says nothing.
    assert foreign_openings(text.split("\n")[0], "fr") == []


def test_a_plain_french_text_has_no_fragments(enricher: Enricher) -> None:
    text = (
        "Le gouvernement a présenté mardi son projet de budget pour l'année prochaine. "
        "Cependant, les syndicats ont annoncé une grève. Pendant ce temps, la Bourse a "
        "reculé. Malgré tout, le ministre reste optimiste sur la croissance."
    )
    assert foreign_openings(text, "fr") == []
