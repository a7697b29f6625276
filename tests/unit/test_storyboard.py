"""The stories index upkeep (pipeline/signals/storyboard.py): documents from the
engine's aggregation, written once the articles settled, not rewritten too often,
kept pending while the engine is down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pipeline.search.engine import EngineUnavailable, SearchResult
from pipeline.signals import storyboard
from pipeline.signals.storyboard import StoryBoard, story_documents
from tests.unit.fakes import FakeEngine


def _hit(article_id: str, title: str, language: str) -> dict[str, Any]:
    source = {"id": article_id, "title": title, "url": f"https://x/{article_id}"}
    return {"hits": {"hits": [{"_source": {**source, "language": language}}]}}


def _bucket(key: str) -> dict[str, Any]:
    def keys(*values: str) -> dict[str, Any]:
        return {"buckets": [{"key": v, "doc_count": 1} for v in values]}

    return {
        "key": key,
        "doc_count": 3,
        "first_seen": {"value_as_string": "2026-11-25T07:30:00.000Z"},
        "last_seen": {"value_as_string": "2026-11-25T09:00:00.000Z"},
        "languages": keys("fr", "ko"),
        "sources": keys("a", "b"),
        "source_count": {"value": 2},
        "tags": keys("country:KP"),
        "tag_labels": keys("Corée du Nord"),
        "people": keys("Kim Jong-un"),
        "first": _hit("a1", "Premier titre", "fr"),
        "titles": {
            "buckets": [
                {"key": "fr", "first": _hit("a1", "Premier titre", "fr")},
                {"key": "ko", "first": _hit("a3", "북한", "ko")},
            ]
        },
    }


AGGREGATIONS = {"stories": {"buckets": [_bucket("s1")]}}


def test_a_story_document_sums_up_its_articles() -> None:
    ((story_id, document),) = story_documents(AGGREGATIONS, datetime(2026, 11, 25, tzinfo=UTC))
    assert story_id == "s1"
    assert document["title"] == "Premier titre"
    assert document["articles"] == 3
    assert (document["languages"], document["language_count"]) == (["fr", "ko"], 2)
    assert document["source_count"] == 2
    assert [t["title"] for t in document["titles"]] == ["Premier titre", "북한"]
    assert document["first_seen"] == "2026-11-25T07:30:00.000Z"


def test_stories_are_written_once_settled_and_not_rewritten_too_soon() -> None:
    clock = [1000.0]
    engine = FakeEngine()
    board = StoryBoard(engine, "articles", "stories", clock=lambda: clock[0])
    board.touched(["s1", None])
    assert asyncio.run(board.refresh()) == 0  # not settled: searches may not see it yet
    clock[0] += storyboard.SETTLE_SECONDS
    engine.search_answers.append(SearchResult(hits=[], total=3, aggregations=AGGREGATIONS))
    assert asyncio.run(board.refresh()) == 1
    assert engine.called("bulk_index") == [("stories", ["s1"])]
    assert board.pending == 0
    board.touched(["s1"])
    clock[0] += storyboard.SETTLE_SECONDS
    assert asyncio.run(board.refresh()) == 0  # written a moment ago
    assert board.pending == 1  # but not forgotten
    clock[0] += storyboard.REWRITE_SECONDS
    engine.search_answers.append(SearchResult(hits=[], total=3, aggregations=AGGREGATIONS))
    assert asyncio.run(board.refresh()) == 1


def test_the_engine_down_keeps_stories_pending() -> None:
    clock = [1000.0]
    engine = FakeEngine()
    board = StoryBoard(engine, "articles", "stories", clock=lambda: clock[0])
    board.touched(["s1"])
    clock[0] += storyboard.SETTLE_SECONDS
    engine.fail("search", EngineUnavailable("down"))
    assert asyncio.run(board.refresh()) == 0
    assert board.pending == 1
    engine.heal("search")
    engine.search_answers.append(SearchResult(hits=[], total=3, aggregations=AGGREGATIONS))
    assert asyncio.run(board.refresh()) == 1
    assert board.pending == 0
