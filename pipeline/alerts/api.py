"""The rules REST API, served by the worker's web server (vigie/web.py):

    GET    /rules                  list (secrets masked)
    POST   /rules                  create (409 if the id exists)
    GET    /rules/{id}             one rule
    PUT    /rules/{id}             create or replace
    DELETE /rules/{id}
    POST   /rules/{id}/test?days=7 what the rule would have matched in the last days

Invalid rules are answered 400 with `{"errors": [{"field", "message"}]}`. A rule
written here applies to the next article: matching reads the rules index.

Every rule is shown with its `owner` (pipeline/alerts/store.py): `api` for the
rules made here, `file` for those of config/alerts.yaml. PUT and DELETE of a
file's rule are answered 409 Conflict: the file is that rule's source of truth
(the next load would undo the change), so the request conflicts with the rule's
state rather than with the caller's rights (403) or the request's form (400).
`owner` is read-only: sent back as `api` (GET, edit, PUT) it is ignored.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from pipeline.alerts.rules import RuleError, parse_rule
from pipeline.alerts.store import API, FILE, RuleStore, StoredRule
from pipeline.search.engine import SearchEngine, SearchEngineError
from pipeline.search.query import search_body


def _errors(status: int, field: str, message: str) -> web.Response:
    return web.json_response({"errors": [{"field": field, "message": message}]}, status=status)


def _invalid(error: RuleError) -> web.Response:
    return web.json_response({"errors": error.errors}, status=400)


def _unavailable(error: SearchEngineError) -> web.Response:
    return _errors(503, "engine", str(error))


async def _body_of(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _public(stored: StoredRule) -> dict[str, Any]:
    # A rule stored before owners were recorded is left to the API (store.py).
    return {**stored.rule.public(), "owner": stored.owner or API}


def _owned_by_file(rule_id: str) -> web.Response:
    return _errors(
        409,
        "owner",
        f"rule {rule_id} comes from alerts.yaml (owner: file): change or remove it "
        "there, or make a rule with another id through the API",
    )


def _read_only_owner(data: Any) -> Any | web.Response:
    """The body without `owner`, which the API does not let a client set."""
    if not isinstance(data, dict) or "owner" not in data:
        return data
    if data["owner"] != API:
        return _errors(400, "owner", "read-only: rules made through the API are owned by it")
    return {k: v for k, v in data.items() if k != "owner"}


def routes(
    store: RuleStore, engine: SearchEngine, articles: str, max_rules: int
) -> list[web.RouteDef]:
    """The API over the rules `store` (at most `max_rules`); `/test` searches the
    `articles` alias. Serve it behind `vigie.web.admin`."""

    def full() -> bool:
        return store.count() >= max_rules

    async def list_rules(request: web.Request) -> web.Response:
        try:
            rules = await asyncio.to_thread(store.stored)
        except SearchEngineError as exc:
            return _unavailable(exc)
        return web.json_response({"rules": [_public(r) for r in rules]})

    async def create(request: web.Request) -> web.Response:
        data = _read_only_owner(await _body_of(request))
        if isinstance(data, web.Response):
            return data
        try:
            rule = parse_rule(data)
        except RuleError as exc:
            return _invalid(exc)
        try:
            if existing := await asyncio.to_thread(store.find, rule.id):
                return _errors(
                    409, "id", f"a rule with this id exists (owner: {existing.owner or API})"
                )
            if await asyncio.to_thread(full):
                return _errors(400, "rules", f"at most {max_rules} rules (VIGIE_MAX_RULES)")
            await asyncio.to_thread(store.put, rule)
        except SearchEngineError as exc:
            return _unavailable(exc)
        return web.json_response(_public(StoredRule(rule, API)), status=201)

    async def named(request: web.Request) -> StoredRule | web.Response:
        """The rule the path names, or the answer to give instead."""
        try:
            found = await asyncio.to_thread(store.find, request.match_info["rule_id"])
        except SearchEngineError as exc:
            return _unavailable(exc)
        return _errors(404, "id", "no such rule") if found is None else found

    async def get_one(request: web.Request) -> web.Response:
        found = await named(request)
        return found if isinstance(found, web.Response) else web.json_response(_public(found))

    async def replace(request: web.Request) -> web.Response:
        rule_id = request.match_info["rule_id"]
        body = await _body_of(request)
        try:
            found = await asyncio.to_thread(store.find, rule_id)
            if found is None and await asyncio.to_thread(full):
                return _errors(400, "rules", f"at most {max_rules} rules (VIGIE_MAX_RULES)")
        except SearchEngineError as exc:
            return _unavailable(exc)
        if found is not None and found.owner == FILE:
            return _owned_by_file(rule_id)
        data = _read_only_owner(body)
        if isinstance(data, web.Response):
            return data
        if isinstance(data, dict):
            data = {**data, "id": data.get("id", rule_id)}
        stored = found.rule if found else None
        try:
            rule = parse_rule(stored.unmasked(data) if stored else data)
        except RuleError as exc:
            return _invalid(exc)
        if rule.id != rule_id:
            return _errors(400, "id", "differs from the id in the path")
        try:
            await asyncio.to_thread(store.put, rule)
        except SearchEngineError as exc:
            return _unavailable(exc)
        return web.json_response(_public(StoredRule(rule, API)))

    async def delete(request: web.Request) -> web.Response:
        rule_id = request.match_info["rule_id"]
        try:
            found = await asyncio.to_thread(store.find, rule_id)
            if found is not None and found.owner == FILE:
                return _owned_by_file(rule_id)
            deleted = found is not None and await asyncio.to_thread(store.delete, rule_id)
        except SearchEngineError as exc:
            return _unavailable(exc)
        if not deleted:
            return _errors(404, "id", "no such rule")
        return web.json_response({"deleted": rule_id})

    async def test(request: web.Request) -> web.Response:
        found = await named(request)
        if isinstance(found, web.Response):
            return found
        rule = found.rule
        if rule.query.is_empty():  # a silence rule on feeds, dead letters or lag
            return _errors(400, "query", "this rule has no query to test")
        try:
            days = float(request.query.get("days", "7"))
        except ValueError:
            days = -1.0
        if not 0 < days <= 365:  # also false for nan
            return _errors(400, "days", "a number of days, more than 0 and at most 365")
        since = datetime.now(UTC) - timedelta(days=days)
        query = dataclasses.replace(rule.query.article_query(), since=since)
        try:
            result = await asyncio.to_thread(
                engine.search, articles, search_body(query, size=20, sort="newest")
            )
        except SearchEngineError as exc:
            return _unavailable(exc)
        return web.json_response(
            {
                "rule": rule.id,
                "days": days,
                "matches": result.total,
                "latest": [
                    {
                        "id": hit.id,
                        "title": hit.source.get("title"),
                        "url": hit.source.get("canonical_url") or hit.source.get("url"),
                        "published_at": hit.source.get("published_at"),
                    }
                    for hit in result.hits
                ],
            }
        )

    return [
        web.get("/rules", list_rules),
        web.post("/rules", create),
        web.get("/rules/{rule_id}", get_one),
        web.put("/rules/{rule_id}", replace),
        web.delete("/rules/{rule_id}", delete),
        web.post("/rules/{rule_id}/test", test),
    ]
