"""Polite asynchronous HTTP fetching of feeds and article pages.

Bounded concurrency overall and per host, a least interval between two requests
to one host (many feeds of one site share it), conditional GET, a body-hash
check for servers whose validators lie, a size cap, and errors sorted by kind so
the scheduler can back off and the metrics can count them.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from vigie import __version__, outbound
from vigie.numbers import whole_number
from vigie.retry import retry_after
from vigie.settings import Settings

ErrorKind = Literal["timeout", "connection", "refused", "http", "too_large", "file"]


class FetchError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Validators:
    """What the last successful fetch of a feed left to compare the next one with."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when the server said nothing changed
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    validators: Validators = Validators()
    # True for a 304, and for a 200 whose body is byte for byte the last one.
    unchanged: bool = False


def user_agent(contact: str | None) -> str:
    about = f"+{contact}" if contact else "news monitor"
    return f"Vigie/{__version__} (feed reader; {about})"


def max_age_seconds(headers: dict[str, str]) -> float | None:
    """Cache-Control max-age: how long the server says its answer stays fresh."""
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        seconds = whole_number(value, 10**9)
        if name.lower() == "max-age" and seconds is not None:
            return float(seconds) or None
    return None


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class _Open:
    clients: dict[bool, httpx.AsyncClient]  # by allow_private
    slots: asyncio.Semaphore
    host_slots: defaultdict[str, asyncio.Semaphore]


class Fetcher:
    def __init__(
        self,
        *,
        concurrency: int,
        per_host: int,
        host_interval: float,
        timeout: float,
        max_bytes: int,
        contact: str | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.host_interval = host_interval
        self._concurrency = concurrency
        self._per_host = per_host
        self._timeout = timeout
        self._headers = {"User-Agent": user_agent(contact)}
        self._host_next: dict[str, float] = {}
        self._open: _Open | None = None

    @classmethod
    def from_settings(cls, settings: Settings, concurrency: int | None = None) -> Fetcher:
        return cls(
            concurrency=concurrency or settings.fetch_concurrency,
            per_host=settings.fetch_per_host,
            host_interval=settings.fetch_host_interval_seconds,
            timeout=settings.fetch_timeout_seconds,
            max_bytes=settings.fetch_max_bytes,
            contact=settings.connector_contact,
        )

    def _opened(self) -> _Open:
        # Made on first use, inside the running event loop, and again after close():
        # the client's connections and the semaphores belong to one loop.
        if self._open is None:
            self._open = _Open(
                clients={},
                slots=asyncio.Semaphore(self._concurrency),
                host_slots=defaultdict(lambda: asyncio.Semaphore(self._per_host)),
            )
        return self._open

    def _client(self, allow_private: bool) -> httpx.AsyncClient:
        clients = self._opened().clients
        if allow_private not in clients:
            clients[allow_private] = outbound.client(
                outbound.Guard(allow_private=allow_private),
                follow_redirects=True,
                max_redirects=5,
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
                headers=self._headers,
                limits=httpx.Limits(
                    max_connections=self._concurrency,
                    max_keepalive_connections=self._concurrency,
                ),
            )
        return clients[allow_private]

    async def close(self) -> None:
        if self._open is not None:
            for client in self._open.clients.values():
                await client.aclose()
            self._open = None

    async def _host_turn(self, host: str) -> None:
        # Book the next free instant for the host before sleeping, so concurrent
        # callers queue one interval apart instead of all waking at once.
        now = time.monotonic()
        turn = max(now, self._host_next.get(host, now))
        self._host_next[host] = turn + self.host_interval
        if turn > now:
            await asyncio.sleep(turn - now)

    async def fetch(
        self,
        url: str,
        last: Validators | None = None,
        conditional: bool = True,
        allow_private: bool = False,
    ) -> Fetched:
        """GET a feed. With `last`, asks for it only if it changed (unless the feed opted
        out of conditional GET) and compares body hashes; raises FetchError. Only
        public addresses, unless the feed is marked `allow_private` (vigie/outbound.py)."""
        if url.startswith("file://"):
            return self._read_file(url, last)
        last = last or Validators()
        headers = {}
        if conditional and last.etag:
            headers["If-None-Match"] = last.etag
        if conditional and last.last_modified:
            headers["If-Modified-Since"] = last.last_modified
        final_url, status, body, response_headers = await self._get(url, headers, allow_private)
        if status == 304:
            return Fetched(
                final_url, 304, headers=response_headers, validators=last, unchanged=True
            )
        digest = body_hash(body)
        validators = Validators(
            etag=response_headers.get("etag"),
            last_modified=response_headers.get("last-modified"),
            body_hash=digest,
        )
        return Fetched(
            final_url,
            status,
            body,
            response_headers,
            validators,
            unchanged=digest == last.body_hash,
        )

    async def page(
        self, url: str, allow_private: bool = False
    ) -> tuple[str, bytes, dict[str, str]]:
        """GET an article page (for full text): final URL, body, headers."""
        final_url, _, body, headers = await self._get(url, {}, allow_private)
        return final_url, body, headers

    async def _get(
        self, url: str, headers: dict[str, str], allow_private: bool
    ) -> tuple[str, int, bytes, dict[str, str]]:
        host = urlsplit(url).netloc.lower()
        opened = self._opened()
        client = self._client(allow_private)
        async with opened.slots, opened.host_slots[host]:
            await self._host_turn(host)
            try:
                # One deadline for the whole call: a server that drips a byte a
                # second never times out a single read.
                async with asyncio.timeout(self._timeout):
                    return await self._read(client, url, headers)
            except TimeoutError as exc:
                raise FetchError("timeout", f"{url}: no answer in {self._timeout:g}s") from exc
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"{url}: timed out ({type(exc).__name__})") from exc
            except httpx.TooManyRedirects as exc:
                raise FetchError("http", f"{url}: too many redirects") from exc
            except outbound.TooLarge as exc:
                raise self._too_large(url) from exc
            except (httpx.TransportError, httpx.InvalidURL, ValueError) as exc:
                reason = str(exc) or type(exc).__name__
                kind: ErrorKind = "refused" if reason.startswith("refused:") else "connection"
                raise FetchError(kind, f"{url}: {reason}") from exc

    async def _read(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str]
    ) -> tuple[str, int, bytes, dict[str, str]]:
        async with client.stream("GET", url, headers=headers) as response:
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            if response.status_code == 304:
                return str(response.url), 304, b"", response_headers
            if response.status_code >= 400:
                raise FetchError(
                    "http",
                    f"{url}: HTTP {response.status_code}",
                    status=response.status_code,
                    retry_after=retry_after(response_headers.get("retry-after")),
                )
            body = await outbound.read_bounded(response, self.max_bytes)
            return str(response.url), response.status_code, body, response_headers

    def _too_large(self, url: str) -> FetchError:
        return FetchError("too_large", f"{url}: larger than {self.max_bytes} bytes")

    def _read_file(self, url: str, last: Validators | None) -> Fetched:
        path = Path(url2pathname(urlsplit(url).path))
        try:
            if path.stat().st_size > self.max_bytes:
                raise self._too_large(url)
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError("file", f"{url}: {exc.strerror or exc}") from exc
        digest = body_hash(body)
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        return Fetched(
            url,
            200,
            body,
            {},
            Validators(last_modified=modified, body_hash=digest),
            unchanged=last is not None and digest == last.body_hash,
        )
