"""Kibana objects: every field they use is in the mapping, and the import request
is what Kibana's saved-objects API expects (checked by a real local HTTP server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from commands.kibana import (
    ARTICLES_VIEW,
    STORIES_VIEW,
    data_views,
    fields_used,
    import_objects,
    load_objects,
)
from commands.main import app
from pipeline.search.templates import articles_body, stories_body
from vigie.retry import Backoff
from vigie.settings import Settings


def _mapping_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    fields = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields |= _mapping_fields(spec["properties"], f"{path}.")
        else:
            fields.add(path)
    return fields


def test_every_field_the_objects_use_is_mapped() -> None:
    settings = Settings()
    objects = load_objects(settings.config_dir / "kibana", data_views(settings))
    mapped = _mapping_fields(articles_body(settings.config_dir)["mappings"]["properties"])
    used = fields_used(objects, ARTICLES_VIEW)
    assert {
        "dated_at",  # the time field: every article has one
        "tags.id",
        "tags.label",
        "entity_names.PER",  # names counted under their own type
        "entity_names.ORG",
        "entity_names.LOC",
        "language",
        "source.name",
        "canonical_url",  # absent on entries without a link of their own: a search of them
        "url",
    } <= used
    assert used <= mapped, f"not in the mapping: {used - mapped}"
    assert "entities.name" not in used  # mixes every type present in an article
    assert "published_at" not in used  # undated articles would be off the timeline


def test_the_stories_view_uses_fields_of_the_stories_index() -> None:
    settings = Settings()
    objects = load_objects(settings.config_dir / "kibana", data_views(settings))
    mapped = _mapping_fields(stories_body()["mappings"]["properties"])
    used = fields_used(objects, STORIES_VIEW)
    assert {"last_seen", "articles", "title", "languages"} <= used
    assert used <= mapped, f"not in the mapping: {used - mapped}"


def test_objects_are_data_views_searches_and_a_dashboard() -> None:
    views = {ARTICLES_VIEW: "my-articles", STORIES_VIEW: "my-stories"}
    objects = load_objects(Settings().config_dir / "kibana", views)
    types = [o["type"] for o in objects]
    assert types.count("index-pattern") == 2
    assert types.count("search") >= 3
    assert types.count("dashboard") == 1
    titles = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert titles == views
    ids = {(o["type"], o["id"]) for o in objects}
    for obj in objects:  # every reference resolves inside the file
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in ids, ref


class _Kibana(BaseHTTPRequestHandler):
    answer: ClassVar[tuple[int, dict[str, Any]]] = (200, {})
    # Answers given first, one per request, before `answer` (Kibana starting up).
    first: ClassVar[list[tuple[int, dict[str, Any]]]] = []
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        parts = {
            part.get_param("name", header="content-disposition"): part
            for part in message.iter_parts()
        }
        file_part = parts["file"]
        type(self).seen.append(
            {
                "method": self.command,
                "path": urlsplit(self.path).path,
                "query": parse_qs(urlsplit(self.path).query),
                "xsrf": self.headers.get("kbn-xsrf"),
                "auth": self.headers.get("Authorization"),
                "filename": file_part.get_filename(),
                "ndjson": bytes(file_part.get_payload(decode=True)).decode(),
            }
        )
        status, payload = type(self).first.pop(0) if type(self).first else type(self).answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kibana() -> Iterator[str]:
    _Kibana.seen = []
    _Kibana.first = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Kibana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_sends_the_saved_objects_api_request(
    kibana: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Kibana.answer = (200, {"success": True, "successCount": 9})
    monkeypatch.setenv("VIGIE_KIBANA_API_KEY", "c2VjcmV0")
    result = CliRunner().invoke(app, ["kibana", "import", "--url", kibana])
    assert result.exit_code == 0, result.output
    assert "imported 9 saved objects" in result.output
    (request,) = _Kibana.seen
    assert request["method"] == "POST"
    assert request["path"] == "/api/saved_objects/_import"
    assert request["query"] == {"overwrite": ["true"]}
    assert request["xsrf"]
    assert request["auth"] == "ApiKey c2VjcmV0"
    assert request["filename"].endswith(".ndjson")
    lines = [json.loads(line) for line in request["ndjson"].splitlines()]
    assert {line["type"] for line in lines} == {
        "index-pattern",
        "search",
        "visualization",
        "dashboard",
    }
    assert all(line["id"] and line["attributes"] for line in lines)


def test_import_refused_by_kibana_is_a_clear_error(kibana: str) -> None:
    _Kibana.answer = (
        200,
        {
            "success": False,
            "successCount": 8,
            "errors": [
                {
                    "type": "dashboard",
                    "id": "vigie-dashboard",
                    "error": {"type": "missing_references"},
                }
            ],
        },
    )
    result = CliRunner().invoke(app, ["kibana", "import", "--url", kibana])
    assert result.exit_code == 1
    assert "dashboard vigie-dashboard: missing_references" in result.output


def test_import_http_error_and_unreachable_kibana(kibana: str) -> None:
    _Kibana.answer = (401, {"statusCode": 401, "error": "Unauthorized"})
    result = CliRunner().invoke(app, ["kibana", "import", "--url", kibana])
    assert result.exit_code == 1
    assert "HTTP 401" in result.output
    nobody = CliRunner().invoke(app, ["kibana", "import", "--url", "http://127.0.0.1:9"])
    assert nobody.exit_code == 1
    assert "cannot reach Kibana" in nobody.output


_STARTING = (503, {"statusCode": 503, "error": "Service Unavailable", "message": "not ready yet"})


def test_import_waits_while_kibana_starts(kibana: str) -> None:
    _Kibana.first = [_STARTING, _STARTING]
    _Kibana.answer = (200, {"success": True, "successCount": 9})
    retries: list[str] = []
    count = import_objects(
        kibana,
        load_objects(Settings().config_dir / "kibana", data_views(Settings())),
        wait=60,
        backoff=Backoff(start=0.01, cap=0.02),
        on_retry=lambda exc, delay: retries.append(str(exc)),
    )
    assert count == 9
    assert len(_Kibana.seen) == 3
    assert len(retries) == 2
    assert retries[0].startswith("Kibana is not ready (HTTP 503)")


def test_import_without_wait_tries_once_and_the_wait_is_bounded(kibana: str) -> None:
    _Kibana.answer = _STARTING
    once = CliRunner().invoke(app, ["kibana", "import", "--url", kibana])
    assert once.exit_code == 1
    assert "Kibana is not ready (HTTP 503)" in once.output
    assert len(_Kibana.seen) == 1
    bounded = CliRunner().invoke(app, ["kibana", "import", "--url", kibana, "--wait", "2"])
    assert bounded.exit_code == 1
    assert "still so after 2s" in bounded.output
    assert "trying again in" in bounded.output
