"""Country tags from places (issue 15): one case per rule, in several languages.
The sentences are written for these tests."""

from __future__ import annotations

import pytest

from pipeline.enrichment.enrich import Enricher
from pipeline.enrichment.gazetteer import _russian_demonym_forms
from pipeline.enrichment.regions import _oblast_adjective, _split
from tests.conftest import enrich_text


def _countries(enricher: Enricher, body: str, hint: str) -> set[str]:
    tags = enrich_text(enricher, body, hint).tags
    return {t.id.split(":")[1] for t in tags if t.kind == "country"}


@pytest.mark.parametrize(
    ("hint", "text", "expected"),
    [
        # Russian adjectives and demonyms in every case and number
        ("ru", "Выставка молодых белорусских художников открылась вчера.", {"BY"}),
        ("ru", "Группа американцев приехала на фестиваль джаза.", {"US"}),
        ("ru", "Спрос на услуги российских перевозчиков снова вырос.", {"RU"}),
        ("ru", "Опрос показал, что японцы всё больше путешествуют.", {"JP"}),
        # Russian oblasts and republics, declined with the word that makes them regions
        ("ru", "В Свердловской области открыли новую школу.", {"RU"}),
        ("ru", "Снегопад парализовал дороги в Татарстане.", {"RU"}),
        ("ru", "Обстрелы продолжаются в Донецкой области.", {"UA"}),
        # the adjective alone is not the region: еврейский is "Jewish"
        ("ru", "В городе прошёл фестиваль еврейской музыки.", set()),
    ],
)
def test_russian_forms(enricher: Enricher, hint: str, text: str, expected: set[str]) -> None:
    assert _countries(enricher, text, hint) == expected


@pytest.mark.parametrize(
    ("hint", "text", "expected"),
    [
        ("fr", "Les vendanges ont commencé tôt en Gironde cette année.", {"FR"}),
        ("de", "Die Landesregierung von Niedersachsen plant neue Radwege.", {"DE"}),
        ("en", "Floods closed three schools in Lancashire on Monday.", {"GB"}),
        # the longest name wins: the Spanish region, not León in Mexico
        ("es", "Las lluvias afectaron a varias comarcas de Castilla y León.", {"ES"}),
        # a region's name only in its own language: Bayern in English is a club
        ("en", "The match ended with a late Bayern goal.", set()),
    ],
)
def test_regions(enricher: Enricher, hint: str, text: str, expected: set[str]) -> None:
    assert _countries(enricher, text, hint) == expected


@pytest.mark.parametrize(
    ("hint", "text", "expected"),
    [
        # renowned cities that smaller places elsewhere share a name with
        ("en", "The delegations met again in Geneva on Tuesday.", {"CH"}),
        ("en", "Fashion week opens in Milan next month.", {"IT"}),
        # the least capitalised spelling: "de" is lower-case in text
        ("en", "The carnival parade crossed Rio de Janeiro at night.", {"BR"}),
        # a lesser city's other names are not read (Google is listed for Topeka)
        ("en", "Google released a new version of its browser.", set()),
        # a day of the week: Persian دوشنبه "Monday" is also Dushanbe
        ("fa", "جلسه بعدی روز دوشنبه برگزار می‌شود.", set()),
    ],
)
def test_city_names(enricher: Enricher, hint: str, text: str, expected: set[str]) -> None:
    assert _countries(enricher, text, hint) == expected


@pytest.mark.parametrize(
    ("hint", "text", "expected"),
    [
        # a language named after its country is not the country
        ("ja", "このソフトの日本語版は来月公開されます。", set()),
        # a time zone is not the place
        ("zh", "会议将于北京时间晚上八点开始。", set()),
        # 查德 (Chad) inside 理查德 (Richard), a name written with a middle dot
        ("zh", "新片由理查德·林克莱特执导。", set()),
        # one-character abbreviations with the army
        ("zh", "美军宣布结束这次演习。", {"US"}),
        ("ja", "米軍は訓練の中止を発表した。", {"US"}),
    ],
)
def test_cjk(enricher: Enricher, hint: str, text: str, expected: set[str]) -> None:
    assert _countries(enricher, text, hint) == expected


@pytest.mark.parametrize(
    ("hint", "text", "expected"),
    [
        # regions larger than a country tag nothing; America alone is the US
        ("en", "Coffee prices rose across Latin America and in America.", {"US"}),
        ("fr", "Les exportations vers l'Amérique du Nord ont baissé.", set()),
        # CLDR's names in brackets, each alone: "Mianmar (Birmânia)"
        ("pt", "A ONU pediu o fim da violência no Mianmar.", {"MM"}),
        ("en", "The old railway of Burma was rebuilt.", {"MM"}),
        # demonyms of more countries, and forms that are not the language's name
        ("en", "A Salvadoran court ruled on the case.", {"SV"}),
        ("fr", "Des Érythréennes ont témoigné devant le tribunal.", {"ER"}),
        ("pt", "A seleção inglesa venceu o jogo de ontem.", {"GB"}),
        ("fa", "او مقاله‌ای به انگلیسی نوشت.", set()),
        # constituent countries and regions with a name of their own
        ("en", "Heavy snow fell across Scotland overnight.", {"GB"}),
        ("es", "Nuevos asentamientos en Cisjordania.", {"PS"}),
    ],
)
def test_names_and_demonyms(enricher: Enricher, hint: str, text: str, expected: set[str]) -> None:
    assert _countries(enricher, text, hint) == expected


def test_russian_demonym_declension() -> None:
    assert "российских" in _russian_demonym_forms("российский")
    assert "россиян" in _russian_demonym_forms("россиянин")
    assert "китайцев" in _russian_demonym_forms("китаец")  # й before the ц
    assert "поляков" in _russian_demonym_forms("поляк")
    assert "американок" in _russian_demonym_forms("американка")


def test_oblast_names_from_cities() -> None:
    assert _oblast_adjective("Харьков") == "Харьковская"
    assert _oblast_adjective("Донецк") == "Донецкая"
    assert _oblast_adjective("Одесса") == "Одесская"
    assert _oblast_adjective("Гомель") == "Гомельская"
    assert _oblast_adjective("Винница") == "Винницкая"
    assert _oblast_adjective("Нижний Новгород") is None
    assert _split("Саха (Якутия)") == ["Саха", "Якутия"]
    assert _split("Kujawsko - pomorskie") == ["Kujawsko-pomorskie"]
