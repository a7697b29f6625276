"""`vigie kibana import`: Kibana saved objects (vigie/data/kibana/*.ndjson) and their
import through Kibana's saved-objects API: data views on the articles alias and the
stories index, saved searches and a dashboard."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from commands.common import command_settings, failure
from vigie.retry import Backoff, retry_after
from vigie.settings import Settings

kibana_app = typer.Typer(help="Kibana: data view, saved searches, dashboard.")

IMPORT_PATH = "/api/saved_objects/_import"
# Field names in a KQL query: `tags.id : "country:KP"`, `not duplicate_of : *`
# (quoted values are taken out first: "country:KP" names no field).
_KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*:")
_KQL_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


# Between tries while Kibana starts (it answers 503 until its plugins are up, which
# takes a minute or two after `docker compose up`).
KIBANA_BACKOFF = Backoff(start=1.0, cap=10.0, max_retry_after=30.0)


class KibanaError(RuntimeError):
    """Kibana could not be reached or refused the objects; the message says why."""


class KibanaNotReady(KibanaError):
    """Kibana did not answer, or answered that it is not ready yet: worth a retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


ARTICLES_VIEW, STORIES_VIEW = "vigie-articles", "vigie-stories"


def data_views(settings: Settings) -> dict[str, str]:
    """Each data view's id -> the index (or alias) it reads, as these settings name it."""
    return {ARTICLES_VIEW: settings.index_articles, STORIES_VIEW: settings.index_stories}


def load_objects(directory: Path, views: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every saved object in the folder's NDJSON files, each data view pointed at
    its index (`views`: data view id -> index or alias)."""
    objects: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.ndjson")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise KibanaError(f"{path}:{number}: not JSON ({exc})") from exc
            if obj.get("type") == "index-pattern":
                if obj.get("id") not in views:
                    raise KibanaError(f"{path}:{number}: unknown data view {obj.get('id')!r}")
                obj["attributes"]["title"] = views[obj["id"]]
            objects.append(obj)
    return objects


def fields_used(objects: list[dict[str, Any]], view: str) -> set[str]:
    """Every index field the objects of one data view (the view, and the objects
    that refer to it) use: time field, columns, sorts, KQL queries and
    aggregation fields."""
    fields: set[str] = set()
    for obj in objects:
        refers = {ref.get("id") for ref in obj.get("references", [])}
        if obj.get("id") != view and view not in refers:
            continue
        attributes = obj.get("attributes", {})
        if obj.get("type") == "index-pattern" and attributes.get("timeFieldName"):
            fields.add(attributes["timeFieldName"])
        fields.update(attributes.get("columns", []))
        fields.update(sort[0] for sort in attributes.get("sort", []))
        source = json.loads(
            attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON", "{}")
        )
        query = source.get("query", {}).get("query", "")
        fields.update(
            _KQL_FIELD.findall(_KQL_QUOTED.sub("", query if isinstance(query, str) else ""))
        )
        if "visState" in attributes:
            for agg in json.loads(attributes["visState"]).get("aggs", []):
                if "field" in agg.get("params", {}):
                    fields.add(agg["params"]["field"])
    return fields


def to_ndjson(objects: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode("utf-8")


def import_objects(
    kibana_url: str,
    objects: list[dict[str, Any]],
    api_key: str | None = None,
    timeout: float = 30.0,
    wait: float = 0.0,
    backoff: Backoff = KIBANA_BACKOFF,
    on_retry: Callable[[KibanaNotReady, float], None] | None = None,
) -> int:
    """Import (overwriting) the objects; the number Kibana took. While Kibana does
    not answer or answers 503 (starting), try again for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    failures = 0
    while True:
        try:
            return _import_once(kibana_url, objects, api_key, timeout)
        except KibanaNotReady as exc:
            failures += 1
            delay = backoff.delay(failures, exc.retry_after)
            if time.monotonic() + delay > deadline:
                if wait <= 0:
                    raise
                raise KibanaError(f"{exc}; still so after {wait:.0f}s ({failures} tries)") from exc
            if on_retry is not None:
                on_retry(exc, delay)
            time.sleep(delay)


# Answers that mean "not yet": Kibana starting (503), or a proxy in front of it.
_NOT_READY = frozenset((429, 502, 503, 504))


def _import_once(
    kibana_url: str, objects: list[dict[str, Any]], api_key: str | None, timeout: float
) -> int:
    headers = {"kbn-xsrf": "vigie"}
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    url = kibana_url.rstrip("/") + IMPORT_PATH
    try:
        response = httpx.post(
            url,
            params={"overwrite": "true"},
            headers=headers,
            files={"file": ("vigie.ndjson", to_ndjson(objects), "application/ndjson")},
            timeout=timeout,
        )
    except httpx.TransportError as exc:
        raise KibanaNotReady(f"cannot reach Kibana at {kibana_url}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise KibanaError(f"cannot reach Kibana at {kibana_url}: {exc}") from exc
    if response.status_code in _NOT_READY:
        raise KibanaNotReady(
            f"Kibana is not ready (HTTP {response.status_code}): {response.text[:200]}",
            retry_after(response.headers.get("Retry-After")),
        )
    if response.status_code != 200:
        raise KibanaError(
            f"Kibana answered HTTP {response.status_code} to {IMPORT_PATH}: {response.text[:500]}"
        )
    try:
        result = response.json()
    except ValueError as exc:
        raise KibanaError(f"Kibana's answer is not JSON: {response.text[:200]}") from exc
    if not result.get("success"):
        problems = "; ".join(
            f"{e.get('type')} {e.get('id')}: {e.get('error', {}).get('type', e.get('error'))}"
            for e in result.get("errors", [])
        )
        raise KibanaError(f"Kibana refused some objects: {problems or result}")
    return int(result.get("successCount", len(objects)))


@kibana_app.command("import")
def kibana_import(
    url: Annotated[
        str | None, typer.Option(help="Kibana's URL (default: VIGIE_KIBANA_URL).")
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds to keep trying while Kibana is unreachable or starting (503).",
        ),
    ] = 0.0,
) -> None:
    """Import the saved objects Vigie ships (vigie/data/kibana/) into Kibana
    (overwriting them)."""
    settings = command_settings()
    key = settings.kibana_api_key.get_secret_value() if settings.kibana_api_key else None
    target = url or settings.kibana_url

    def waiting(exc: KibanaNotReady, delay: float) -> None:
        typer.echo(f"{exc}; trying again in {delay:.0f}s", err=True)

    try:
        objects = load_objects(settings.config_dir / "kibana", data_views(settings))
        count = import_objects(target, objects, api_key=key, wait=wait, on_retry=waiting)
    except KibanaError as exc:
        raise failure(str(exc)) from exc
    typer.echo(f"imported {count} saved objects into {target}")
