"""Issue #15: places that imply countries, and people the watchlist does not know.
Each test pins one rule (it fails without that rule)."""

from __future__ import annotations

import pytest

from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.people import person_id
from tests.conftest import enrich_text
from vigie.article import Article


def _enrich(enricher: Enricher, body: str, hint: str | None = None) -> Article:
    return enrich_text(enricher, body, hint)


def _countries(article: Article) -> set[str]:
    return {t.id.split(":")[1] for t in article.tags if t.kind == "country"}


def _persons(article: Article) -> dict[str, str]:
    return {t.id: t.label for t in article.tags if t.kind == "person"}


@pytest.mark.parametrize(
    ("text", "hint", "country"),
    [
        ("Der Karneval in Köln beginnt am Donnerstag mit einem Umzug.", "de", "DE"),
        ("В Оренбурге открыли новую школу для детей.", "ru", "RU"),
        ("The summit opens in Astana on Monday with trade on the agenda.", "en", "KZ"),
        ("The US will send more aid, officials said on Tuesday.", "en", "US"),
        ("امریکہ نے نئی پابندیوں کا اعلان کیا ہے۔", "ur", "US"),
        ("El delantero senegalés marcó dos goles en el partido.", "es", "SN"),
    ],
)
def test_places_and_demonyms_imply_their_country(
    enricher: Enricher, text: str, hint: str, country: str
) -> None:
    assert country in _countries(_enrich(enricher, text, hint))


@pytest.mark.parametrize(
    ("text", "hint", "not_country"),
    [
        # a city larger than the country whose Spanish name it shares
        ("El Granada venció al Sevilla en el último minuto del partido.", "es", "GD"),
        # a place at the start of an organisation's name
        ("She studied at Columbia University before moving to the city.", "en", "CO"),
        # a region named like another country: the longest name is its own
        ("Heavy snow fell across Inner Mongolia on Sunday night.", "en", "MN"),
        ("内蒙古今年冬天下了大雪。", "zh", "MN"),
        # a US state that is also a country's name tags neither
        ("Voters in Georgia went to the polls on Tuesday for the runoff.", "en", "GE"),
        # an Urdu word ("financial") that CLDR also gives as Mali
        ("حکومت نے مالی سال کے بجٹ کا اعلان کیا ہے۔", "ur", "ML"),
    ],
)
def test_ambiguous_names_do_not_tag(
    enricher: Enricher, text: str, hint: str, not_country: str
) -> None:
    assert not_country not in _countries(_enrich(enricher, text, hint))


def test_a_katakana_name_inside_a_longer_katakana_word_does_not_match(
    enricher: Enricher,
) -> None:
    assert "TH" not in _countries(_enrich(enricher, "タイプパッドの新しい機能を紹介します。", "ja"))
    assert "TH" in _countries(_enrich(enricher, "タイの首都バンコクで会議が開かれた。", "ja"))


def test_a_cjk_compound_tags_each_country(enricher: Enricher) -> None:
    assert {"KR", "US"} <= _countries(_enrich(enricher, "한미 정상회담이 열렸다.", "ko"))


def test_a_name_after_a_first_name_or_a_role_is_a_person(enricher: Enricher) -> None:
    result = _enrich(enricher, "The company's president Brad Smith spoke on Monday.", "en")
    assert "Brad Smith" in _persons(result).values()
    german = _enrich(enricher, "Am Montag antwortete Innenminister Seehofer den Kritikern.", "de")
    assert "Seehofer" in _persons(german).values()


def test_a_sentence_initial_capitalised_word_is_not_a_person(enricher: Enricher) -> None:
    result = _enrich(enricher, "Yesterday the markets fell. Analysts Expect more losses.", "en")
    assert _persons(result) == {}


def test_another_person_with_a_watch_listed_surname_is_not_the_watch_listed_one(
    enricher: Enricher,
) -> None:
    result = _enrich(enricher, "Eric Trump said the family business would grow.", "en")
    assert "person:donald-trump" not in _persons(result)
    assert _persons(result).get("person:~eric-trump") == "Eric Trump"
    full = _enrich(enricher, "Donald Trump said the family business would grow.", "en")
    assert list(_persons(full)) == ["person:donald-trump"]


def test_a_first_name_that_is_a_country_gives_way_to_the_person(enricher: Enricher) -> None:
    result = _enrich(enricher, "The actor Chad Smith arrived late to the premiere.", "en")
    assert "TD" not in _countries(result)
    assert "Chad Smith" in _persons(result).values()


def test_a_byline_is_an_author_not_a_person(enricher: Enricher) -> None:
    authors: list[str] = []
    text = "By John Smith\nThe central bank raised its rates again."
    found = enricher.linker.find(text, "body", "en", authors)
    assert authors == ["John Smith"]
    assert [e for e in found if e.type == "PER"] == []


def test_a_transliterated_chinese_name_is_a_person(enricher: Enricher) -> None:
    result = _enrich(enricher, "演员基特·哈灵顿和安吉丽娜·朱莉出席了首映式。", "zh")
    assert any("安吉丽娜·朱莉" in name for name in _persons(result).values())


def test_a_found_person_id_is_stable_across_case_and_accents() -> None:
    assert person_id("Éric Trump") == person_id("ERIC TRUMP") == "person:~eric-trump"
    assert person_id("Jean-Noël Barrot") == "person:~jean-noel-barrot"


def test_a_city_after_a_first_name_is_a_surname(enricher: Enricher) -> None:
    article = _enrich(enricher, "Jesse Jackson, the civil rights leader, died at 84.", "en")
    assert "person:~jesse-jackson" in _persons(article)
    assert "US" not in _countries(article)  # not Jackson, Mississippi


def test_a_particle_inside_a_name_keeps_the_name_whole(enricher: Enricher) -> None:
    article = _enrich(enricher, "Marine Le Pen a tenu un meeting dimanche.", "fr")
    assert "person:~marine-le-pen" in _persons(article)
    two = _enrich(enricher, "Llegaron Ricardo y Manuela a la fiesta de anoche.", "es")
    assert not any(" y " in label for label in _persons(two).values())


def test_a_surname_that_comes_back_alone_makes_a_person_of_an_unknown_first_name(
    enricher: Enricher,
) -> None:
    # Invented names: no first-name or surname list has them.
    text = "Quorvan Blettix met supporters in Chicago. Blettix praised their work."
    assert "person:~quorvan-blettix" in _persons(_enrich(enricher, text, "en"))
    once = "Quorvan Blettix met supporters in Chicago on Monday."
    assert "person:~quorvan-blettix" not in _persons(_enrich(enricher, once, "en"))
    german = "Die Kölner Silvesternacht bleibt ein Thema. Die Silvesternacht war brutal."
    assert _persons(_enrich(enricher, german, "de")) == {}


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Суд арестовал Вячеслава Александрова в Москве.", "person:~вячеслав-александров"),
        ("Награду вручили Юрию Дурову на церемонии.", "person:~юрии-дуров"),
        ("Интервью с Максимом Ликсутовым вышло вчера.", "person:~максим-ликсутов"),
        ("На конференции выступила Мария Иванова из Москвы.", "person:~мария-иванова"),
    ],
)
def test_a_russian_name_in_any_case_gets_its_nominatives_id(
    enricher: Enricher, text: str, person: str
) -> None:
    assert person in _persons(_enrich(enricher, text, "ru"))


def test_georgia_is_the_country_only_when_the_article_names_it_another_way(
    enricher: Enricher,
) -> None:
    country = "Protesters filled Tbilisi as Georgia's parliament voted on the law."
    assert "GE" in _countries(_enrich(enricher, country, "en"))
    state = "Georgia voters elected a new governor in Atlanta on Tuesday."
    assert "GE" not in _countries(_enrich(enricher, state, "en"))


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        # A first name no list has, before a family name of the lexicon.
        (
            "Yesmina Rodriguez will lead the negotiations next week.",
            "en",
            "person:~yesmina-rodriguez",
        ),
        (
            "La delegación de Ovaldo Fernandez llegó ayer a la capital.",
            "es",
            "person:~ovaldo-fernandez",
        ),
        ("Le rapport de Tahirou Diallo sera publié jeudi.", "fr", "person:~tahirou-diallo"),
    ],
)
def test_an_unknown_word_before_a_family_name_is_a_person(
    enricher: Enricher, text: str, hint: str, person: str
) -> None:
    assert person in _persons(_enrich(enricher, text, hint))


def test_a_surname_does_not_make_a_name_of_a_title_case_headline(enricher: Enricher) -> None:
    text = "Talks Resume in Geneva on the Border Dispute, but Hopes Are Low"
    assert _persons(_enrich(enricher, text, "en")) == {}


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        # The country's adjective is a first name too (French): the next one anchors.
        (
            "French Interior Minister Jean-Luc Moreau said the law would pass.",
            "en",
            "person:~jean-luc-moreau",
        ),
        # The anchor after a sentence's opening word; the city is a surname.
        ("When Jesse Jackson spoke, the hall fell silent.", "en", "person:~jesse-jackson"),
    ],
)
def test_the_first_name_the_gazetteer_did_not_take_anchors_the_name(
    enricher: Enricher, text: str, hint: str, person: str
) -> None:
    assert person in _persons(_enrich(enricher, text, hint))


@pytest.mark.parametrize(
    ("text", "hint", "name"),
    [
        # Scripts without capitals: the words after a role, up to a postposition.
        (
            "بھارت کے وزیر خارجہ راجیش کمار ورما نے کہا کہ مذاکرات جاری رہیں گے۔",
            "ur",
            "راجیش کمار ورما",
        ),
        ("سخنگوی دولت علی رضا کریمی گفت که جلسه فردا برگزار می‌شود.", "fa", "علی رضا کریمی"),
        # Chinese: a family name and one or two characters right after a role.
        ("公司董事长王建国表示，王建国将继续推进改革。", "zh", "王建国"),
        # A Latin name written against a Chinese role.
        ("谷歌副总裁Tovik Hallund在博客上宣布了新功能。", "zh", "Tovik Hallund"),
    ],
)
def test_a_name_after_a_role_in_scripts_without_capitals(
    enricher: Enricher, text: str, hint: str, name: str
) -> None:
    assert person_id(name) in _persons(_enrich(enricher, text, hint))


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("امریکی صدر کی حالیہ تقریر پر ردعمل آیا۔", "ur"),  # a postposition right after
        ("美国总统的声明引发了讨论。", "zh"),  # 的 is a word, not a family name
    ],
)
def test_a_role_without_a_name_after_it_makes_no_person(
    enricher: Enricher, text: str, hint: str
) -> None:
    assert not any(p.startswith("person:~") for p in _persons(_enrich(enricher, text, hint)))
