from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.enrichment.enrich import Enricher
from vigie.article import Article, Source, article_id
from vigie.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FEED = REPO / "samples" / "seed-feed.xml"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def seed_article() -> Article:
    """The reference article as the connector reads it from the sample feed."""
    from connectors.feed import parse_feed, read_feed
    from connectors.feedlist import FeedConfig

    parsed = parse_feed(
        read_feed(str(SAMPLE_FEED)), FeedConfig.at(str(SAMPLE_FEED), "vigie-sample")
    )
    assert len(parsed.articles) == 1
    return parsed.articles[0]


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    return Enricher.from_settings(Settings())


def make_article(url: str, title: str = "", body: str = "", **fields: Any) -> Article:
    """An article as a connector would produce it (plus any enriched fields given)."""
    fields.setdefault("source", Source(feed_id="test"))
    fields.setdefault("fetched_at", datetime(2025, 3, 1, tzinfo=UTC))
    return Article(id=article_id(url), url=url, canonical_url=url, title=title, body=body, **fields)


def enrich_text(enricher: Enricher, body: str, hint: str | None = None) -> Article:
    """`body` enriched as the article of a feed that declares `hint` its language."""
    source = Source(feed_id="t", language_hint=hint)
    return enricher.enrich(make_article("https://x.example/t", body=body, source=source))


def raw_message(url: str, title: str = "", body: str = "", **fields: Any) -> bytes:
    """The same, as the JSON bytes a connector puts on news.raw."""
    return make_article(url, title, body, **fields).model_dump_json().encode()


def children_outliving_a_kill(parent_code: str) -> list[int]:
    """Runs `parent_code`, which starts child processes, prints their pids on one
    line and waits; kills it with SIGKILL; returns the children still running 15 s
    later (a zombie has exited: only its reaper is gone)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert parent.stdout is not None
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert children, "the parent started no child"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        alive = children
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [pid for pid in children if _running(pid)]
        return alive
    finally:
        parent.kill()
        parent.wait()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
