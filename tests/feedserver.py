"""A real local HTTP server for connector tests: fixture feeds with ETag and
Last-Modified, a server whose ETag lies, one without validators, one with a
max-age, error statuses,
a slow answer, an oversized body, a redirect, gzip, and article pages."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"


@dataclass
class Served:
    url: str
    bodies: dict[str, bytes] = field(default_factory=dict)  # overrides, by path
    requests: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def __call__(self, path: str) -> str:
        return self.url + path

    def body(self, name: str) -> bytes:
        return self.bodies.get(name) or (FEEDS / name).read_bytes()


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            try:
                self._get()
            except FileNotFoundError:
                self._send(404, b"no such fixture")

        def _get(self) -> None:
            path = self.path.split("?")[0]
            served.requests[path].append({"at": time.monotonic(), **dict(self.headers.items())})
            kind, _, name = path.strip("/").partition("/")
            xml = "application/xml; charset=" + (
                "iso-8859-1"
                if name == "latin1.xml"
                else "windows-1252"
                if name == "cp1252.xml"
                else "utf-8"
            )
            if kind == "feeds":  # honest validators
                body = served.body(name)
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, ETag=etag)
                return self._send(200, body, Content_Type=xml, ETag=etag)
            if kind == "lying":  # the same ETag whatever the content
                if self.headers.get("If-None-Match") == '"v1"':
                    return self._send(304, ETag='"v1"')
                return self._send(200, served.body(name), Content_Type=xml, ETag='"v1"')
            if kind == "cached":  # fresh for two hours, says the server
                return self._send(
                    200, served.body(name), Content_Type=xml, Cache_Control="public, max-age=7200"
                )
            if kind == "plain":  # no validators at all
                return self._send(200, served.body(name), Content_Type=xml)
            if kind == "gzip":
                body = gzip.compress(served.body(name))
                return self._send(200, body, Content_Type=xml, Content_Encoding="gzip")
            if kind == "status":
                code = int(name)
                extra = {"Retry_After": "120"} if code == 429 else {}
                return self._send(code, b"no", Content_Type="text/plain", **extra)
            if kind == "slow":
                time.sleep(3)
                return self._send(200, served.body(name), Content_Type=xml)
            if kind == "huge":
                return self._send(200, b"<rss>" + b" " * 3_000_000 + b"</rss>", Content_Type=xml)
            if kind == "moved":
                return self._send(301, Location=served("/feeds/" + name))
            if kind == "pages":
                return self._send(200, served.body(name), Content_Type="text/html; charset=utf-8")
            return self._send(404, b"not here")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout, size cap) is what some tests are about


@contextmanager
def feed_server() -> Iterator[Served]:
    server = _Server(("127.0.0.1", 0), _handler(Served("")))
    served = Served(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(served)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
