"""The one small HTTP server each Vigie service runs: `GET /health` (JSON, 200 when
the report says "ok", 503 otherwise, so a load balancer or an orchestrator can
act on it), `GET /metrics` (Prometheus), and the routes a service adds (the
worker's rules API)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Health = Callable[[], Mapping[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Request bodies of the admin API are rules: small.
MAX_BODY = 64 * 1024


def _refused(status: int, field: str, message: str) -> web.Response:
    return web.json_response({"errors": [{"field": field, "message": message}]}, status=status)


def admin(
    routes: Iterable[web.RouteDef], token: str | None, hosts: Collection[str]
) -> list[web.RouteDef]:
    """The routes, each behind the admin checks: a Host this server answers to (a
    page in someone's browser must not reach it by DNS rebinding), the bearer
    token, and JSON bodies only (a cross-site form or text/plain POST needs no
    preflight; application/json does)."""
    allowed = {host.strip().lower().strip("[]") for host in hosts if host.strip()}

    def guarded(handler: Handler) -> Handler:
        async def check(request: web.Request) -> web.StreamResponse:
            host = (request.url.host or "").lower().strip("[]")
            if host not in allowed:
                return _refused(
                    403, "host", f"Host {host!r} is not one this API answers to (VIGIE_API_HOSTS)"
                )
            if not token:
                return _refused(
                    403,
                    "token",
                    "the admin API is off: set VIGIE_API_TOKEN to a long random secret",
                )
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _refused(401, "token", "missing or wrong Authorization: Bearer token")
            has_body = request.method in ("POST", "PUT", "PATCH") and request.body_exists
            if has_body and request.content_type != "application/json":
                return _refused(415, "content-type", "send the body as application/json")
            return await handler(request)

        return check

    return [web.route(r.method, r.path, guarded(r.handler), **r.kwargs) for r in routes]


def application(health: Health, routes: Iterable[web.RouteDef] = ()) -> web.Application:
    async def health_page(_: web.Request) -> web.Response:
        report = dict(health())
        return web.json_response(report, status=200 if report.get("status") == "ok" else 503)

    async def alive(_: web.Request) -> web.Response:
        # Liveness: the process answers. Readiness (dependencies) is /health.
        return web.json_response({"status": "alive"})

    async def metrics_page(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_get("/health", health_page)
    app.router.add_get("/health/ready", health_page)
    app.router.add_get("/health/live", alive)
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
