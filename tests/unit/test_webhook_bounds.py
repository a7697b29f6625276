"""Webhook delivery (pipeline/alerts/delivery.py `deliver`) against hostile or
slow receivers on 127.0.0.1: bounded reads, per-call timeouts, the outbound guard,
signatures, Slack escaping and masked records."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from pipeline.alerts.delivery import RESPONSE_BYTES, AlertMessage, deliver
from pipeline.alerts.rules import AlertRule, parse_rule
from tests.conftest import make_article
from vigie import outbound
from vigie.article import Tag
from vigie.outbound import Guard, networks
from vigie.retry import Backoff

SECRET = "s3cret-for-tests"
HUGE = 200 * 1024 * 1024  # declared and generated lazily, never held
CHUNK = 64 * 1024
TIMEOUT = 0.5
BACKOFF = Backoff(start=0.001, cap=0.002, max_retry_after=0.01)
LOCAL = Guard(allow=networks("127.0.0.0/8"))
HOOK_PATH = "/hook/T000/B000/XXXXSECRETPATH?token=abc"


@dataclass
class Receiver:
    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def hook(self, request: web.Request) -> web.Response:
        self.calls.append(
            {
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return web.Response(status=200)

    async def huge(self, request: web.Request) -> web.StreamResponse:
        """200 MB of answer, written chunk by chunk while the client reads."""
        await request.read()
        self.calls.append({"path": request.path_qs})
        response = web.StreamResponse(status=200)
        response.content_length = HUGE
        try:
            await response.prepare(request)
            chunk = b"x" * CHUNK
            while self.written < HUGE:
                await response.write(chunk)
                self.written += len(chunk)
        except ConnectionError:
            pass  # the client hung up: what was written is counted
        finally:
            self.done.set()
        return response

    async def drip(self, request: web.Request) -> web.StreamResponse:
        """Headers, then one byte every 0.2 s for 30 s."""
        await request.read()
        self.calls.append({"path": request.path_qs})
        response = web.StreamResponse(status=200)
        response.content_length = 150
        try:
            await response.prepare(request)
            for _ in range(150):
                await response.write(b".")
                await asyncio.sleep(0.2)
        except ConnectionError:
            pass
        finally:
            self.done.set()
        return response

    async def hold(self, request: web.Request) -> web.Response:
        """No headers until released (or 30 s)."""
        await request.read()
        self.calls.append({"path": request.path_qs})
        try:
            await asyncio.wait_for(self.release.wait(), 30)
        finally:
            self.done.set()
        return web.Response(status=200)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/huge", receiver.huge)
    app.router.add_post("/drip", receiver.drip)
    app.router.add_post("/hold", receiver.hold)
    app.router.add_post("/{path:.*}", receiver.hook)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}"
    try:
        yield receiver
    finally:
        receiver.release.set()
        await runner.cleanup()


@dataclass
class Outcome:
    result: str | None
    records: list[dict[str, Any]]


def make_rule(url: str, **destination: Any) -> AlertRule:
    return parse_rule(
        {
            "id": "baltique",
            "name": "Baltic <@here>",
            "query": {"text": "Baltique"},
            "destinations": [{"url": url, **destination}],
        }
    )


def make_alert(rule: AlertRule, title: str = "Baltique 1", **fields: Any) -> AlertMessage:
    return AlertMessage.of(rule, make_article("https://news.example/1", title, **fields))


async def send(
    rule: AlertRule,
    alert: AlertMessage,
    guard: Guard = LOCAL,
    max_attempts: int = 1,
) -> Outcome:
    records: list[dict[str, Any]] = []

    async def record(entry: dict[str, Any]) -> None:
        records.append(entry)

    async with outbound.client(guard, timeout=5.0) as client:
        result = await deliver(
            client,
            rule,
            rule.destinations[0],
            [alert],
            record,
            max_attempts=max_attempts,
            backoff=BACKOFF,
            timeout=TIMEOUT,
        )
    return Outcome(result, records)


def run(scenario: Callable[[Receiver], Awaitable[None]]) -> None:
    async def go() -> None:
        async with receiving() as receiver:
            await scenario(receiver)

    asyncio.run(go())


def test_a_huge_answer_is_delivered_and_read_only_up_to_response_bytes() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/huge")
        outcome = await send(rule, make_alert(rule))
        assert outcome.result is None
        (entry,) = outcome.records
        assert (entry["status"], entry["http_status"], entry["error"]) == ("delivered", 200, None)
        await asyncio.wait_for(r.done.wait(), 10)
        assert r.written >= RESPONSE_BYTES  # it did answer at length...
        assert r.written < 20 * 1024 * 1024  # ...and Vigie hung up long before the end

    run(scenario)


def test_a_slow_drip_fails_the_attempt_as_a_timeout() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/drip")
        outcome = await send(rule, make_alert(rule))
        (entry,) = outcome.records
        assert entry["status"] == "failed"
        assert entry["http_status"] is None
        assert entry["error"] == f"timeout: no answer in {TIMEOUT:g}s"
        assert outcome.result == f"timeout: no answer in {TIMEOUT:g}s after 1 attempts"
        await asyncio.wait_for(r.done.wait(), 10)  # the connection was dropped

    run(scenario)


def test_a_receiver_holding_its_headers_fails_the_attempt_as_a_timeout() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/hold")
        outcome = await send(rule, make_alert(rule), max_attempts=2)
        assert [e["status"] for e in outcome.records] == ["retry", "failed"]
        assert all(e["error"].startswith("timeout") for e in outcome.records)
        assert len(r.calls) == 2  # a timeout may pass later: tried again

    run(scenario)


def test_a_loopback_destination_is_refused_by_the_default_guard_and_not_retried() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/hook")
        outcome = await send(rule, make_alert(rule), guard=Guard(), max_attempts=3)
        (entry,) = outcome.records
        assert entry["attempt"] == 1
        assert entry["status"] == "failed"
        assert entry["error"].startswith("connection: refused:")
        assert outcome.result is not None
        assert outcome.result.endswith("not retried")
        assert r.calls == []

    run(scenario)


def test_the_signature_covers_timestamp_idempotency_key_and_body() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/hook", secret=SECRET)
        alert = make_alert(rule)
        assert (await send(rule, alert)).result is None
        (call,) = r.calls
        headers, body = call["headers"], call["body"]
        timestamp, key = headers["X-Vigie-Timestamp"], headers["Idempotency-Key"]
        assert key == alert.alert_id
        given = headers["X-Vigie-Signature"]
        assert given.startswith("sha256=")

        def mac(signed: bytes) -> str:
            return "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()

        assert hmac.compare_digest(given, mac(f"{timestamp}.{key}.".encode() + body))
        assert not hmac.compare_digest(given, mac(f"{timestamp}.".encode() + body))
        assert not hmac.compare_digest(given, mac(f"{timestamp}.{key}.".encode() + body + b" "))

    run(scenario)


def test_no_signature_without_a_secret() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/hook")
        assert (await send(rule, make_alert(rule))).result is None
        (call,) = r.calls
        assert "X-Vigie-Signature" not in call["headers"]
        assert call["headers"]["X-Vigie-Timestamp"].isdigit()

    run(scenario)


def test_slack_text_escapes_titles_tags_and_the_rule_name() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + "/hook", format="slack")
        alert = make_alert(
            rule,
            "<!channel> & <https://evil|x>",
            tags=(Tag(id="t1", label="<!here> & co", kind="theme"),),
        )
        assert (await send(rule, alert)).result is None
        (call,) = r.calls
        text = json.loads(call["body"])["text"]
        for raw in ("<!channel>", "<https://evil", "<!here>", "<@here>", " & "):
            assert raw not in text
        assert "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;" in text
        assert "&lt;!here&gt; &amp; co" in text
        assert "Baltic &lt;@here&gt;" in text
        # The one link Vigie makes is still a link.
        assert "<https://news.example/1|" in text

    run(scenario)


def test_recorded_attempts_show_the_destination_masked() -> None:
    async def scenario(r: Receiver) -> None:
        rule = make_rule(r.url + HOOK_PATH, secret=SECRET)
        ok = await send(rule, make_alert(rule))
        refused = await send(rule, make_alert(rule), guard=Guard())
        records = ok.records + refused.records
        assert [e["status"] for e in records] == ["delivered", "failed"]
        for entry in records:
            assert entry["destination"] == r.url + "/…"
            assert "XXXXSECRETPATH" not in repr(entry)
            assert "token=abc" not in repr(entry)
            assert SECRET not in repr(entry)
        assert refused.result is not None
        assert "XXXXSECRETPATH" not in refused.result
        (call,) = r.calls
        assert call["path"] == HOOK_PATH  # while the receiver got the full URL

    run(scenario)


def test_the_huge_receiver_is_really_huge_when_read_to_the_end() -> None:
    """The server of the bounded-read test does write far past 20 MB to a client
    that keeps reading: that test's bound is Vigie's, not the server's."""

    async def scenario(r: Receiver) -> None:
        async with (
            httpx.AsyncClient(timeout=5.0) as client,
            client.stream("POST", r.url + "/huge", content=b"{}") as response,
        ):
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > 40 * 1024 * 1024:
                    break
        await asyncio.wait_for(r.done.wait(), 10)
        assert read > 40 * 1024 * 1024
        assert r.written > 20 * 1024 * 1024

    run(scenario)
