"""Enrichment in child processes: the same articles as in the worker's thread, a
dead child replaced, and no child left behind by a worker killed with SIGKILL."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.enrichment.enrich import Enricher, EnrichmentTimeout
from pipeline.stream.enrichpool import Enriched, ProcessEnrichment, ThreadEnrichment
from tests.conftest import make_article
from vigie.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TEXT = (
    "Vladimir Poutine a reçu Kim Jong-un à Moscou. La Corée du Nord et la Russie "
    "ont signé un accord, selon le Kremlin."
)


FAR = 60.0  # seconds: no deadline in sight


def test_a_child_process_enriches_as_the_thread_does(enricher: Enricher) -> None:
    articles = [make_article(f"https://x.example/{n}", f"Sommet {n}", TEXT * 2) for n in range(3)]
    pool = ProcessEnrichment(Settings(), 1)
    thread = ThreadEnrichment(enricher)

    async def both() -> tuple[list[Enriched], list[Enriched]]:
        apart = [await pool(a, FAR) for a in articles]
        inside = [await thread(a, FAR) for a in articles]
        return apart, inside

    try:
        apart, inside = asyncio.run(both())
    finally:
        pool.close()
        thread.close()
    assert apart == inside
    assert {t.id for t in inside[0].article.tags} >= {"country:KP", "country:RU"}
    assert len(inside[0].signature) == 128  # long enough for a near-duplicate signature
    assert inside[0].features[0]  # entity ids for stories


def test_a_dead_child_is_replaced_and_its_article_tried_again() -> None:
    pool = ProcessEnrichment(Settings(), 1)
    article = make_article("https://x.example/again", "Moscou", TEXT)

    async def run() -> tuple[str | None, str | None]:
        first = await pool(article, FAR)
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)
        second = await pool(article, FAR)  # on a child started for it
        return first.article.language, second.article.language

    try:
        assert asyncio.run(run()) == ("fr", "fr")
    finally:
        pool.close()


CHILDREN = """
import asyncio, multiprocessing, sys, time
from pipeline.stream.enrichpool import ProcessEnrichment
from tests.conftest import make_article
from vigie.settings import Settings

async def main() -> None:
    pool = ProcessEnrichment(Settings(), 2)
    await pool(make_article("https://x.example/k", "Moscou", "La Russie."), 60.0)
    print(" ".join(str(c.pid) for c in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_children_exit_when_the_worker_is_killed() -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", CHILDREN],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert worker.stdout is not None
    children = [int(pid) for pid in worker.stdout.readline().split()]
    assert len(children) == 2, children
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 15
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in children if _alive(pid)]
    assert alive == [], f"children {alive} outlived their killed worker"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited, waiting for its reaper


def test_an_article_past_twice_its_deadline_has_its_process_stopped() -> None:
    """A stage that runs away is not left to run: with no grace and no time at
    all, the article is given up and its child killed; the next one is enriched
    by a new child."""
    pool = ProcessEnrichment(Settings(), 1, grace=0.0)
    article = make_article("https://x.example/stuck", "Moscou", TEXT)

    async def run() -> str | None:
        children = multiprocessing.active_children()
        with pytest.raises(EnrichmentTimeout, match="its process was stopped"):
            await pool(article, 0.0)
        for child in children:
            child.join(10)
            assert not child.is_alive()
        return (await pool(article, FAR)).article.language

    try:
        assert asyncio.run(run()) == "fr"
    finally:
        pool.close()
