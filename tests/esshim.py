"""An Elasticsearch face on the local OpenSearch, so the `elasticsearch` 8.x client
can be tested against a real engine: no Elasticsearch can be had on these machines
(README, "Which search engine runs locally").

The client refuses a server that does not say `X-Elastic-Product: Elasticsearch`,
and asks for Elasticsearch's compatible-with=8 media types, which OpenSearch does
not know. This forwards everything else untouched: method, path, query, body,
status, headers, so the client's requests and the engine's answers are the real
ones. It can also answer a status of its own to chosen requests (a 429), which a
real engine will not do on demand.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

# Elasticsearch's own limit on a request body (http.max_content_length); bigger
# requests are answered 413, as Elasticsearch does. Answers are streamed.
MAX_REQUEST_BYTES = 100 * 1024 * 1024

_COMPATIBLE = re.compile(r"application/vnd\.elasticsearch\+([\w-]+)\s*;\s*compatible-with=(\d+)")
# Not forwarded: they describe one connection, not the message (RFC 9110 §7.6.1),
# or aiohttp sets them for the body it sends.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass
class _Refusal:
    status: int
    naming: bytes
    times: int


class ElasticsearchShim:
    """`url` answers like Elasticsearch 8 for what `upstream` (OpenSearch) answers.
    Runs its own event loop in a thread, so worker subprocesses reach it too."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self._refusals: list[_Refusal] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="es-shim", daemon=True)

    def start(self) -> ElasticsearchShim:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Elasticsearch shim did not start")
        return self

    def stop(self) -> None:
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    @contextmanager
    def refusing(self, status: int, naming: str, times: int = 1) -> Iterator[None]:
        """Answer `status` (with an Elasticsearch error body) instead of forwarding
        the next `times` requests whose path or body contains `naming` (an index
        name: a bulk request names its indices only in the body)."""
        refusal = _Refusal(status, naming.encode(), times)
        with self._lock:
            self._refusals.append(refusal)
        try:
            yield
        finally:
            with self._lock:
                if refusal in self._refusals:
                    self._refusals.remove(refusal)

    def _refusal_for(self, path: str, body: bytes) -> int | None:
        with self._lock:
            for refusal in self._refusals:
                if refusal.naming in path.encode() or refusal.naming in body:
                    refusal.times -= 1
                    if refusal.times <= 0:
                        self._refusals.remove(refusal)
                    return refusal.status
        return None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        # No pool limit and no total timeout: the clients' own limits and timeouts
        # are the ones under test.
        session = aiohttp.ClientSession(
            auto_decompress=False,
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        self._session = session
        app.router.add_route("*", "/{path:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.cleanup()
            await session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read() if request.body_exists else None
        status = self._refusal_for(request.raw_path, body or b"")
        if status is not None:
            return _error_answer(status)
        headers = {
            name: _plain_media_type(value) if name.lower() in {"accept", "content-type"} else value
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        }
        compatible = _COMPATIBLE.search(request.headers.get("Accept", ""))
        try:
            assert self._session is not None  # made before the server starts
            upstream = await self._session.request(
                request.method,
                self.upstream + request.raw_path,
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except aiohttp.ClientConnectionError:
            # The engine is down: so is the shim, as far as the client can tell.
            # It must see no HTTP answer at all, as when Elasticsearch is down.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=502)  # never sent: the connection is gone
        async with upstream:
            answer = web.StreamResponse(
                status=upstream.status,
                reason=upstream.reason,
                headers=_answer_headers(upstream.status, upstream.headers, compatible),
            )
            await answer.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await answer.write(chunk)
            await answer.write_eof()
        return answer


def _plain_media_type(value: str) -> str:
    """application/vnd.elasticsearch+json; compatible-with=8 -> application/json
    (and +x-ndjson for bulk): OpenSearch answers 406 to the former."""
    return _COMPATIBLE.sub(r"application/\1", value)


def _answer_headers(
    status: int, upstream: Mapping[str, str], compatible: re.Match[str] | None
) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in upstream.items() if name.lower() not in _HOP_BY_HOP
    )
    if "Content-Length" in upstream:  # else aiohttp chunks the streamed answer
        headers["Content-Length"] = upstream["Content-Length"]
    headers["X-Elastic-Product"] = "Elasticsearch"
    # Elasticsearch 8 answers a compatible-with request in the media type asked
    # for, but its errors in plain JSON (elastic/elasticsearch#92658), so the client
    # reads each through the deserializer it meets in production.
    content_type = upstream.get("Content-Type", "")
    if compatible and status < 400 and content_type.startswith("application/json"):
        headers["Content-Type"] = (
            f"application/vnd.elasticsearch+json;compatible-with={compatible.group(2)}"
        )
    return headers


def _error_answer(status: int) -> web.Response:
    """An answer in Elasticsearch's error shape, as its thread pools give a 429."""
    kind = "es_rejected_execution_exception" if status == 429 else "shim_exception"
    error = {"type": kind, "reason": f"answered {status} by the test shim"}
    body = {"error": {"root_cause": [error], **error}, "status": status}
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers={"X-Elastic-Product": "Elasticsearch"},
    )
