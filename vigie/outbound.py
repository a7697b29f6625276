"""The one guard on every request Vigie makes to an address someone else chose: feed
URLs and their redirects, article pages for full text, webhook calls.

A feed publisher or a rule author must not be able to make Vigie read
127.0.0.1, the cloud metadata address or the private network it runs in (and
index or report what it finds there). So every connection, on every redirect
hop, resolves the host once, refuses it if any of its addresses is not public
(loopback, private, link-local, reserved, multicast, IPv4-mapped ones too) or
allow-listed, and connects to the address it checked: no second DNS lookup that
a rebinding name could answer differently. Proxies from the environment are
not used: the destination itself must be checked.

Bodies are bounded too: read raw and decompressed here, counting decompressed
bytes, so that a small gzip or Brotli bomb stops at the cap instead of filling
memory.
"""

from __future__ import annotations

import ipaddress
import socket
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import brotli
import httpcore
import httpx

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# What Vigie asks for, and so the only encodings it decodes.
ACCEPT_ENCODING = "gzip, deflate, br"


class Refused(httpx.ConnectError):
    """The destination is not one Vigie may reach; the message says why."""


class TooLarge(ValueError):
    """A body (decompressed) is over its cap."""


def masked(url: str) -> str:
    """A URL fit for logs, records and API output: scheme, host and port only. The
    rest of a webhook URL (Slack's path, a token in the query, user:password@) is
    a credential."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    hidden = "/…" if (parts.path not in ("", "/") or parts.query or parts.username) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """Networks from "10.0.0.0/8, 192.168.1.5" (a bare address is a /32 or /128)."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


@dataclass(frozen=True)
class Guard:
    """Which addresses may be reached: public ones, plus `allow` (explicit
    opt-ins such as a webhook receiver on the local network), or all of them with
    `allow_private` (a feed the operator marked as internal)."""

    allow: tuple[Network, ...] = ()
    allow_private: bool = False

    def refusal(self, address: Address) -> str | None:
        """Why `address` may not be reached, or None if it may."""
        if self.allow_private or any(address in network for network in self.allow):
            return None
        mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
        if mapped is not None:
            return self.refusal(mapped)
        if address.is_multicast:
            return "a multicast address"
        if not address.is_global:
            kind = (
                "a loopback"
                if address.is_loopback
                else "a link-local"
                if address.is_link_local
                else "a private"
                if address.is_private
                else "a reserved"
            )
            return f"{kind} address"
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the guard between name and socket."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        for address in addresses:
            if why := self._guard.refusal(address):
                raise httpcore.ConnectError(
                    f"refused: {host} is {address}, {why} (see SECURITY.md to allow it)"
                )
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host}: no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: unix sockets are not reachable from here")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> Sequence[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"{host}: name lookup timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(f"{host}: {exc}") from exc
    found: list[Address] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise httpcore.ConnectError(f"{host}: no address")
    return found


def client(guard: Guard, **options: Any) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through `guard`. Options are
    AsyncClient's (timeout, headers, follow_redirects, ...); `limits` also sizes
    the guarded pool."""
    limits: httpx.Limits = options.pop("limits", httpx.Limits())
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx builds its pool with the default network backend and has no option
    # for another; the pool it would have made, with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(guard),
    )
    headers = {"Accept-Encoding": ACCEPT_ENCODING, **options.pop("headers", {})}
    return httpx.AsyncClient(transport=transport, trust_env=False, headers=headers, **options)


class _Decoder:
    """Decompresses one Content-Encoding chunk by chunk, never producing more than
    `room` bytes from one call, so that the caller can stop at its cap."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._zlib: Any = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        """The decompressed bytes of `data`, in pieces of at most `room` + 1 bytes,
        until `room` is exceeded (then the caller stops)."""
        limit = room + 1
        if self._encoding in ("", "identity"):
            yield data
        elif self._encoding == "br":
            out = self._brotli.process(data, output_buffer_limit=limit)
            yield out
            while not self._brotli.can_accept_more_data() and len(out) <= limit:
                out = self._brotli.process(b"", output_buffer_limit=limit)
                if not out:
                    break
                yield out
        else:
            out = self._zlib.decompress(data, limit)
            yield out
            while self._zlib.unconsumed_tail and len(out) <= limit:
                out = self._zlib.decompress(self._zlib.unconsumed_tail, limit)
                yield out

    def finish(self) -> bytes:
        return self._zlib.flush() if self._encoding not in ("", "identity", "br") else b""


async def read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The response body, decompressed, or TooLarge as soon as it passes
    `max_bytes` (counted after decompression). The client must have been made by
    `client` (or asked only for encodings this module decodes)."""
    declared = response.headers.get("content-length", "")
    plain = not response.headers.get("content-encoding")
    if plain and declared.isascii() and declared.isdecimal() and int(declared[:20]) > max_bytes:
        raise TooLarge(f"declared {declared[:20]} bytes")
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")]
    # Several encodings are applied in order; decoding them in turn while bounded
    # is not worth it for news feeds: only one is accepted.
    encodings = [e for e in encodings if e and e != "identity"]
    if len(encodings) > 1:
        raise ValueError(f"several Content-Encodings ({', '.join(encodings)})")
    try:
        decoder = _Decoder(encodings[0] if encodings else "")
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            for piece in decoder.feed(raw, max_bytes - size):
                size += len(piece)
                if size > max_bytes:
                    raise TooLarge(f"more than {max_bytes} bytes")
                chunks.append(piece)
        rest = decoder.finish()
        if size + len(rest) > max_bytes:
            raise TooLarge(f"more than {max_bytes} bytes")
        chunks.append(rest)
    except (zlib.error, brotli.error) as exc:
        raise ValueError(f"body does not decompress: {exc}") from exc
    return b"".join(chunks)
