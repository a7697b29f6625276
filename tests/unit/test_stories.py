"""The story index (pipeline/signals/stories.py): joins, replays, wire copies,
other workers' records, and a window that keeps memory flat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.enrichment.enrich import Enricher
from pipeline.signals.stories import StoryIndex
from tests.conftest import make_article
from vigie.article import Article, Source

WHEN = datetime(2026, 11, 25, 7, tzinfo=UTC)

# Background news: the rarity of a feature is learnt from what else is held.
BACKGROUND = [
    ("La Banque centrale européenne laisse ses taux inchangés", "Francfort, inflation, salaires."),
    ("Le Tour de France partira de Barcelone", "Le départ sera donné en Espagne en juillet."),
    ("Des inondations en Bavière", "L'Allemagne envoie l'armée pour aider les sinistrés."),
    ("La Russie annonce des exercices navals", "Moscou déploie des navires en mer Baltique."),
    ("Le Japon relève son budget de défense", "Tokyo veut acheter des missiles de croisière."),
    ("Élections au Brésil: Lula en tête", "Le président sortant arrive en tête du premier tour."),
]
MISSILE = [
    (
        "fr",
        "La Corée du Nord tire un missile balistique intercontinental vers la mer du Japon",
        "Pyongyang a lancé mercredi un missile balistique intercontinental, selon Séoul. "
        "Kim Jong-un a supervisé le tir, selon l'agence KCNA.",
    ),
    (
        "en",
        "North Korea fires intercontinental ballistic missile into the Sea of Japan",
        "Pyongyang launched an intercontinental ballistic missile on Wednesday, Seoul said. "
        "Kim Jong Un oversaw the launch, KCNA reported.",
    ),
    (
        "fr",
        "Tir de missile nord-coréen: Séoul et Tokyo condamnent Pyongyang",
        "Le tir du missile balistique intercontinental supervisé par Kim Jong-un a été "
        "condamné par Séoul et Tokyo; l'agence KCNA parle d'un succès.",
    ),
]


def _enriched(
    enricher: Enricher, n: int, language: str, title: str, body: str, **fields: object
) -> Article:
    fields.setdefault("published_at", WHEN)
    return enricher.enrich(
        make_article(
            f"https://news.example/{n}",
            title,
            body,
            source=Source(feed_id="f", language_hint=language),
            **fields,
        )
    )


def _index_with_background(enricher: Enricher, **options: object) -> StoryIndex:
    index = StoryIndex({}, **options)  # type: ignore[arg-type]
    for n, (title, body) in enumerate(BACKGROUND):
        index.assign(_enriched(enricher, 100 + n, "fr", title, body))
    return index


def test_one_event_in_two_languages_is_one_story_and_other_news_is_not(
    enricher: Enricher,
) -> None:
    index = _index_with_background(enricher)
    articles = [_enriched(enricher, n, *fields) for n, fields in enumerate(MISSILE)]
    stories = [index.assign(a) for a in articles]
    assert [s.story for s in stories] == [articles[0].id] * 3
    assert stories[0].joined is None
    assert stories[1].joined == articles[0].id
    other = _enriched(enricher, 9, "fr", "Grève à la SNCF", "Les trains régionaux sont supprimés.")
    assert index.assign(other).story == other.id


def test_a_replay_keeps_its_story_and_writes_nothing(enricher: Enricher) -> None:
    state: dict[str, str] = {}
    index = StoryIndex(state)
    article = _enriched(enricher, 1, *MISSILE[0])
    first = index.assign(article)
    written = dict(state)
    assert index.assign(article).story == first.story
    assert state == written


def test_a_wire_copy_joins_its_first_copys_story(enricher: Enricher) -> None:
    index = _index_with_background(enricher)
    first = _enriched(enricher, 1, *MISSILE[0])
    story = index.assign(first).story
    # Nothing in common but the link: the copy's text was cut to a headline.
    copy = _enriched(enricher, 2, "fr", "Dépêche", "", duplicate_of=first.id)
    assert index.assign(copy).story == story


def test_another_workers_records_are_matched_and_its_deletions_forgotten(
    enricher: Enricher,
) -> None:
    theirs: dict[str, str] = {}
    other_worker = _index_with_background(enricher)
    other_worker._state = theirs  # what it writes reaches us through the changelog
    first = _enriched(enricher, 1, *MISSILE[0])
    other_worker.assign(first)
    ours = _index_with_background(enricher)
    for key, value in theirs.items():
        ours.observe(key, value)
    second = _enriched(enricher, 2, *MISSILE[1])
    assert ours.assign(second).story == first.id
    ours.observe(first.id, None)
    ours.observe(second.id, None)
    third = _enriched(enricher, 3, *MISSILE[2])
    assert ours.assign(third).story == third.id  # nothing left to join


def test_the_window_forgets_and_deletes_old_records(enricher: Enricher) -> None:
    now = [1_000_000.0]
    state: dict[str, str] = {}
    index = StoryIndex(state, window_seconds=3600, clock=lambda: now[0])
    first = _enriched(enricher, 1, *MISSILE[0])
    index.assign(first)
    now[0] += 1800
    index.assign(_enriched(enricher, 2, *MISSILE[1]))
    now[0] += 2000  # the first is past the window, the second not
    assert index.expire(delete=True) == 1
    assert set(state) == {make_article("https://news.example/2").id}
    assert len(index) == 1
    now[0] += 4000
    late = _enriched(enricher, 3, *MISSILE[2], published_at=WHEN + timedelta(hours=3))
    assert index.assign(late).story == late.id  # the story closed: a new one starts
    assert index.expire(delete=False) == 1  # a worker that does not delete only forgets
    assert len(state) == 2
    assert len(index) == 1


def test_a_damaged_record_is_ignored(enricher: Enricher) -> None:
    index = StoryIndex({})
    index.observe("x", "not|a|record")
    index.observe("y", 42)
    assert len(index) == 0
    article = _enriched(enricher, 1, *MISSILE[0])
    assert index.assign(article).story == article.id
