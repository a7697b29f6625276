"""Who owns a rule, on the real engine through both adapters: alerts.yaml's rules
follow the file at each load, the API's are never touched by it, and the API
refuses to change the file's (the same handlers the worker serves, in process)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from pipeline.alerts.api import routes
from pipeline.alerts.store import RuleStore
from pipeline.search.clients import connect
from pipeline.search.engine import SearchEngine
from pipeline.search.templates import Indices, setup
from tests.integration.conftest import Adapter
from vigie import web as vigie_web

pytestmark = pytest.mark.both_adapters

TOKEN = "a-token-for-these-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _yaml(*rules: tuple[str, str]) -> str:
    if not rules:
        return "rules: []\n"
    return "rules:\n" + "".join(
        f"  - id: {rule_id}\n    query: {{text: {text}}}\n"
        '    destinations: [{url: "https://hooks.example/a"}]\n'
        for rule_id, text in rules
    )


def _api_rule(rule_id: str, text: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "query": {"text": text},
        "destinations": [{"url": "https://hooks.example/b"}],
    }


@pytest.fixture
def engine_and_store(adapter: Adapter) -> Iterator[tuple[SearchEngine, RuleStore]]:
    tag = f"test-{uuid.uuid4().hex[:10]}"
    settings = adapter.settings(
        index_articles=f"{tag}-articles",
        index_alert_rules=f"{tag}-alert-rules",
        index_deliveries=f"{tag}-deliveries",
    )
    engine = connect(settings)
    setup(engine, Indices.from_settings(settings), settings.config_dir)
    yield engine, RuleStore(engine, settings.index_alert_rules)
    for index in [*engine.alias_indices(settings.index_articles), settings.index_alert_rules,
                  settings.index_deliveries]:  # fmt: skip
        engine.delete_index(index)
    engine.close()


def _stored(store: RuleStore) -> dict[str, tuple[str | None, str | None]]:
    return {s.rule.id: (s.owner, s.rule.query.text) for s in store.stored()}


def test_the_file_adds_updates_and_removes_its_rules_only(
    engine_and_store: tuple[SearchEngine, RuleStore], tmp_path: Path
) -> None:
    _, store = engine_and_store
    path = tmp_path / "alerts.yaml"
    path.write_text(_yaml(("alpha", "Baltique"), ("beta", "Arctique")), "utf-8")
    assert store.load(path) == (2, [])
    alpha = store.get("alpha")
    assert alpha is not None
    store.put(alpha.model_copy(update={"id": "from-api"}))  # as the API does
    assert _stored(store) == {
        "alpha": ("file", "Baltique"),
        "beta": ("file", "Arctique"),
        "from-api": ("api", "Baltique"),
    }
    # beta deleted from the file, alpha edited, an id the API already uses added:
    path.write_text(_yaml(("alpha", "Groenland"), ("from-api", "Autre")), "utf-8")
    loaded, (error,) = store.load(path)
    assert loaded == 1
    assert "rule from-api" in str(error)
    assert _stored(store) == {"alpha": ("file", "Groenland"), "from-api": ("api", "Baltique")}
    # What matching reads is the index: the removed rule no longer matches anything.
    assert store.count() == 2


def test_the_api_refuses_to_change_a_file_rule_and_owns_its_own(
    engine_and_store: tuple[SearchEngine, RuleStore], tmp_path: Path
) -> None:
    engine, store = engine_and_store
    path = tmp_path / "alerts.yaml"
    path.write_text(_yaml(("alpha", "Baltique")), "utf-8")
    store.load(path)

    async def scenario(client: httpx.AsyncClient) -> None:
        listed = (await client.get("/rules", headers=AUTH)).json()["rules"]
        assert [(r["id"], r["owner"]) for r in listed] == [("alpha", "file")]
        for answer in (
            await client.put("/rules/alpha", json=_api_rule("alpha", "Autre"), headers=AUTH),
            await client.delete("/rules/alpha", headers=AUTH),
            await client.post("/rules", json=_api_rule("alpha", "Autre"), headers=AUTH),
        ):
            assert answer.status_code == 409, answer.text
        made = await client.post("/rules", json=_api_rule("mine", "Arctique"), headers=AUTH)
        assert (made.status_code, made.json()["owner"]) == (201, "api")
        edited = await client.put("/rules/mine", json=_api_rule("mine", "Groenland"), headers=AUTH)
        assert edited.status_code == 200, edited.text

    _serve(store, engine, scenario)
    assert _stored(store) == {"alpha": ("file", "Baltique"), "mine": ("api", "Groenland")}
    # The next worker start (a load of the same file) keeps the API's edit.
    assert store.load(path) == (1, [])
    assert _stored(store) == {"alpha": ("file", "Baltique"), "mine": ("api", "Groenland")}


def _serve(store: RuleStore, engine: SearchEngine, scenario: Any) -> None:
    async def go() -> None:
        app = vigie_web.application(
            lambda: {"status": "ok"},
            # `/test` is not used here: no articles alias is needed.
            vigie_web.admin(routes(store, engine, "none", 10), TOKEN, ["127.0.0.1"]),
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        try:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:
                await scenario(client)
        finally:
            await runner.cleanup()

    asyncio.run(go())
