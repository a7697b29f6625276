"""Entities and tags: the reference article, each language, and the traps."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from pipeline.enrichment.enrich import Enricher
from vigie.article import TEXT_CHARS, Article, Source


def _enrich(enricher: Enricher, body: str, hint: str | None = None, title: str = "") -> Article:
    article = Article(
        id="t",
        url="https://x.example/t",
        canonical_url="https://x.example/t",
        source=Source(feed_id="t", language_hint=hint),
        title=title,
        body=body,
        fetched_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return enricher.enrich(article)


def _ids(article: Article) -> set[str]:
    return {tag.id for tag in article.tags}


def test_seed_tags_with_cldr_labels(enricher: Enricher, seed_article: Article) -> None:
    result = enricher.enrich(seed_article)
    labels = {tag.id: tag.label for tag in result.tags}
    assert {
        "country:KP": "Corée du Nord",
        "country:RU": "Russie",
        "country:US": "États-Unis",
        "country:JP": "Japon",
        "country:CN": "Chine",
        "country:UA": "Ukraine",
    }.items() <= labels.items()
    persons = {tag.label for tag in result.tags if tag.kind == "person"}
    assert persons == {"Donald Trump", "Kim Jong-un", "Shigeru Ishiba"}
    assert {"theme:nuclear-weapons", "theme:diplomacy", "theme:armed-conflict"} <= set(labels)
    assert "org:UN" in labels
    # the most mentioned first
    assert result.tags[0].id == "country:KP"


def test_seed_entities_keep_surface_forms_and_offsets(
    enricher: Enricher, seed_article: Article
) -> None:
    result = enricher.enrich(seed_article)
    texts = {"title": result.title, "summary": result.summary, "body": result.body}
    for entity in result.entities:
        assert texts[entity.field][entity.start : entity.end] == entity.text
    found = Counter((e.id, e.text) for e in result.entities if e.field == "body")
    # China is never named: "Pékin" (Beijing) stands for it; Japan only as an adjective
    assert found[("country:CN", "Pékin")] == 1
    assert found[("country:JP", "japonais")] == 1
    assert found[("country:KP", "Pyongyang")] == 3
    assert found[("country:KP", "nord-coréen")] == 2
    assert found[("country:US", "Maison Blanche")] == 1
    assert found[("country:RU", "Moscou")] == 2
    assert found[("person:kim-jong-un", "Jong-un")] == 1  # the short form alone
    assert found[("org:UN", "ONU")] == 1
    # the theme evidence is kept as entities
    assert found[("theme:nuclear-weapons", "dénucléarisation")] == 3
    ishiba = [e for e in result.entities if e.id == "person:shigeru-ishiba"]
    assert [(e.type, e.name, e.source) for e in ishiba] == [("PER", "Shigeru Ishiba", "gazetteer")]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "fr",
            "La Corée du Nord a envoyé des soldats en Russie, selon Séoul.",
            {"country:KP", "country:RU", "country:KR"},
        ),
        (
            "en",
            "North Korea sent troops to Russia, the White House said; NATO and the UN are worried.",
            {"country:KP", "country:RU", "country:US", "org:NATO", "org:UN"},
        ),
        (
            "es",
            "Corea del Norte envió tropas a Rusia, según el gobierno surcoreano y la Casa Blanca.",
            {"country:KP", "country:RU", "country:KR", "country:US"},
        ),
        (
            "de",
            "Nordkorea schickt Soldaten nach Russland, sagt der Kreml. Russlands Krieg dauert.",
            {"country:KP", "country:RU"},
        ),
        (
            "it",
            "La Corea del Nord ha inviato truppe in Russia; Stati Uniti e Giappone protestano.",
            {"country:KP", "country:RU", "country:US", "country:JP"},
        ),
        (
            "pt",
            "A Coreia do Norte enviou tropas para a Rússia, disse o governo em Washington.",
            {"country:KP", "country:RU", "country:US"},
        ),
        (
            "ru",
            "КНДР направила войска в Россию. Санкции против России и Китая усилены.",
            {"country:KP", "country:RU", "country:CN"},
        ),
        (
            "ar",
            "قالت روسيا إن كوريا الشمالية والصين ستجريان مفاوضات مع الولايات المتحدة.",
            {"country:RU", "country:KP", "country:CN", "country:US"},
        ),
        ("ko", "북한은 러시아에 군대를 파견했다.", {"country:KP", "country:RU"}),
    ],
)
def test_countries_in_each_language(
    enricher: Enricher, language: str, text: str, expected: set[str]
) -> None:
    result = _enrich(enricher, text)
    assert result.language == language
    countries = {i for i in _ids(result) if not i.startswith("theme:")}
    assert countries == expected


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Путин встретился с Ким Чен Ыном? Нет: Путин говорил с Трампом.", "person:vladimir-putin"),
        ("Le président Poutine a reçu Kim Jong Un.", "person:kim-jong-un"),
        ("Wolodymyr Selenskyj sprach in Kiew.", "person:volodymyr-zelensky"),
        ("أكد ترامب أنه سيلتقي كيم جونغ أون.", "person:donald-trump"),
    ],
)
def test_watchlist_persons_in_several_scripts(enricher: Enricher, text: str, person: str) -> None:
    assert person in _ids(_enrich(enricher, text))


@pytest.mark.parametrize(
    "text",
    [
        # "un" is a French article, not the UN; "union" is a common word
        "Il y a un accord sur un point, et une union des forces locales.",
        # country names inside other words
        "Des chinoiseries; the Francophone and Romanesque styles; la Francilienne.",
        # a lower-case common word that is a place name with a capital elsewhere
        "Nous avons mangé une dinde (turkey) à Noël, et un chili.",
        # a treatment is not a treaty, a border is not a front line
        "Le traitement à la frontière a été long.",
    ],
)
def test_no_match_inside_words_or_on_common_words(enricher: Enricher, text: str) -> None:
    assert _enrich(enricher, text, hint="fr").tags == ()


def test_acronyms_need_their_capitals(enricher: Enricher) -> None:
    assert "org:UN" in _ids(_enrich(enricher, "The UN met.", hint="en"))
    assert "org:UN" not in _ids(_enrich(enricher, "Un homme a parlé.", hint="fr"))


def test_folding_case_and_accents_where_safe(enricher: Enricher) -> None:
    ids = _ids(
        _enrich(enricher, "COREE DU NORD : la Coree du Nord et la Corée du Nord.", hint="fr")
    )
    assert ids == {"country:KP"}


def test_labels_follow_the_display_language(seed_article: Article) -> None:
    from vigie.settings import Settings

    english = Enricher.from_settings(Settings(display_language="en")).enrich(seed_article)
    labels = {tag.id: tag.label for tag in english.tags}
    assert labels["country:KP"] == "North Korea"
    assert labels["theme:nuclear-weapons"] == "Nuclear weapons"


def test_empty_binary_and_huge_input(enricher: Enricher) -> None:
    empty = _enrich(enricher, "")
    assert empty.tags == ()
    assert empty.language is None
    assert empty.notes == ("no text left after cleaning: nothing to detect or link",)

    junk = _enrich(enricher, "\x00\x01\x02 \ufffd\ufffd 0101 ###")
    assert junk.tags == ()
    assert junk.notes

    paragraph = "La Corée du Nord et la Russie renforcent leur coopération militaire. "
    huge = _enrich(enricher, paragraph * 80_000)  # about 5 MB: cut before enrichment
    assert len(huge.body) == TEXT_CHARS
    assert "body cut from 5520000 to 100000 characters" in huge.notes
    assert huge.language == "fr"
    assert _ids(huge) == {"country:KP", "country:RU"}


def test_short_title_falls_back_to_declared_language(enricher: Enricher) -> None:
    result = _enrich(enricher, "", hint="de", title="Merz in Paris")
    assert result.language == "de"
    assert result.language_declared == "de"
