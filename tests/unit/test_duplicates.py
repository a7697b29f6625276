import random

from pipeline.enrichment.duplicates import SIMILARITY, DuplicateIndex, signature, similarity

STORY = (
    "Le ministère de la Défense a annoncé mardi le déploiement de trois navires supplémentaires "
    "en mer Baltique, après une série d'incidents avec des câbles sous-marins endommagés. "
    "Selon le porte-parole, la mission durera au moins six mois et associera des équipes de "
    "plongeurs ainsi que des drones sous-marins. Les autorités estonienne et finlandaise ont "
    "salué une décision qu'elles réclamaient depuis l'automne, tandis que Moscou a dénoncé une "
    "provocation. Les enquêteurs n'ont pas encore établi l'origine des dégâts constatés sur "
    "deux lignes électriques et un câble de télécommunications reliant Helsinki à Tallinn."
)
OTHER = (
    "La Banque centrale européenne a laissé ses taux inchangés jeudi, en soulignant que "
    "l'inflation sous-jacente restait trop élevée malgré le ralentissement de la croissance. "
    "La présidente a indiqué que les prochaines décisions dépendraient des données publiées "
    "d'ici au printemps, notamment sur les salaires et les prix des services, et qu'aucune "
    "baisse n'était programmée. Les marchés attendaient ce statu quo, mais l'euro a reculé "
    "légèrement face au dollar après la conférence de presse tenue à Francfort."
)


def _syndicated(text: str, outlet: int) -> str:
    """What an outlet does to wire copy: its own credit line, a changed word or two."""
    rng = random.Random(outlet)
    words = text.split()
    position = rng.randrange(10, len(words) - 10)
    words[position] = words[position].upper()  # case does not count
    words[rng.randrange(10, len(words) - 10)] = "notamment"  # an edited word
    return (
        f"({['AFP', 'Reuters', 'Belga', 'ATS'][outlet % 4]}) "
        + " ".join(words)
        + f" Outlet {outlet}."
    )


def test_twenty_outlets_link_to_the_first() -> None:
    index = DuplicateIndex({})
    assert index.first_copy("wire", "h-wire", STORY) is None
    for outlet in range(20):
        copy = _syndicated(STORY, outlet)
        assert index.first_copy(f"outlet-{outlet}", f"h-{outlet}", copy) == "wire"


def test_unrelated_story_is_not_a_duplicate() -> None:
    index = DuplicateIndex({})
    assert index.first_copy("a", "h-a", STORY) is None
    assert index.first_copy("b", "h-b", OTHER) is None
    story, other = signature(STORY), signature(OTHER)
    assert story is not None
    assert other is not None
    assert similarity(story, other) < SIMILARITY / 2


def test_exact_copy_of_a_short_text_by_hash() -> None:
    index = DuplicateIndex({})
    assert index.first_copy("a", "same-hash", "Brève.") is None
    assert index.first_copy("b", "same-hash", "Brève.") == "a"
    assert signature("Brève.") is None  # too short for a near-copy signature


def test_the_same_article_again_is_not_its_own_duplicate() -> None:
    index = DuplicateIndex({})
    assert index.first_copy("a", "h1", STORY) is None
    assert index.first_copy("a", "h1", STORY) is None  # replayed
    assert index.first_copy("a", "h2", STORY + " Mise à jour.") is None  # updated


def test_state_is_plain_json_values() -> None:
    import json

    state: dict[str, object] = {}
    DuplicateIndex(state).first_copy("a", "h1", STORY)
    assert json.loads(json.dumps(state)) == state


def test_simhash_is_stable_across_processes() -> None:
    import subprocess
    import sys

    code = f"from pipeline.enrichment.duplicates import signature; print(signature({STORY!r}))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert runs == {str(signature(STORY))}
