"""The rules REST API (pipeline/alerts/api.py) behind the admin checks
(vigie/web.py), served by a real aiohttp server on 127.0.0.1 and called with httpx;
the rules live in an in-memory engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web

from pipeline.alerts.api import routes
from pipeline.alerts.rules import MASK, parse_rule
from pipeline.alerts.store import RuleStore, StoredRule
from pipeline.search.engine import Hit, SearchResult
from tests.unit.fakes import FakeEngine
from vigie import web as vigie_web

TOKEN = "a-long-random-token-for-tests"
RULES, ARTICLES = "rules-test", "articles-test"
HOSTS = ("127.0.0.1", "localhost")
SECRET = "webhook-secret-1"
HOOK = "https://hooks.example.com:8443/services/T000/B000/XXXXSECRETPATH?token=abc"
HOOK_MASKED = "https://hooks.example.com:8443/…"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    client: httpx.AsyncClient
    store: RuleStore
    rules_engine: FakeEngine
    articles_engine: FakeEngine


@asynccontextmanager
async def serving(token: str | None = TOKEN, max_rules: int = 3) -> AsyncIterator[Api]:
    rules_engine, articles_engine = FakeEngine(), FakeEngine()
    store = RuleStore(rules_engine, RULES)
    app = vigie_web.application(
        lambda: {"status": "ok"},
        vigie_web.admin(routes(store, articles_engine, ARTICLES, max_rules), token, HOSTS),
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=5.0) as client:
            yield Api(client, store, rules_engine, articles_engine)
    finally:
        await runner.cleanup()


def run(scenario: Callable[[Api], Awaitable[None]], token: str | None = TOKEN) -> None:
    async def go() -> None:
        async with serving(token) as api:
            await scenario(api)

    asyncio.run(go())


def rule(rule_id: str = "baltique", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rule_id,
        "name": "Baltic",
        "query": {"text": "Baltique"},
        "destinations": [{"url": HOOK, "secret": SECRET}],
    }
    data.update(fields)
    return data


def fields_of(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


def test_health_and_metrics_need_no_token() -> None:
    async def scenario(api: Api) -> None:
        health = await api.client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        metrics = await api.client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")

    run(scenario)


def test_rules_without_a_token_or_with_a_wrong_one_are_refused() -> None:
    async def scenario(api: Api) -> None:
        missing = await api.client.get("/rules")
        assert missing.status_code == 401
        assert fields_of(missing) == ["token"]
        wrong = await api.client.get("/rules", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        created = await api.client.post(
            "/rules", json=rule(), headers={"Authorization": f"Bearer {TOKEN}x"}
        )
        assert created.status_code == 401
        assert api.store.get("baltique") is None
        assert (await api.client.get("/rules", headers=AUTH)).status_code == 200

    run(scenario)


def test_without_a_configured_token_the_api_is_off() -> None:
    async def scenario(api: Api) -> None:
        for headers in ({}, AUTH, {"Authorization": "Bearer None"}):
            response = await api.client.get("/rules", headers=headers)
            assert response.status_code == 403
            assert fields_of(response) == ["token"]
            assert "VIGIE_API_TOKEN" in response.json()["errors"][0]["message"]

    run(scenario, token=None)


def test_a_host_not_in_the_list_is_refused_even_with_the_token() -> None:
    async def scenario(api: Api) -> None:
        for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example"):
            response = await api.client.get("/rules", headers={**AUTH, "Host": host})
            assert response.status_code == 403
            assert fields_of(response) == ["host"]
        posted = await api.client.post(
            "/rules", json=rule(), headers={**AUTH, "Host": "evil.example"}
        )
        assert posted.status_code == 403
        assert api.store.get("baltique") is None
        listed = await api.client.get("/rules", headers={**AUTH, "Host": "localhost"})
        assert listed.status_code == 200

    run(scenario)


def test_a_body_that_is_not_application_json_is_refused_and_not_stored() -> None:
    async def scenario(api: Api) -> None:
        body = json.dumps(rule())
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = await api.client.post(
                "/rules", content=body, headers={**AUTH, "Content-Type": content_type}
            )
            assert response.status_code == 415
            assert fields_of(response) == ["content-type"]
        replaced = await api.client.put(
            "/rules/baltique", content=body, headers={**AUTH, "Content-Type": "text/plain"}
        )
        assert replaced.status_code == 415
        assert api.store.get("baltique") is None
        assert api.rules_engine.called("put_document") == []

    run(scenario)


def test_a_body_over_max_body_is_refused() -> None:
    async def scenario(api: Api) -> None:
        big = rule(name="x" * (vigie_web.MAX_BODY + 1))
        response = await api.client.post("/rules", json=big, headers=AUTH)
        assert response.status_code == 413
        assert api.store.get("baltique") is None

    run(scenario)


def test_a_created_rule_is_shown_with_its_secret_and_webhook_url_masked() -> None:
    async def scenario(api: Api) -> None:
        created = await api.client.post("/rules", json=rule(), headers=AUTH)
        assert created.status_code == 201
        assert SECRET not in created.text
        assert "XXXXSECRETPATH" not in created.text
        listed = await api.client.get("/rules", headers=AUTH)
        one = await api.client.get("/rules/baltique", headers=AUTH)
        for response in (listed, one):
            assert response.status_code == 200
            assert SECRET not in response.text
            assert "XXXXSECRETPATH" not in response.text
            assert "token=abc" not in response.text
        (shown,) = listed.json()["rules"]
        assert shown == one.json()
        (destination,) = shown["destinations"]
        assert destination["secret"] == MASK
        assert destination["url"] == HOOK_MASKED
        # Stored in full.
        stored = api.store.get("baltique")
        assert stored is not None
        (kept,) = stored.destinations
        assert kept.secret is not None
        assert kept.secret.get_secret_value() == SECRET
        assert str(kept.url) == HOOK

    run(scenario)


def test_get_edit_put_keeps_the_stored_secret_and_url() -> None:
    async def scenario(api: Api) -> None:
        assert (await api.client.post("/rules", json=rule(), headers=AUTH)).status_code == 201
        shown = (await api.client.get("/rules/baltique", headers=AUTH)).json()
        shown["name"] = "Baltic, renamed"
        replaced = await api.client.put("/rules/baltique", json=shown, headers=AUTH)
        assert replaced.status_code == 200
        assert replaced.json()["name"] == "Baltic, renamed"
        assert replaced.json()["destinations"][0]["secret"] == MASK
        stored = api.store.get("baltique")
        assert stored is not None
        assert stored.name == "Baltic, renamed"
        (kept,) = stored.destinations
        assert kept.secret is not None
        assert kept.secret.get_secret_value() == SECRET
        assert str(kept.url) == HOOK

    run(scenario)


def test_a_put_with_a_new_secret_replaces_it() -> None:
    async def scenario(api: Api) -> None:
        assert (await api.client.post("/rules", json=rule(), headers=AUTH)).status_code == 201
        shown = (await api.client.get("/rules/baltique", headers=AUTH)).json()
        shown["destinations"][0]["secret"] = "a-brand-new-secret"
        replaced = await api.client.put("/rules/baltique", json=shown, headers=AUTH)
        assert replaced.status_code == 200
        assert "a-brand-new-secret" not in replaced.text
        stored = api.store.get("baltique")
        assert stored is not None
        (kept,) = stored.destinations
        assert kept.secret is not None
        assert kept.secret.get_secret_value() == "a-brand-new-secret"
        assert str(kept.url) == HOOK  # the masked URL sent back keeps the stored one

    run(scenario)


def test_at_most_max_rules_rules() -> None:
    async def scenario(api: Api) -> None:
        for n in range(3):
            created = await api.client.post("/rules", json=rule(f"r{n}"), headers=AUTH)
            assert created.status_code == 201
        fourth = await api.client.post("/rules", json=rule("r3"), headers=AUTH)
        assert fourth.status_code == 400
        assert fields_of(fourth) == ["rules"]
        by_put = await api.client.put("/rules/r3", json=rule("r3"), headers=AUTH)
        assert by_put.status_code == 400
        assert fields_of(by_put) == ["rules"]
        assert api.store.get("r3") is None
        assert api.store.count() == 3
        # Replacing one of the three is still allowed.
        again = await api.client.put("/rules/r0", json=rule("r0", name="again"), headers=AUTH)
        assert again.status_code == 200

    run(scenario)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"query": {"text": "x" * 1001}}, "query.text"),
        ({"query": {"all_tags": [f"t{n}" for n in range(51)]}}, "query.all_tags"),
        ({"query": {"keywords": ["ok", "k" * 201]}}, "query.keywords.1"),
        ({"destinations": [{"url": f"https://h{n}.example/x"} for n in range(11)]}, "destinations"),
        ({"throttle_seconds": 30 * 86400 + 1}, "throttle_seconds"),
    ],
    ids=["text", "all_tags", "keyword", "destinations", "throttle"],
)
def test_bounded_inputs_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    async def scenario(api: Api) -> None:
        created = await api.client.post("/rules", json=rule(**fields), headers=AUTH)
        assert created.status_code == 400
        assert field in fields_of(created)
        replaced = await api.client.put("/rules/baltique", json=rule(**fields), headers=AUTH)
        assert replaced.status_code == 400
        assert field in fields_of(replaced)
        assert api.store.get("baltique") is None

    run(scenario)


def test_the_bounds_themselves_are_accepted() -> None:
    async def scenario(api: Api) -> None:
        at_bounds = rule(
            query={
                "text": "x" * 1000,
                "all_tags": [f"t{n}" for n in range(50)],
                "keywords": ["k" * 200],
            },
            destinations=[{"url": f"https://h{n}.example/x"} for n in range(10)],
            throttle_seconds=30 * 86400,
        )
        created = await api.client.post("/rules", json=at_bounds, headers=AUTH)
        assert created.status_code == 201, created.text

    run(scenario)


@pytest.mark.parametrize("days", ["0", "-1", "366", "inf", "nan", "abc", "-inf"])
def test_the_test_endpoint_refuses_days_out_of_range(days: str) -> None:
    async def scenario(api: Api) -> None:
        assert (await api.client.post("/rules", json=rule(), headers=AUTH)).status_code == 201
        response = await api.client.post(
            "/rules/baltique/test", params={"days": days}, headers=AUTH
        )
        assert response.status_code == 400
        assert fields_of(response) == ["days"]
        assert api.articles_engine.called("search") == []

    run(scenario)


def test_the_test_endpoint_answers_what_the_rule_would_have_matched() -> None:
    async def scenario(api: Api) -> None:
        assert (await api.client.post("/rules", json=rule(), headers=AUTH)).status_code == 201
        hit = Hit(
            id="a1",
            score=1.0,
            source={
                "title": "Baltique: news",
                "canonical_url": "https://news.example/a1",
                "published_at": "2025-03-01T00:00:00+00:00",
            },
        )
        api.articles_engine.search_answers.append(SearchResult(hits=[hit], total=42))
        response = await api.client.post("/rules/baltique/test", params={"days": 7}, headers=AUTH)
        assert response.status_code == 200
        answer = response.json()
        assert answer["rule"] == "baltique"
        assert answer["days"] == 7
        assert answer["matches"] == 42
        assert answer["latest"] == [
            {
                "id": "a1",
                "title": "Baltique: news",
                "url": "https://news.example/a1",
                "published_at": "2025-03-01T00:00:00+00:00",
            }
        ]
        ((index, _body),) = api.articles_engine.called("search")
        assert index == ARTICLES
        missing = await api.client.post("/rules/nope/test", params={"days": 7}, headers=AUTH)
        assert missing.status_code == 404

    run(scenario)


def test_rules_show_their_owner_and_a_round_trip_keeps_it() -> None:
    async def scenario(api: Api) -> None:
        created = await api.client.post("/rules", json=rule(), headers=AUTH)
        assert created.json()["owner"] == "api"
        shown = (await api.client.get("/rules/baltique", headers=AUTH)).json()
        assert shown["owner"] == "api"
        shown["name"] = "Renamed"
        replaced = await api.client.put("/rules/baltique", json=shown, headers=AUTH)
        assert replaced.status_code == 200, replaced.text
        found = api.store.find("baltique")
        assert found is not None
        assert (found.owner, found.rule.name) == ("api", "Renamed")
        claimed = await api.client.put(
            "/rules/baltique", json={**shown, "owner": "file"}, headers=AUTH
        )
        assert claimed.status_code == 400
        assert fields_of(claimed) == ["owner"]

    run(scenario)


def test_a_file_rule_cannot_be_changed_or_deleted_through_the_api() -> None:
    async def scenario(api: Api) -> None:
        from_file = parse_rule(rule("from-file"))
        api.store.put(from_file, owner="file")
        listed = (await api.client.get("/rules", headers=AUTH)).json()["rules"]
        assert [(r["id"], r["owner"]) for r in listed] == [("from-file", "file")]
        edit = {**listed[0], "name": "Edited"}
        for response in (
            await api.client.put("/rules/from-file", json=edit, headers=AUTH),
            await api.client.delete("/rules/from-file", headers=AUTH),
        ):
            assert response.status_code == 409
            assert fields_of(response) == ["owner"]
            assert "alerts.yaml" in response.json()["errors"][0]["message"]
        again = await api.client.post("/rules", json=rule("from-file"), headers=AUTH)
        assert again.status_code == 409
        assert "owner: file" in again.json()["errors"][0]["message"]
        assert api.store.find("from-file") == StoredRule(from_file, "file")
        tested = await api.client.post("/rules/from-file/test", headers=AUTH)
        assert tested.status_code == 200  # reading and testing it is fine

    run(scenario)


def test_deleting_an_api_rule_and_a_missing_one() -> None:
    async def scenario(api: Api) -> None:
        assert (await api.client.post("/rules", json=rule(), headers=AUTH)).status_code == 201
        deleted = await api.client.delete("/rules/baltique", headers=AUTH)
        assert (deleted.status_code, deleted.json()) == (200, {"deleted": "baltique"})
        missing = await api.client.delete("/rules/baltique", headers=AUTH)
        assert missing.status_code == 404

    run(scenario)


def test_signal_rules_go_through_the_api_and_one_without_a_query_is_not_tested() -> None:
    async def scenario(api: Api) -> None:
        silent = rule("quiet", kind="silence", watch="feeds", query={})
        assert (await api.client.post("/rules", json=silent, headers=AUTH)).status_code == 201
        spike = rule("burst", kind="spike", min_articles=5)
        assert (await api.client.post("/rules", json=spike, headers=AUTH)).status_code == 201
        answer = (await api.client.get("/rules", headers=AUTH)).json()
        listed = {r["id"]: r for r in answer["rules"]}
        assert (listed["quiet"]["kind"], listed["quiet"]["watch"]) == ("silence", "feeds")
        assert listed["burst"]["min_articles"] == 5
        response = await api.client.post("/rules/quiet/test", headers=AUTH)
        assert response.status_code == 400
        assert fields_of(response) == ["query"]
        nonsense = rule("bad", kind="spike", watch="lag")
        refused = await api.client.post("/rules", json=nonsense, headers=AUTH)
        assert refused.status_code == 400

    run(scenario)
