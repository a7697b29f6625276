"""Issue #15, "people found in every language": one case per rule of the name
finder (pipeline/enrichment/people.py), in several languages. The sentences are
written for these tests; most names are invented, so that no list has them."""

from __future__ import annotations

import pytest

from pipeline.enrichment.enrich import Enricher
from tests.conftest import enrich_text
from vigie.article import Article, Entity


def _enrich(enricher: Enricher, body: str, hint: str) -> Article:
    return enrich_text(enricher, body, hint)


def _persons(enricher: Enricher, body: str, hint: str) -> dict[str, str]:
    return {t.id: t.label for t in _enrich(enricher, body, hint).tags if t.kind == "person"}


def _people(enricher: Enricher, body: str, hint: str) -> list[Entity]:
    return [e for e in enricher.linker.find(body, "body", hint) if e.type == "PER"]


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        # A common word of another language is still a first name (Danish tom,
        # French pierre).
        ("Hier soir, Tom Varnel a présenté son film.", "fr", "person:~tom-varnel"),
        ("The exhibition opens as Pierre Lantoine returns.", "en", "person:~pierre-lantoine"),
        # A common word of the text's language, before a family name (Spanish
        # fernando, English bill).
        ("Ayer habló Fernando Ortega con la prensa.", "es", "person:~fernando-ortega"),
        ("Officials met Bill Garcia at the embassy on Tuesday.", "en", "person:~bill-garcia"),
        # ... or before another given name, as one name with it.
        ("El equipo de Luis Enrique Varzo ganó.", "es", "person:~luis-enrique-varzo"),
        # Two given names joined by a hyphen.
        ("Marie-Hélène Quorvaz a été élue dimanche.", "fr", "person:~marie-helene-quorvaz"),
        # A common word after a first name that is a family name too.
        ("Gestern sprach Peter Wolf mit der Presse.", "de", "person:~peter-wolf"),
        ("The band's singer Jack White left the stage.", "en", "person:~jack-white"),
    ],
)
def test_first_names_by_the_texts_language(
    enricher: Enricher, text: str, hint: str, person: str
) -> None:
    assert person in _persons(enricher, text, hint)


def test_a_common_first_name_opening_a_sentence_is_left_out(enricher: Enricher) -> None:
    # English can: a first name (Turkish Can) only before another name.
    assert "person:~sam-paparo" in _persons(enricher, "Can Sam Paparo keep it up?", "en")
    found = _persons(enricher, "Can Trump win the state again?", "en")
    assert "person:donald-trump" in found
    assert not any(p.startswith("person:~") for p in found)


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        # The last part of a hyphenated role.
        ("US-Rapper Quorvan Blettix wurde angeklagt.", "de", "person:~quorvan-blettix"),
        # The end of a German compound.
        ("Künstleragent Quorvan Blettix wirft ihm Untreue vor.", "de", "person:~quorvan-blettix"),
        # A role and a country's adjective after it.
        (
            "El senador estadounidense Quorvan Blettix dejó su escaño.",
            "es",
            "person:~quorvan-blettix",
        ),
        # A role after the name and a comma.
        (
            "The account came from Quorvan Blettix, a spokesperson for the front.",
            "en",
            "person:~quorvan-blettix",
        ),
        (
            "Según Quorvan Blettix, economista de la universidad, el dato es bueno.",
            "es",
            "person:~quorvan-blettix",
        ),
    ],
)
def test_roles_in_more_shapes(enricher: Enricher, text: str, hint: str, person: str) -> None:
    assert person in _persons(enricher, text, hint)


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        # A family name told by its ending.
        ("Quorvan Tatevosyan has skated abroad only once.", "en", "person:~quorvan-tatevosyan"),
        ("Я встретил вчера Квора Бластенко на вокзале.", "ru", "person:~квора-бластенко"),
        # The words after the run's last particle (no first name known).
        (
            "Inspiré du Journal de Qorvash Nijevski, le spectacle est bref.",
            "fr",
            "person:~qorvash-nijevski",
        ),
        # Family names of the lexicon between the unknown first one and the last.
        ("Officials said Quorvan Abrego Garcia can stay.", "en", "person:~quorvan-abrego-garcia"),
    ],
)
def test_unknown_words_before_a_family_name(
    enricher: Enricher, text: str, hint: str, person: str
) -> None:
    assert person in _persons(enricher, text, hint)


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        ("Officials said Moon Jae-in would attend.", "en", "person:~moon-jae-in"),
        ("Les rendez-vous de Tsai Ing-wen ont été discrets.", "fr", "person:~tsai-ing-wen"),
    ],
)
def test_an_east_asian_name_with_a_hyphenated_given_name(
    enricher: Enricher, text: str, hint: str, person: str
) -> None:
    assert person in _persons(enricher, text, hint)


def test_an_east_asian_family_name_that_is_a_place_gives_way(enricher: Enricher) -> None:
    article = _enrich(enricher, "Voters chose Cheng Li-wun as the party's leader.", "en")
    assert "person:~cheng-li-wun" in {t.id for t in article.tags}
    assert "country:CN" not in {t.id for t in article.tags}


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        # "and" inside a run of capitals cuts it in two names.
        (
            "Por eso, Marta Quiroga y Elena Vastrid crearon una cuenta.",
            "es",
            "person:~elena-vastrid",
        ),
        # Unknown words joined to a person by "and".
        ("Juana Pérez y Quorvan Blettix firmaron el acuerdo.", "es", "person:~quorvan-blettix"),
        ("Speakers include Qorvash Tindle and Dave Farley.", "en", "person:~qorvash-tindle"),
        # ... or between two persons of a list.
        (
            "Samedi soir, Laurent Dupont recevra Vincent Moreau, Quorvan Blettix et Didier Martin.",
            "fr",
            "person:~quorvan-blettix",
        ),
    ],
)
def test_names_listed_with_a_person(enricher: Enricher, text: str, hint: str, person: str) -> None:
    assert person in _persons(enricher, text, hint)


def test_no_list_rule_in_german(enricher: Enricher) -> None:
    found = _persons(enricher, "Dave Farley und Kölner Silvesternacht bleiben Themen.", "de")
    assert "person:~kolner-silvesternacht" not in found


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        # An article before a name in English: a thing named after someone.
        ("Crowds lined the route of the Martin Kenyon parade.", "en"),
        # Unknown words after an article, in any language.
        ("The committee investigating the Capitol Hill insurrection met.", "en"),
        ("Viajaron al Tolvar Garcia para ver el concierto.", "es"),
        # A ship's prefix.
        ("The carrier USS Abraham Lincoln sailed near the coast.", "en"),
        # A thing's name elsewhere in the text (Industrial).
        ("Dow Jones fecha em baixa\nO índice Dow Jones Industrial fechou em baixa.", "pt"),
    ],
)
def test_names_of_things_are_not_persons(enricher: Enricher, text: str, hint: str) -> None:
    assert not any(p.startswith("person:~") for p in _persons(enricher, text, hint))


@pytest.mark.parametrize(
    ("text", "hint", "person"),
    [
        (
            "President Quorvan Blettix arrived late. Blettix's speech was short.",
            "en",
            "person:~quorvan-blettix",
        ),
        (
            "Quorvan Blettix a parlé lundi. Le ministre Blettix a démissionné.",
            "fr",
            "person:~quorvan-blettix",
        ),
        # The family name of an East Asian name is its first word.
        ("Minister Cho Hyun-dong spoke. Cho said talks went well.", "en", "person:~cho-hyun-dong"),
        # Before the full name too (a headline).
        (
            "Thiem hadert mit der Chance\nDominic Thiem verlor in Melbourne.",
            "de",
            "person:~dominic-thiem",
        ),
    ],
)
def test_a_surname_alone_is_the_person_named_in_full(
    enricher: Enricher, text: str, hint: str, person: str
) -> None:
    mentions = _people(enricher, text, hint)
    assert len(mentions) == 2
    assert {e.id for e in mentions} == {person}


def test_a_surname_two_persons_share_is_neithers(enricher: Enricher) -> None:
    text = "Ana Quiroga y Luis Quiroga llegaron. Quiroga dijo que volverían."
    assert [e.text for e in _people(enricher, text, "es")] == ["Ana Quiroga", "Luis Quiroga"]


def test_a_byline_inside_a_line_ending_with_the_name(enricher: Enricher) -> None:
    authors: list[str] = []
    text = "Die Preise steigen wieder. Ein Test von Tobias Költzsch (iPhone, Smartphone)"
    assert _people_with_authors(enricher, text, "de", authors) == []
    assert authors == ["Tobias Költzsch"]
    # The name does not end the line: someone the article is about.
    about = "Das ist bekannt. Von Tobias Költzsch (CDU) stammt der Satz."
    assert [e.text for e in _people_with_authors(enricher, about, "de", [])] == ["Tobias Költzsch"]


def test_a_name_joined_to_a_byline_is_an_author_too(enricher: Enricher) -> None:
    authors: list[str] = []
    text = "Por Matt Spetalnick e Jason Szep\nO relatório foi publicado ontem."
    assert _people_with_authors(enricher, text, "pt", authors) == []
    assert authors == ["Matt Spetalnick", "Jason Szep"]


def _people_with_authors(
    enricher: Enricher, text: str, hint: str, authors: list[str]
) -> list[Entity]:
    return [e for e in enricher.linker.find(text, "body", hint, authors) if e.type == "PER"]


def test_a_russian_name_with_a_latin_stress_mark(enricher: Enricher) -> None:
    text = "Улицу назовут в честь Вячеслава Александрóва, решили в лицее."
    assert "person:~вячеслав-александров" in _persons(enricher, text, "ru")
