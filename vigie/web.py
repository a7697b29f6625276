"""The one small HTTP server each Vigie service runs: `GET /health` (JSON, 200 when
the report says "ok", 503 otherwise, so a load balancer or an orchestrator can
act on it), `GET /metrics` (Prometheus), and the routes a service adds (the
worker's rules API)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Health = Callable[[], Mapping[str, Any]]


def application(health: Health, routes: Iterable[web.RouteDef] = ()) -> web.Application:
    async def health_page(_: web.Request) -> web.Response:
        report = dict(health())
        return web.json_response(report, status=200 if report.get("status") == "ok" else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/health", health_page)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_routes(list(routes))
    return app


async def serve(
    host: str, port: int, health: Health, routes: Iterable[web.RouteDef] = ()
) -> web.AppRunner:
    """Start listening on host:port; `await runner.cleanup()` stops it."""
    runner = web.AppRunner(application(health, routes), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
