"""Stories on the real services: one event reported in French, English and Korean
becomes one story, an unrelated article another; the news-stories index sums the
story up; a once-per-story rule fires once, then a follow-up for each new
language; after a restart of the worker, a German report of the event joins the
same story (the story table comes back from its changelog) and brings one more
follow-up, never a second first alert."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from kafka.partitioner.default import DefaultPartitioner

from pipeline.search.clients import connect
from tests.conftest import make_article
from tests.integration.conftest import Stack, indexed, wait_for
from vigie.article import Article, Source
from vigie.settings import free_port

WHEN = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)


def _article(url: str, language: str, title: str, body: str) -> Article:
    return make_article(
        url,
        title,
        body,
        source=Source(feed_id=f"feed-{language}", name=f"Feed {language}", language_hint=language),
        published_at=WHEN,
        fetched_at=WHEN,
    )


EVENT = [
    _article(
        "https://fr.example/missile",
        "fr",
        "La Corée du Nord tire un missile balistique intercontinental vers la mer du Japon",
        "Pyongyang a lancé mercredi un missile balistique intercontinental tombé en mer du "
        "Japon, selon l'état-major sud-coréen. Kim Jong-un a supervisé le tir, selon "
        "l'agence KCNA. Tokyo et Séoul ont condamné un tir « irresponsable ».",
    ),
    _article(
        "https://en.example/missile",
        "en",
        "North Korea fires intercontinental ballistic missile into the Sea of Japan",
        "Pyongyang launched an intercontinental ballistic missile on Wednesday that fell "
        "into the Sea of Japan, South Korea's joint chiefs of staff said. Kim Jong Un "
        "oversaw the launch, KCNA reported. Tokyo and Seoul condemned it.",
    ),
    _article(
        "https://ko.example/missile",
        "ko",
        "북한, 동해상으로 대륙간탄도미사일 발사",
        "북한이 수요일 대륙간탄도미사일을 동해상으로 발사했다고 합동참모본부가 밝혔다. "
        "김정은 국무위원장이 발사를 참관했다고 조선중앙통신이 보도했다. 일본과 한국 정부는 "
        "이를 규탄했다.",
    ),
]
UNRELATED = _article(
    "https://fr.example/vendanges",
    "fr",
    "En Bourgogne, les vendanges commencent sous la pluie",
    "Les viticulteurs de la Côte-d'Or ont commencé la récolte du pinot noir malgré une "
    "semaine d'averses; la coopérative de Beaune prévoit un millésime abondant.",
)
AFTER_RESTART = _article(
    "https://de.example/rakete",
    "de",
    "Nordkorea feuert Interkontinentalrakete ins Japanische Meer",
    "Nordkorea hat am Mittwoch eine ballistische Interkontinentalrakete abgefeuert, die "
    "ins Japanische Meer fiel, so der südkoreanische Generalstab. Kim Jong Un "
    "beaufsichtigte den Start. Tokio und Seoul verurteilten ihn.",
)


class _Hook(BaseHTTPRequestHandler):
    alerts: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).alerts.extend(body["alerts"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _reasons(count: int) -> list[tuple[str, list[str]]] | None:
    if len(_Hook.alerts) < count:
        return None
    return [(a["article"]["language"], a["story"]["reasons"]) for a in _Hook.alerts]


def _stories(stack: Stack, articles: list[Article]) -> dict[str, str] | None:
    engine = connect(stack.settings)
    try:
        hits = indexed(
            engine, stack.settings.index_articles, {"ids": {"values": [a.id for a in articles]}}
        )
    finally:
        engine.close()
    found = {hit.id: hit.source.get("story_id") for hit in hits}
    return found if len(found) == len(articles) else None


def _story_document(stack: Stack, story_id: str, articles: int) -> dict[str, Any] | None:
    engine = connect(stack.settings)
    try:
        hits = indexed(engine, stack.settings.index_stories, {"ids": {"values": [story_id]}})
    finally:
        engine.close()
    if not hits or hits[0].source.get("articles") != articles:
        return None
    return dict(hits[0].source)


def test_a_story_forms_across_three_languages_and_survives_a_restart(stack: Stack) -> None:
    _Hook.alerts.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _story_across_a_restart(stack, f"http://127.0.0.1:{server.server_address[1]}/hook")
    finally:
        server.shutdown()


def _story_across_a_restart(stack: Stack, hook: str) -> None:
    worker = stack.start_worker()
    stack.create_rule(
        {
            "id": "coree-du-nord",
            "query": {"all_tags": ["country:KP"]},
            "destinations": [{"url": hook}],
            "once_per": "story",
            "follow_up_languages": True,
        }
    )
    stack.produce(
        stack.settings.topic_raw, [a.model_dump_json().encode() for a in [*EVENT, UNRELATED]]
    )
    found = wait_for(
        "four articles indexed", lambda: _stories(stack, [*EVENT, UNRELATED]), timeout=120
    )
    story = found[EVENT[0].id]
    assert story == EVENT[0].id  # the story is named after its first article
    assert [found[a.id] for a in EVENT] == [story] * 3
    assert found[UNRELATED.id] == UNRELATED.id

    document = wait_for(
        "the story's document", lambda: _story_document(stack, story, 3), timeout=60
    )
    assert document["title"] == EVENT[0].title
    assert sorted(document["languages"]) == ["en", "fr", "ko"]
    assert document["language_count"] == 3
    assert sorted(document["sources"]) == ["feed-en", "feed-fr", "feed-ko"]
    assert "country:KP" in document["tags"]
    assert {t["language"]: t["title"] for t in document["titles"]}["ko"] == EVENT[2].title
    assert document["first_seen"].startswith("2026-11-25T07:30")
    listed = stack.run("stories", "--hours", "8760")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == EVENT[0].title
    assert "3 articles, 3 sources, [" in listed.stdout
    nothing = stack.run("stories", "--hours", "0.001")
    assert nothing.returncode == 1
    alerts = wait_for("the story's alert and follow-ups", lambda: _reasons(3), timeout=60)
    # Alerts of a rule go out side by side: any of the three may be the first.
    assert sorted(language for language, _ in alerts) == ["en", "fr", "ko"]
    assert sorted(reasons for _, reasons in alerts) == [
        ["first"],
        ["new_language"],
        ["new_language"],
    ]
    assert {a["story"]["story_id"] for a in _Hook.alerts} == {story}

    worker.terminate()
    worker.wait(timeout=60)
    stack.start_worker()
    stack.produce(stack.settings.topic_raw, [AFTER_RESTART.model_dump_json().encode()])
    after = wait_for("the German report", lambda: _stories(stack, [AFTER_RESTART]), timeout=120)
    assert after[AFTER_RESTART.id] == story
    document = wait_for(
        "the story's document with four articles",
        lambda: _story_document(stack, story, 4),
        timeout=60,
    )
    assert sorted(document["languages"]) == ["de", "en", "fr", "ko"]
    alerts = wait_for("the German follow-up", lambda: _reasons(4), timeout=60)
    assert alerts[3] == ("de", ["new_language"])
    assert len(_Hook.alerts) == 4


def test_two_workers_put_one_event_in_one_story(stack: Stack) -> None:
    """Each worker owns one of the two partitions; the articles of one event land on
    both. The story records are a global table: what one worker recorded, the other
    matches against."""
    second_port = free_port()
    stack.start_worker()
    stack.start("worker", env={"VIGIE_WEB_PORT": str(second_port)})

    def both_hold_a_partition() -> bool | None:
        # /health is 200 once Kafka answers and the worker holds a partition.
        answers = []
        for port in (stack.settings.web_port, second_port):
            try:
                answers.append(httpx.get(f"http://127.0.0.1:{port}/health", timeout=2))
            except httpx.HTTPError:
                return None
        return all(a.status_code == 200 for a in answers) or None

    wait_for("both workers in the group with a partition each", both_hold_a_partition, 120)
    partitioner = DefaultPartitioner()
    assert len({partitioner(a.id.encode(), [0, 1], [0, 1]) for a in EVENT}) == 2
    for n, article in enumerate(EVENT):  # keyed by id: on both partitions
        stack.produce(
            stack.settings.topic_raw, [article.model_dump_json().encode()], [article.id.encode()]
        )
        found = wait_for(f"article {n} indexed", partial(_stories, stack, [article]), 120)
        assert found[article.id] == EVENT[0].id, f"article {n} started a story of its own"
