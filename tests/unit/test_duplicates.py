import random

from pipeline.enrichment.duplicates import (
    SIMILARITY,
    DuplicateIndex,
    changelog_configs,
    signature,
    similarity,
    sweep_interval,
)
from pipeline.enrichment.enrich import Enricher
from tests.conftest import make_article

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


# -- the window, the writes, the other workers ---------------------------------------

WINDOW = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingState(dict[str, object]):
    """A mapping that counts writes and deletions: each is a changelog record in
    the worker."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.deletes = 0

    def __setitem__(self, key: str, value: object) -> None:
        self.writes += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.deletes += 1
        super().__delitem__(key)


def _story(n: int) -> str:
    """A text of its own: its words are numbered, so no two share shingles."""
    return " ".join(f"mot{n}x{i}" for i in range(60))


def test_one_write_per_first_copy_none_per_copy_or_replay() -> None:
    state = CountingState()
    index = DuplicateIndex(state, WINDOW, Clock())
    for n in range(10):
        assert index.first_copy(f"a{n}", f"h{n}", _story(n)) is None
    assert (state.writes, len(state)) == (10, 10)
    assert index.first_copy("wire", "h-wire", STORY) is None
    for outlet in range(5):
        assert index.first_copy(f"o{outlet}", f"h-o{outlet}", _syndicated(STORY, outlet)) == "wire"
    assert index.first_copy("exact", "h-wire", "whatever the body") == "wire"
    assert index.first_copy("wire", "h-wire", STORY) is None  # a replay
    assert state.writes == 11
    assert index.first_copy("wire", "h-wire-2", STORY + " Mise à jour.") is None  # updated
    assert state.writes == 12
    assert len(state) == 11


def test_a_first_copy_is_found_within_the_window_only() -> None:
    clock = Clock()
    state = CountingState()
    index = DuplicateIndex(state, WINDOW, clock)
    assert index.first_copy("wire", "h-wire", STORY) is None
    clock.now += WINDOW - 1
    assert index.first_copy("late", "h-late", _syndicated(STORY, 1)) == "wire"
    assert index.first_copy("exact", "h-wire", STORY) == "wire"
    clock.now += 2  # the wire is older than the window, even before a sweep
    assert index.first_copy("later", "h-later", _syndicated(STORY, 2)) is None
    # The next copy links to the new first one.
    assert index.first_copy("last", "h-last", _syndicated(STORY, 3)) == "later"


def test_expire_deletes_records_older_than_the_window() -> None:
    clock = Clock()
    state = CountingState()
    index = DuplicateIndex(state, WINDOW, clock)
    index.first_copy("old", "h-old", STORY)
    clock.now += WINDOW / 2
    index.first_copy("recent", "h-recent", OTHER)
    assert index.expire() == 0
    assert set(state) == {"old", "recent"}
    clock.now += WINDOW / 2 + 1
    assert index.expire() == 1
    assert set(state) == {"recent"}
    assert state.deletes == 1
    assert len(index) == 1
    clock.now += WINDOW
    assert index.expire() == 1
    assert (len(state), len(index), state.deletes) == (0, 0, 2)


def test_state_stays_as_large_as_the_window() -> None:
    clock = Clock()
    state = CountingState()
    index = DuplicateIndex(state, WINDOW, clock)
    sizes = []
    for n in range(600):  # ten windows, 60 articles per window
        clock.now += WINDOW / 60
        assert index.first_copy(f"a{n}", f"h{n}", _story(n)) is None
        if n % 6 == 0:
            index.expire()
        sizes.append(len(state))
    assert max(sizes[120:]) <= 60 + 6
    assert state.writes == 600
    assert state.deletes == 600 - len(state)
    assert len(index) == len(state)


def test_a_non_deleting_sweep_forgets_without_writing() -> None:
    """In the worker one worker deletes; the others forget and keep their copy until
    its tombstone arrives."""
    clock = Clock()
    state = CountingState()
    index = DuplicateIndex(state, WINDOW, clock)
    index.first_copy("wire", "h-wire", STORY)
    clock.now += WINDOW + 1
    assert index.expire(delete=False) == 1
    assert (state.deletes, len(state), len(index)) == (0, 1, 0)
    index.observe("wire", None)  # the tombstone
    del state["wire"]
    assert index.first_copy("copy", "h-copy", _syndicated(STORY, 1)) is None
    assert state.deletes == 1


def _record_of(article_id: str, content_hash: str, body: str, clock: Clock) -> object:
    """The record another worker writes for this article."""
    elsewhere: dict[str, object] = {}
    DuplicateIndex(elsewhere, WINDOW, clock).first_copy(article_id, content_hash, body)
    return elsewhere[article_id]


def test_a_record_put_in_the_mapping_directly_is_found() -> None:
    clock = Clock()
    state: dict[str, object] = {}
    index = DuplicateIndex(state, WINDOW, clock)
    assert index.first_copy("mine", "h-mine", OTHER) is None
    state["theirs"] = _record_of("theirs", "h-theirs", STORY, clock)
    assert index.first_copy("copy", "h-copy", _syndicated(STORY, 1)) == "theirs"
    assert index.first_copy("exact", "h-theirs", "Brève.") == "theirs"
    del state["theirs"]  # deleted elsewhere
    assert index.first_copy("copy2", "h-copy2", _syndicated(STORY, 2)) is None


def test_records_from_the_changelog_are_found_and_tombstones_forget() -> None:
    """What the worker's table does: `observe` for each changelog record, then the
    table stores it."""
    clock = Clock()
    state = CountingState()
    index = DuplicateIndex(state, WINDOW, clock)
    record = _record_of("theirs", "h-theirs", STORY, clock)
    index.observe("theirs", record)
    dict.__setitem__(state, "theirs", record)
    assert index.first_copy("copy", "h-copy", _syndicated(STORY, 1)) == "theirs"
    index.observe("theirs", None)
    dict.__delitem__(state, "theirs")
    assert index.first_copy("copy", "h-copy", _syndicated(STORY, 1)) is None
    assert state.writes == 1  # only "copy", now a first copy
    index.observe("copy", state["copy"])  # its own write, read back: nothing changes
    assert index.first_copy("copy3", "h-copy3", _syndicated(STORY, 3)) == "copy"


def test_values_of_the_layout_before_are_deleted_by_a_sweep() -> None:
    """The table's changelog may hold the layout before this one (h:, s:, b<n>: keys)."""
    clock = Clock()
    state: dict[str, object] = {"h:abc": "wire", "s:wire": [1, 2, 3], "b3:ff": ["wire"]}
    index = DuplicateIndex(state, WINDOW, clock)
    assert index.first_copy("a", "abc", STORY) is None  # "h:abc" means nothing now
    index.expire()
    assert set(state) == {"a"}


def test_changelog_configs_keep_about_a_window() -> None:
    configs = changelog_configs(72 * 3600)
    assert configs == {
        "segment.ms": "3600000",
        "max.compaction.lag.ms": "3600000",
        "delete.retention.ms": "3600000",
    }
    assert changelog_configs(36)["max.compaction.lag.ms"] == "9000"
    assert sweep_interval(36) == 3.6
    assert sweep_interval(72 * 3600) == 300


def test_the_table_size_is_a_metric() -> None:
    from prometheus_client import REGISTRY

    clock = Clock()
    state: dict[str, object] = {}
    index = DuplicateIndex(state, WINDOW, clock)
    for n in range(3):
        index.first_copy(f"a{n}", f"h{n}", _story(n))
    assert REGISTRY.get_sample_value("vigie_duplicates_state_keys") == 3
    clock.now += WINDOW + 1
    index.expire()
    assert REGISTRY.get_sample_value("vigie_duplicates_state_keys") == 0


def test_title_only_entries_are_not_copies_of_each_other(enricher: Enricher) -> None:
    """Feeds that give titles only (ORF): the hash of an empty body made every such
    entry a copy of the first one, and alerts on them suppressed as repeats."""
    index = DuplicateIndex({})
    titles = ["Raubüberfall in Salzburger Wettlokal", "Drei Welpen aus Hotel geborgen"]
    linked = [
        index.link(enricher.enrich(make_article(f"https://orf.example/{n}", title)))
        for n, title in enumerate([*titles, titles[0]])
    ]
    assert [a.duplicate_of for a in linked] == [None, None, linked[0].id]
    empty = enricher.enrich(make_article("https://x.example/empty", ""))
    assert empty.content_hash is None
    assert index.link(empty).duplicate_of is None
