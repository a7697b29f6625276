"""The rules REST API, served by the worker's web server:

    GET    /rules                  list (secrets masked)
    POST   /rules                  create (409 if the id exists)
    GET    /rules/{id}             one rule
    PUT    /rules/{id}             create or replace
    DELETE /rules/{id}
    POST   /rules/{id}/test?days=7 what the rule would have matched in the last days

Invalid rules are answered 400 with `{"errors": [{"field", "message"}]}`. A rule
written here applies to the next article: matching reads the rules index.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from faust.web import Request, Response, View

from pipeline.alerts.rules import RuleError, parse_rule
from pipeline.alerts.store import RuleStore
from pipeline.search.engine import SearchEngine, SearchEngineError
from pipeline.search.query import search_body
from vigie.settings import Settings


def register(app: faust.App, store: RuleStore, engine: SearchEngine, settings: Settings) -> None:
    async def body_of(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    def invalid(view: View, error: RuleError) -> Response:
        return view.json({"errors": error.errors}, status=400)

    def unavailable(view: View, error: SearchEngineError) -> Response:
        return view.json({"errors": [{"field": "engine", "message": str(error)}]}, status=503)

    class Rules(View):
        async def get(self, request: Request) -> Response:
            try:
                rules = await asyncio.to_thread(store.all)
            except SearchEngineError as exc:
                return unavailable(self, exc)
            return self.json({"rules": [r.public() for r in rules]})

        async def post(self, request: Request) -> Response:
            try:
                rule = parse_rule(await body_of(request))
            except RuleError as exc:
                return invalid(self, exc)
            try:
                if await asyncio.to_thread(store.get, rule.id):
                    return self.json(
                        {"errors": [{"field": "id", "message": "a rule with this id exists"}]},
                        status=409,
                    )
                await asyncio.to_thread(store.put, rule)
            except SearchEngineError as exc:
                return unavailable(self, exc)
            return self.json(rule.public(), status=201)

    class OneRule(View):
        async def get(self, request: Request, rule_id: str) -> Response:
            rule = await asyncio.to_thread(store.get, rule_id)
            if rule is None:
                return self.json(
                    {"errors": [{"field": "id", "message": "no such rule"}]}, status=404
                )
            return self.json(rule.public())

        async def put(self, request: Request, rule_id: str) -> Response:
            data = await body_of(request)
            if isinstance(data, dict):
                data = {**data, "id": data.get("id", rule_id)}
            try:
                rule = parse_rule(data)
            except RuleError as exc:
                return invalid(self, exc)
            if rule.id != rule_id:
                return self.json(
                    {"errors": [{"field": "id", "message": "differs from the id in the path"}]},
                    status=400,
                )
            try:
                await asyncio.to_thread(store.put, rule)
            except SearchEngineError as exc:
                return unavailable(self, exc)
            return self.json(rule.public())

        async def delete(self, request: Request, rule_id: str) -> Response:
            if not await asyncio.to_thread(store.delete, rule_id):
                return self.json(
                    {"errors": [{"field": "id", "message": "no such rule"}]}, status=404
                )
            return self.json({"deleted": rule_id})

    class TestRule(View):
        async def post(self, request: Request, rule_id: str) -> Response:
            rule = await asyncio.to_thread(store.get, rule_id)
            if rule is None:
                return self.json(
                    {"errors": [{"field": "id", "message": "no such rule"}]}, status=404
                )
            try:
                days = float(request.query.get("days", "7"))
            except ValueError:
                return self.json(
                    {"errors": [{"field": "days", "message": "not a number"}]}, status=400
                )
            query = rule.query.article_query()
            since = datetime.now(UTC) - timedelta(days=days)
            query = dataclasses.replace(query, since=since)
            try:
                result = await asyncio.to_thread(
                    engine.search,
                    settings.index_articles,
                    search_body(query, size=20, sort="newest"),
                )
            except SearchEngineError as exc:
                return unavailable(self, exc)
            return self.json(
                {
                    "rule": rule.id,
                    "days": days,
                    "matches": result.total,
                    "latest": [
                        {
                            "id": hit.id,
                            "title": hit.source.get("title"),
                            "url": hit.source.get("canonical_url"),
                            "published_at": hit.source.get("published_at"),
                        }
                        for hit in result.hits
                    ],
                }
            )

    app.page("/rules")(Rules)
    app.page("/rules/{rule_id}")(OneRule)
    app.page("/rules/{rule_id}/test")(TestRule)
