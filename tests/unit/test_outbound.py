"""The outbound guard and bounded bodies (vigie/outbound.py), through the connector's
Fetcher and a real local HTTP server with hostile answers."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import httpx
import pytest

from connectors.fetch import Fetcher, FetchError
from vigie import outbound
from vigie.outbound import Guard, masked, networks

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
# 200 MB of zeros: a few hundred bytes once compressed.
BOMB_SIZE = 200_000_000
BROTLI_BOMB = brotli.compress(b"\0" * BOMB_SIZE, quality=5)
GZIP_BOMB = gzip.compress(b"\0" * BOMB_SIZE, compresslevel=6)


class _Hostile(BaseHTTPRequestHandler):
    redirect_to = ""

    def log_message(self, *_: object) -> None:
        pass

    def _send(self, body: bytes, **headers: str) -> None:
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/feed":
            self._send(FEED)
        elif self.path == "/brotli-bomb":
            self._send(BROTLI_BOMB, Content_Encoding="br")
        elif self.path == "/gzip-bomb":
            self._send(GZIP_BOMB, Content_Encoding="gzip")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", type(self).redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/drip":
            # Each byte well inside a per-read timeout, the whole far past the deadline.
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    """A hostile server on 127.0.0.2 (loopback too, but a different address)."""
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fetch(
    url: str, allow_private: bool, timeout: float = 5.0, max_bytes: int = 1_000_000
) -> bytes:
    async def go() -> bytes:
        fetcher = Fetcher(
            concurrency=2, per_host=2, host_interval=0, timeout=timeout, max_bytes=max_bytes
        )
        try:
            return (await fetcher.fetch(url, allow_private=allow_private)).body
        finally:
            await fetcher.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "ff02::1",
    ],
)
def test_the_default_guard_refuses_every_non_public_address(address: str) -> None:
    assert Guard().refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_pass(address: str) -> None:
    assert Guard().refusal(ipaddress.ip_address(address)) is None


def test_opt_ins_let_through_what_they_name_and_nothing_else() -> None:
    guard = Guard(allow=networks("10.0.0.0/8, 192.168.1.20"))
    assert guard.refusal(ipaddress.ip_address("10.9.8.7")) is None
    assert guard.refusal(ipaddress.ip_address("192.168.1.20")) is None
    assert guard.refusal(ipaddress.ip_address("192.168.1.21")) is not None
    assert guard.refusal(ipaddress.ip_address("127.0.0.1")) is not None
    assert Guard(allow_private=True).refusal(ipaddress.ip_address("127.0.0.1")) is None


def test_a_feed_on_loopback_is_refused_unless_it_opted_in(hostile: str) -> None:
    with pytest.raises(FetchError) as caught:
        _fetch(f"{hostile}/feed", allow_private=False)
    assert caught.value.kind == "refused"
    assert "127.0.0.2" in str(caught.value)
    assert _fetch(f"{hostile}/feed", allow_private=True) == FEED


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(FetchError) as caught:
        _fetch("http://localhost:9/feed", allow_private=False)
    assert caught.value.kind == "refused"


def test_every_redirect_hop_is_checked(hostile: str) -> None:
    """A server the guard lets through (allow-listed) redirects to one it does not."""
    _Hostile.redirect_to = "http://127.0.0.1:9/internal"

    async def go() -> httpx.Response:
        async with outbound.client(
            Guard(allow=networks("127.0.0.2")), follow_redirects=True, timeout=5
        ) as client:
            return await client.get(f"{hostile}/redirect")

    with pytest.raises(httpx.ConnectError, match=r"refused: 127\.0\.0\.1"):
        asyncio.run(go())


@pytest.mark.parametrize("path", ["/brotli-bomb", "/gzip-bomb"])
def test_a_compression_bomb_stops_at_the_cap(hostile: str, path: str) -> None:
    with pytest.raises(FetchError) as caught:
        _fetch(f"{hostile}{path}", allow_private=True, max_bytes=1_000_000)
    assert caught.value.kind == "too_large"


@pytest.mark.parametrize(("encoding", "bomb"), [("br", BROTLI_BOMB), ("gzip", GZIP_BOMB)])
def test_decompression_never_makes_much_more_than_the_room_left(encoding: str, bomb: bytes) -> None:
    """Bounded per call, not only in total: a 200 MB bomb in one chunk yields a
    first piece no larger than the room asked for (+1 byte to see the overflow),
    or than Brotli's smallest output buffer (32 KB)."""
    decoder = outbound._Decoder(encoding)
    pieces = decoder.feed(bomb, 1000)
    first = next(iter(pieces))
    assert 0 < len(first) <= max(1001, 32 * 1024)


def test_a_server_that_drips_is_cut_at_the_fetch_deadline(hostile: str) -> None:
    """No single read waits 1 s, so only a deadline on the whole call stops it."""
    with pytest.raises(FetchError) as caught:
        _fetch(f"{hostile}/drip", allow_private=True, timeout=1.0)
    assert caught.value.kind == "timeout"


def test_masked_urls_keep_only_scheme_host_and_port() -> None:
    assert masked("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com/…"
    assert masked("https://user:pass@example.com:8443/hook?token=x") == "https://example.com:8443/…"
    assert masked("http://[::1]:9000/") == "http://[::1]:9000"
    assert masked("https://example.com") == "https://example.com"
