"""The `deliver` stage (pipeline/alerts/dispatch.py) against a real local webhook
receiver (aiohttp, on 127.0.0.1) and an in-memory engine holding the rules and the
deliveries index."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from pipeline.alerts.delivery import AlertMessage, alert_id
from pipeline.alerts.dispatch import DeliveryPolicy, Dispatcher
from pipeline.alerts.marks import Marks
from pipeline.alerts.rules import AlertRule, RuleError, parse_rule
from pipeline.alerts.store import RuleStore
from pipeline.search import engine as search_engine
from pipeline.search.engine import EngineUnavailable
from tests.conftest import make_article
from tests.unit.fakes import FakeEngine, FakeEvent, ListDeadLetters, stream
from vigie.article import Source
from vigie.outbound import Guard, networks
from vigie.retry import Backoff

SECRET = "s3cret-for-tests"
RULES, DELIVERIES, MARKS, STORIES = "rules-test", "deliveries-test", "marks-test", "stories-test"
POLICY = DeliveryPolicy(
    max_attempts=3,
    timeout=5.0,
    backoff=Backoff(start=0.001, cap=0.002, max_retry_after=0.01),
    guard=Guard(allow=networks("127.0.0.0/8")),  # the receiver is local: opted in
)


@dataclass
class Receiver:
    """A webhook receiver: keeps every call; answers each path with its queued
    statuses in turn, then 200."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)

    def to(self, path: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["path"] == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Vigie-Timestamp", "")
        key = request.headers.get("Idempotency-Key", "")
        signed = f"{timestamp}.{key}.".encode() + body
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256)
        self.calls.append(
            {
                "path": request.path,
                "key": request.headers.get("Idempotency-Key"),
                "signed": hmac.compare_digest(
                    request.headers.get("X-Vigie-Signature", ""), "sha256=" + expected.hexdigest()
                ),
                "body": json.loads(body),
            }
        )
        queued = self.statuses.get(request.path)
        return web.Response(status=queued.pop(0) if queued else 200)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{path:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@dataclass
class Harness:
    receiver: Receiver
    engine: FakeEngine
    store: RuleStore
    state: dict[str, Any]
    dead_letters: ListDeadLetters
    dispatcher: Dispatcher

    def rule(self, rule_id: str, path: str = "/ok", **options: Any) -> AlertRule:
        rule = parse_rule(
            {
                "id": rule_id,
                "query": {"text": "Baltique"},
                "destinations": [{"url": self.receiver.url + path, "secret": SECRET}],
                **options,
            }
        )
        self.store.put(rule)
        return rule

    def records(self) -> list[dict[str, Any]]:
        return list(self.engine.documents[DELIVERIES].values())

    def statuses(self) -> list[str]:
        return [r["status"] for r in self.records()]

    async def send(self, *alerts: AlertMessage) -> list[FakeEvent]:
        events = [FakeEvent(a.model_dump_json().encode(), key=a.rule_id.encode()) for a in alerts]
        await self.dispatcher.run(stream(events))
        await self.dispatcher.flush_records()  # the worker's timer, every second
        return events


def _dispatch(scenario: Callable[[Harness], Awaitable[None]]) -> None:
    async def go() -> None:
        async with receiving() as receiver:
            engine = FakeEngine()
            store, dead_letters = RuleStore(engine, RULES), ListDeadLetters()
            state: dict[str, Any] = {}
            # Rules looked up for every alert: these tests change rules between alerts.
            dispatcher = Dispatcher(
                store,
                engine,
                DELIVERIES,
                POLICY,
                state,
                dead_letters,
                Marks(engine, MARKS),
                STORIES,
                rule_cache_seconds=0,
            )
            try:
                await scenario(Harness(receiver, engine, store, state, dead_letters, dispatcher))
            finally:
                await dispatcher.close()

    asyncio.run(go())


def _alert(rule: AlertRule, n: int, duplicate_of: str | None = None) -> AlertMessage:
    article = make_article(f"https://x.example/{n}", f"Baltique {n}", duplicate_of=duplicate_of)
    return AlertMessage.of(rule, article)


def test_an_alert_is_delivered_signed_recorded_and_acked() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique")
        alert = _alert(rule, 1)
        (event,) = await h.send(alert)
        (call,) = h.receiver.to("/ok")
        assert call["signed"]
        assert call["key"] == alert.alert_id
        assert call["body"]["rule"]["id"] == "baltique"
        assert [a["article"]["id"] for a in call["body"]["alerts"]] == [alert.article["id"]]
        (record,) = h.records()
        assert record["status"] == "delivered"
        assert record["http_status"] == 200
        assert record["delivery_id"] == alert.alert_id
        assert record["article_ids"] == [alert.article["id"]]
        assert event.acks == 1
        assert h.dead_letters.sent == []

    _dispatch(scenario)


def test_a_message_that_is_not_an_alert_is_dead_lettered_and_acked() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique")
        bad = FakeEvent(b'{"rule_id": "baltique"}')
        good = FakeEvent(_alert(rule, 1).model_dump_json().encode())
        await h.dispatcher.run(stream([bad, good]))
        ((event, stage, reason),) = h.dead_letters.sent
        assert (event, stage) == (bad, "deliver")
        assert reason.startswith("not a valid alert: ")
        assert (bad.acks, good.acks) == (1, 1)
        assert len(h.receiver.to("/ok")) == 1

    _dispatch(scenario)


def test_never_twice_for_an_article() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", suppress_duplicates=False)
        alert = _alert(rule, 1)
        events = await h.send(alert, alert)
        assert len(h.receiver.to("/ok")) == 1
        assert h.statuses() == ["delivered", "suppressed"]
        assert [e.acks for e in events] == [1, 1]

    _dispatch(scenario)


def test_near_duplicates_are_suppressed_by_their_group() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique")
        first = _alert(rule, 1)
        copy = _alert(rule, 2, duplicate_of=first.article["id"])
        # Two copies of a story whose first copy the rule did not match.
        other_a, other_b = _alert(rule, 3, duplicate_of="elsewhere"), _alert(rule, 4, "elsewhere")
        await h.send(first, copy, other_a, other_b)
        delivered = [c["body"]["alerts"][0]["article"]["id"] for c in h.receiver.to("/ok")]
        assert delivered == [first.article["id"], other_a.article["id"]]
        assert h.statuses() == ["delivered", "suppressed", "delivered", "suppressed"]

    _dispatch(scenario)


def test_near_duplicates_go_out_when_the_rule_does_not_suppress_them() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", suppress_duplicates=False)
        first = _alert(rule, 1)
        await h.send(first, _alert(rule, 2, duplicate_of=first.article["id"]))
        assert len(h.receiver.to("/ok")) == 2
        assert h.statuses() == ["delivered", "delivered"]

    _dispatch(scenario)


def test_the_throttle_allows_one_call_per_window_and_records_the_others() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", throttle_seconds=3600)
        alerts = [_alert(rule, n) for n in range(3)]
        await h.send(*alerts)
        (call,) = h.receiver.to("/ok")
        assert call["key"] == alerts[0].alert_id
        assert h.statuses() == ["delivered", "throttled", "throttled"]
        throttled = h.records()[1]
        # The path of a webhook URL is a credential (Slack's are): masked.
        assert throttled["destination"] == h.receiver.url + "/…"
        assert throttled["article_ids"] == [alerts[1].article["id"]]

    _dispatch(scenario)


def test_a_failed_call_does_not_open_a_throttle_window() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", "/gone", throttle_seconds=3600)
        h.receiver.statuses["/gone"] = [404]
        await h.send(_alert(rule, 1), _alert(rule, 2))
        assert len(h.receiver.to("/gone")) == 2
        assert h.statuses() == ["failed", "delivered"]

    _dispatch(scenario)


def test_throttles_are_per_rule() -> None:
    async def scenario(h: Harness) -> None:
        one = h.rule("one", "/one", throttle_seconds=3600)
        two = h.rule("two", "/two", throttle_seconds=3600)
        await h.send(_alert(one, 1), _alert(two, 1), _alert(one, 2))
        assert len(h.receiver.to("/one")) == 1
        assert len(h.receiver.to("/two")) == 1

    _dispatch(scenario)


def test_digests_gather_matches_into_one_call_when_their_window_is_over() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", digest_seconds=3600)
        alerts = [_alert(rule, 1), _alert(rule, 2)]
        events = await h.send(*alerts)
        assert h.receiver.calls == []
        assert h.statuses() == ["digested", "digested"]
        assert [e.acks for e in events] == [1, 1]
        assert len(h.state["baltique"]["digest"]) == 2

        await h.dispatcher.flush_digests()  # the window is not over
        assert h.receiver.calls == []

        h.state["baltique"]["digest_since"] = time.time() - 7200  # it is now
        await h.dispatcher.flush_digests()
        await h.dispatcher.flush_records()
        (call,) = h.receiver.to("/ok")
        assert [a["alert_id"] for a in call["body"]["alerts"]] == [a.alert_id for a in alerts]
        assert call["key"] == alert_id("baltique", ",".join(a.alert_id for a in alerts))
        assert call["signed"]
        assert h.state["baltique"]["digest"] == []
        assert h.state["baltique"]["digest_since"] is None
        assert h.statuses()[-1] == "delivered"
        assert h.records()[-1]["article_ids"] == [a.article["id"] for a in alerts]

        await h.dispatcher.flush_digests()  # sent once
        await h.send(alerts[0])  # and never twice for its articles
        assert len(h.receiver.calls) == 1
        assert h.statuses()[-1] == "suppressed"

    _dispatch(scenario)


def test_the_digest_of_a_deleted_rule_is_dropped() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", digest_seconds=3600)
        await h.send(_alert(rule, 1))
        assert h.store.delete("baltique")
        await h.dispatcher.flush_digests()
        assert h.receiver.calls == []
        assert h.state["baltique"]["digest"] == []

    _dispatch(scenario)


def test_a_disabled_or_deleted_rule_is_skipped_and_recorded() -> None:
    async def scenario(h: Harness) -> None:
        disabled = h.rule("off", enabled=False)
        deleted = parse_rule(
            {
                "id": "gone",
                "query": {"text": "x"},
                "destinations": [{"url": h.receiver.url + "/ok"}],
            }
        )
        events = await h.send(_alert(disabled, 1), _alert(deleted, 1))
        assert h.receiver.calls == []
        assert [(r["rule_id"], r["status"]) for r in h.records()] == [
            ("off", "skipped"),
            ("gone", "skipped"),
        ]
        assert all(r["error"] == "rule deleted or disabled" for r in h.records())
        assert [e.acks for e in events] == [1, 1]
        assert h.dead_letters.sent == []

    _dispatch(scenario)


def test_a_delivery_that_fails_for_good_is_dead_lettered() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", "/gone")
        h.receiver.statuses["/gone"] = [404]
        (event,) = await h.send(_alert(rule, 1))
        assert len(h.receiver.to("/gone")) == 1  # a 404 is not retried
        ((dead, stage, reason),) = h.dead_letters.sent
        assert (dead, stage) == (event, "deliver")
        assert reason == f"webhook {h.receiver.url}/…: HTTP 404, not retried"
        assert h.statuses() == ["failed"]
        assert event.acks == 1

    _dispatch(scenario)


def test_a_busy_receiver_is_tried_again_then_dead_lettered_after_the_last_attempt() -> None:
    async def scenario(h: Harness) -> None:
        flaky, busy = h.rule("flaky", "/flaky"), h.rule("busy", "/busy")
        h.receiver.statuses["/flaky"] = [503, 503]
        h.receiver.statuses["/busy"] = [503, 429, 500]
        await h.send(_alert(flaky, 1), _alert(busy, 1))
        assert len(h.receiver.to("/flaky")) == 3
        assert len(h.receiver.to("/busy")) == 3
        assert len({c["key"] for c in h.receiver.to("/flaky")}) == 1  # one Idempotency-Key
        by_rule = [(r["rule_id"], r["status"]) for r in h.records()]
        assert by_rule == [("flaky", "retry")] * 2 + [("flaky", "delivered")] + [
            ("busy", "retry")
        ] * 2 + [("busy", "failed")]
        assert [reason for _, _, reason in h.dead_letters.sent] == [
            f"webhook {h.receiver.url}/…: HTTP 500 after 3 attempts"
        ]

    _dispatch(scenario)


def test_a_failure_to_record_does_not_stop_delivery_and_records_follow_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search_engine, "ENGINE_BACKOFF", Backoff(start=0.001, cap=0.002))

    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique")
        # Writing the records fails; so does the first try to settle the alert's
        # mark (retried: the mark must say "sent" before the alert is acked).
        h.engine.fail("bulk_index", EngineUnavailable("engine busy"), times=1)
        h.engine.fail("put_document", EngineUnavailable("engine busy"), times=1)
        alert = _alert(rule, 1)
        events = await h.send(alert, alert)
        assert len(h.receiver.to("/ok")) == 1  # delivered, and still never twice
        assert h.records() == []
        assert [e.acks for e in events] == [1, 1]
        assert h.dead_letters.sent == []
        await h.dispatcher.flush_records()
        assert h.statuses() == ["delivered", "suppressed"]  # in their order

    _dispatch(scenario)


def test_an_alert_replayed_from_the_dlq_after_a_failed_delivery_is_delivered() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", "/gone")
        h.receiver.statuses["/gone"] = [404]
        alert = _alert(rule, 1)
        await h.send(alert)
        assert len(h.dead_letters.sent) == 1
        await h.send(alert)  # the dead letter's payload, replayed after the fix
        assert len(h.receiver.to("/gone")) == 2
        assert h.statuses() == ["failed", "delivered"]

    _dispatch(scenario)


def test_an_engine_down_while_alerts_wait_holds_them_and_delivers_each_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rule lookup failing used to raise out of the agent: Faust gave up
    after a few restarts and the worker exited."""
    monkeypatch.setattr(search_engine, "ENGINE_BACKOFF", Backoff(start=0.001, cap=0.002))

    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique")
        h.engine.fail("get_document", EngineUnavailable("engine down"), times=3)
        first, second = _alert(rule, 1), _alert(rule, 2)
        events = await h.send(first, second)
        keys = [c["key"] for c in h.receiver.to("/ok")]
        assert keys == [first.alert_id, second.alert_id]
        assert [e.acks for e in events] == [1, 1]
        assert len(h.engine.called("get_document")) >= 3 + 2

    _dispatch(scenario)


def test_a_rules_state_does_not_grow_with_its_alerts() -> None:
    """It used to list every article the rule fired on for 30 days in one table
    value: past ~13,800 alerts Kafka refused it and "never twice" was lost."""

    async def scenario(h: Harness) -> None:
        # A throttle keeps state (when each destination was last called); a call
        # takes far longer than this one, so none is throttled.
        rule = h.rule("baltique", suppress_duplicates=False, throttle_seconds=0.0001)
        await h.send(*(_alert(rule, n) for n in range(3)))
        small = len(json.dumps(h.state[rule.id]))
        await h.send(*(_alert(rule, n) for n in range(3, 60)))
        assert len(h.receiver.to("/ok")) == 60
        # The same small value (its one timestamp may print a digit more or less).
        assert len(json.dumps(h.state[rule.id])) <= small + 4
        assert set(h.state[rule.id]) == {"last_sent", "digest", "digest_since"}
        assert len(h.engine.documents[MARKS]) == 60  # one small mark each, in the engine

        plain = h.rule("plain", suppress_duplicates=False)
        await h.send(*(_alert(plain, n) for n in range(5)))
        assert len(h.receiver.to("/ok")) == 65
        assert plain.id not in h.state  # nothing to keep: no table write per alert

    _dispatch(scenario)


def test_a_delivery_cut_short_is_sent_again_and_a_fired_one_never() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", suppress_duplicates=False)
        cut, done = _alert(rule, 1), _alert(rule, 2)
        # As a worker stopped between its claim and its call leaves it:
        assert h.dispatcher._marks.claim(rule.id, [f"a:{cut.article['id']}"], cut.alert_id) is None
        await h.send(done)
        await h.send(cut, done)  # after the restart: the cut one again, and a repeat
        keys = [c["key"] for c in h.receiver.to("/ok")]
        assert keys == [done.alert_id, cut.alert_id]

    _dispatch(scenario)


def test_marks_are_forgotten_after_their_time() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique", suppress_duplicates=False)
        alert = _alert(rule, 1)
        await h.send(alert)
        for mark in h.engine.documents[MARKS].values():
            mark["at"] = "2020-01-01T00:00:00+00:00"
        await h.dispatcher.expire_marks()
        assert h.engine.documents[MARKS] == {}
        await h.send(alert)  # forgotten: it may fire again
        assert len(h.receiver.to("/ok")) == 2

    _dispatch(scenario)


def test_records_are_written_in_one_request_and_a_rule_is_looked_up_once_a_while() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("baltique")
        cached = Dispatcher(
            h.store,
            h.engine,
            DELIVERIES,
            POLICY,
            {},
            h.dead_letters,
            Marks(h.engine, MARKS),
            rule_cache_seconds=3600,
        )
        try:
            alerts = [_alert(rule, n) for n in range(5)]
            events = [FakeEvent(a.model_dump_json().encode()) for a in alerts]
            await cached.run(stream(events))
            assert h.records() == []  # not one request per record
            await cached.flush_records()
            assert h.statuses() == ["delivered"] * 5
            assert len(h.engine.called("bulk_index")) == 1
            lookups = [args for args in h.engine.called("get_document") if args[0] == RULES]
            assert len(lookups) == 1
            h.store.delete(rule.id)
            await cached.run(stream([FakeEvent(_alert(rule, 9).model_dump_json().encode())]))
            assert len(h.receiver.to("/ok")) == 6  # within the cache time: still the rule's
        finally:
            await cached.close()

    _dispatch(scenario)


# -- once per story -------------------------------------------------------------------


def _story_alert(rule: AlertRule, n: int, story: str, language: str, feed: str) -> AlertMessage:
    article = make_article(
        f"https://x.example/{n}",
        f"Baltique {n}",
        story_id=story,
        language=language,
        source=Source(feed_id=feed),
    )
    return AlertMessage.of(rule, article)


def _story(h: Harness, story: str, sources: int, languages: list[str]) -> None:
    """The story's document as the worker's storyboard keeps it."""
    h.engine.put_document(
        STORIES,
        story,
        {"story_id": story, "articles": sources, "source_count": sources, "languages": languages},
    )


def test_once_per_story_fires_on_the_first_article_then_only_follow_ups() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("story", once_per="story", follow_up_languages=True, follow_up_sources=2)
        await h.send(_story_alert(rule, 1, "s1", "fr", "a"))
        _story(h, "s1", 2, ["fr"])
        await h.send(_story_alert(rule, 2, "s1", "fr", "b"))  # same language, 1 new source
        _story(h, "s1", 3, ["fr", "en"])
        await h.send(_story_alert(rule, 3, "s1", "en", "c"))  # English, and 2 new sources
        _story(h, "s1", 4, ["fr", "en"])
        await h.send(_story_alert(rule, 4, "s1", "en", "d"))  # nothing new enough
        await h.send(_story_alert(rule, 5, "s2", "fr", "a"))  # another story
        calls = h.receiver.to("/ok")
        stories = [c["body"]["alerts"][0]["story"] for c in calls]
        assert [(s["story_id"], s["reasons"]) for s in stories] == [
            ("s1", ["first"]),
            ("s1", ["new_language", "sources"]),
            ("s2", ["first"]),
        ]
        assert stories[1]["source_count"] == 3
        assert h.statuses().count("suppressed") == 2
        keys = [c["key"] for c in calls]
        assert len(set(keys)) == 3  # each alert its own Idempotency-Key

    _dispatch(scenario)


def test_once_per_story_without_follow_ups_fires_once_and_a_replay_is_not_a_follow_up() -> None:
    async def scenario(h: Harness) -> None:
        rule = h.rule("story", once_per="story")
        first = _story_alert(rule, 1, "s1", "fr", "a")
        await h.send(first, _story_alert(rule, 2, "s1", "en", "b"), first)
        assert len(h.receiver.to("/ok")) == 1
        assert h.statuses() == ["delivered", "suppressed", "suppressed"]

    _dispatch(scenario)


def test_follow_ups_need_once_per_story() -> None:
    with pytest.raises(RuleError, match="need once_per: story"):
        parse_rule(
            {
                "id": "r",
                "query": {"text": "x"},
                "destinations": [{"url": "https://hooks.example/a"}],
                "follow_up_languages": True,
            }
        )
