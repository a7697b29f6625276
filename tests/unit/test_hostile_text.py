"""Text written by an attacker (or a broken CMS) costs enrichment linear time and
bounded output: runs of markup characters, a name repeated thousands of times,
fields far over their caps, dates past datetime's range."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.enrichment.duplicates import DuplicateIndex
from pipeline.enrichment.enrich import MAX_ENTITIES, Enricher, EnrichmentTimeout
from pipeline.signals.stories import StoryIndex
from pipeline.stream.enriching import EnrichStage
from pipeline.stream.enrichpool import ThreadEnrichment
from tests.conftest import make_article, raw_message
from tests.unit.fakes import FakeEvent, FakeTopic, ListDeadLetters, stream
from vigie.article import TEXT_CHARS, TITLE_CHARS, Article

# The budget a worker gives one article is VIGIE_ENRICH_DEADLINE_SECONDS (10 s);
# 100 KB of any of these took minutes before the markdown patterns were bounded.
BUDGET = 2.0


@pytest.mark.parametrize("run", ["[", "(", "!", "<", "*", "![", "](", "<a", "&#"])
def test_a_100_kb_run_of_markup_is_enriched_within_the_deadline(
    enricher: Enricher, run: str
) -> None:
    article = make_article("https://x.example/run", body=run * (100_000 // len(run)))
    enriched = enricher.enrich(article, deadline=time.monotonic() + BUDGET)
    assert enriched.id == article.id


@pytest.mark.parametrize(
    "sentence",
    [
        "Reporting by Jane Smith and Tom Kellner. ",
        "Olaf Scholz sagte. ",
        "董事长周子学说，",
        "Zorvak Petrenko said. ",
        "Angela Merkel and Zorvak Quillon, ",
    ],
    ids=["bylines", "watch-listed", "zh-after-role", "surname-ending", "listed"],
)
def test_a_100_kb_line_of_names_costs_linear_time(enricher: Enricher, sentence: str) -> None:
    # One line, no line break. Each of these read the whole line, or the whole
    # text, at each name: the byline check (9 s here), the check against every
    # name the gazetteer found (a watch-listed one: 4 s), the count of a Chinese
    # name after a role (4 s), the title-case headline check of unknown names
    # (17 s; 11 s listed with a known person).
    enricher.enrich(make_article("https://x.example/once", body=sentence))  # models loaded
    article = make_article("https://x.example/line", body=sentence * (100_000 // len(sentence)))
    started = time.process_time()
    enriched = enricher.enrich(article)
    assert enriched.entities or enriched.authors
    assert time.process_time() - started < BUDGET


def test_a_passed_deadline_stops_enrichment(enricher: Enricher) -> None:
    article = make_article("https://x.example/late", body="La Corée du Nord. " * 100)
    with pytest.raises(EnrichmentTimeout, match="deadline"):
        enricher.enrich(article, deadline=time.monotonic() - 1)


def test_the_enrich_stage_dead_letters_an_article_past_its_deadline(enricher: Enricher) -> None:
    dead_letters, out = ListDeadLetters(), FakeTopic()
    stage = EnrichStage(
        ThreadEnrichment(enricher),
        DuplicateIndex({}),
        StoryIndex({}),
        out,
        dead_letters,
        deadline=1e-9,
    )
    event = FakeEvent(raw_message("https://x.example/slow", "Titre", "La Russie. " * 200))
    asyncio.run(stage.run(stream([event])))
    assert out.sent == []
    ((_, stage_name, reason),) = dead_letters.sent
    assert stage_name == "enrich"
    assert "deadline" in reason
    assert event.acks == 1


def test_a_name_repeated_thousands_of_times_lists_a_bounded_number_of_mentions(
    enricher: Enricher,
) -> None:
    article = make_article("https://x.example/russie", body="Russie. " * 12_000)
    enriched = enricher.enrich(article)
    assert len(enriched.entities) == MAX_ENTITIES
    assert "country:RU" in {t.id for t in enriched.tags}
    assert any(f"first {MAX_ENTITIES} of 12000" in note for note in enriched.notes)
    # Well inside Kafka's 1 MB message limit.
    assert len(enriched.model_dump_json()) < 500_000


def test_fields_over_their_caps_are_cut_before_enrichment_and_noted(enricher: Enricher) -> None:
    article = make_article(
        "https://x.example/long", title="Titre " * 1_000, body="Le Kremlin. " * 20_000
    )
    enriched = enricher.enrich(article)
    assert len(enriched.title) <= TITLE_CHARS
    assert len(enriched.body) <= TEXT_CHARS
    assert any(note.startswith("title cut from") for note in enriched.notes)
    assert any(note.startswith("body cut from") for note in enriched.notes)


def test_a_date_past_the_range_of_utc_is_a_validation_error_not_a_crash() -> None:
    data = json.loads(raw_message("https://x.example/9999", "x", "y"))
    data["published_at"] = "9999-12-31T23:59:59-01:00"
    with pytest.raises(ValidationError, match="out of range"):
        Article.model_validate(data)


def test_connector_notes_survive_enrichment(enricher: Enricher) -> None:
    article = make_article(
        "https://x.example/noted",
        body="La Russie.",
        notes=("published_at: unreadable date 'hier'",),
        fetched_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    assert "published_at: unreadable date 'hier'" in enricher.enrich(article).notes


def test_an_enriched_article_over_the_message_limit_is_dead_lettered(enricher: Enricher) -> None:
    """It used to crash the agent after its offset was committed: gone, no trace."""
    dead_letters, out = ListDeadLetters(), FakeTopic()
    stage = EnrichStage(
        ThreadEnrichment(enricher),
        DuplicateIndex({}),
        StoryIndex({}),
        out,
        dead_letters,
        max_bytes=20_000,
    )
    event = FakeEvent(raw_message("https://x.example/big", "Titre", "La Russie. " * 5_000))
    asyncio.run(stage.run(stream([event])))
    assert out.sent == []
    ((_, stage_name, reason),) = dead_letters.sent
    assert stage_name == "enrich"
    assert "over the 20000-byte message limit" in reason
    assert event.acks == 1


def test_a_900_kb_title_is_cut_and_sent_on(enricher: Enricher) -> None:
    dead_letters, out = ListDeadLetters(), FakeTopic()
    stage = EnrichStage(
        ThreadEnrichment(enricher), DuplicateIndex({}), StoryIndex({}), out, dead_letters
    )
    event = FakeEvent(raw_message("https://x.example/title", "Moscou " * 130_000, "La Russie."))
    asyncio.run(stage.run(stream([event])))
    assert dead_letters.sent == []
    ((_, value),) = out.sent
    sent = Article.model_validate_json(value)
    assert len(sent.title) <= TITLE_CHARS
    assert any(note.startswith("title cut from") for note in sent.notes)
