"""`vigie es ...` and `vigie search`: the search engine's indices, and searching them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from commands.common import command_settings, failure

es_app = typer.Typer(help="Search engine: templates, write alias, rollover, retention.")

# `vigie search` exits as grep does: 0 with hits, 1 without, 2 on an error.
NO_HITS = 1
SEARCH_ERROR = 2


@es_app.command("setup")
def es_setup() -> None:
    """Put the index templates and create the write alias (idempotent)."""
    from pipeline.search.clients import connect
    from pipeline.search.engine import SearchEngineError
    from pipeline.search.templates import Indices, SetupError, setup

    settings = command_settings()
    engine = connect(settings)
    try:
        for line in setup(engine, Indices.from_settings(settings), settings.config_dir):
            typer.echo(line)
    except (SearchEngineError, SetupError) as exc:
        raise failure(f"setup failed: {exc}") from exc
    finally:
        engine.close()


@es_app.command("rollover")
def es_rollover(
    force: Annotated[bool, typer.Option(help="Roll over even if no condition is met.")] = False,
) -> None:
    """Roll the articles alias over to a new index if it is old, big or full enough."""
    from pipeline.search.clients import connect
    from pipeline.search.engine import SearchEngineError
    from pipeline.search.templates import rollover, rollover_conditions

    settings = command_settings()
    engine = connect(settings)
    try:
        conditions = {} if force else rollover_conditions(settings)
        new_index = rollover(engine, settings.index_articles, conditions)
    except SearchEngineError as exc:
        raise failure(f"rollover failed: {exc}") from exc
    finally:
        engine.close()
    if new_index:
        typer.echo(f"rolled over: {settings.index_articles} now writes to {new_index}")
    else:
        typer.echo(f"no rollover: no condition met ({rollover_conditions(settings)})")


@es_app.command("prune")
def es_prune(
    days: Annotated[
        float | None,
        typer.Option(help="Retention in days (default: VIGIE_RETENTION_DAYS)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Name the indices, delete nothing.")] = False,
) -> None:
    """Delete the indices behind the articles alias past retention (never the write index)."""
    from pipeline.search.clients import connect
    from pipeline.search.engine import SearchEngineError
    from pipeline.search.retention import expired, prune

    settings = command_settings()
    retention = days if days is not None else settings.retention_days
    if retention is None:
        raise failure("no retention: set VIGIE_RETENTION_DAYS or give --days")
    if not retention > 0:  # also false for nan
        raise typer.BadParameter("--days must be more than 0")
    engine = connect(settings)
    try:
        gone = (expired if dry_run else prune)(engine, settings.index_articles, retention)
    except SearchEngineError as exc:
        raise failure(f"prune failed: {exc}") from exc
    finally:
        engine.close()
    verb = "would delete" if dry_run else "deleted"
    for index in gone:
        typer.echo(f"{verb} {index}")
    if not gone:
        typer.echo(f"nothing past {retention:g} days behind {settings.index_articles}")


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date (2025-02-09 or 2025-02-09T10:00Z)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def search(
    query: Annotated[
        str | None, typer.Argument(help="Words to find (every one must match).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Tag id or label that must be there (repeatable).")
    ] = None,
    any_tag: Annotated[list[str] | None, typer.Option(help="At least one of these tags.")] = None,
    entity: Annotated[
        list[str] | None, typer.Option(help="Entity id or name (repeatable).")
    ] = None,
    lang: Annotated[list[str] | None, typer.Option(help="Article language (repeatable).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Feed id or source name.")] = None,
    since: Annotated[str | None, typer.Option(help="Published at or after (ISO date).")] = None,
    until: Annotated[str | None, typer.Option(help="Published before (ISO date).")] = None,
    sort: Annotated[str, typer.Option(help="relevance, newest or oldest.")] = "relevance",
    size: Annotated[int, typer.Option(help="How many hits.")] = 10,
    top_tags: Annotated[int, typer.Option(help="Also count the N most frequent tags.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print hits (and counts) as JSON lines.")
    ] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to keep asking until there is a hit (0: ask once).")
    ] = 0.0,
) -> None:
    """Search indexed articles; print title, language, date and link. Exit 0 with
    hits, 1 without, 2 on an error (as grep)."""
    from pipeline.search.clients import connect
    from pipeline.search.engine import SearchEngineError
    from pipeline.search.query import ArticleQuery, search_body

    if sort not in ("relevance", "newest", "oldest"):
        raise typer.BadParameter("--sort is relevance, newest or oldest")
    settings = command_settings()
    article_query = ArticleQuery(
        text=query,
        all_tags=tuple(tag or ()),
        any_tags=tuple(any_tag or ()),
        entities=tuple(entity or ()),
        languages=tuple(lang or ()),
        sources=tuple(source or ()),
        since=_when(since),
        until=_when(until),
    )
    body = search_body(article_query, size=size, sort=sort, top_tags=top_tags)  # type: ignore[arg-type]
    engine = connect(settings)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                result = engine.search(settings.index_articles, body)
            except SearchEngineError as exc:
                if "index_not_found" not in str(exc) or time.monotonic() >= deadline:
                    raise failure(f"search failed: {exc}", code=SEARCH_ERROR) from exc
                result = None
            if (result and result.hits) or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
    finally:
        engine.close()
    hits = result.hits if result else []
    buckets = result.aggregations.get("top_tags", {}).get("buckets", []) if result else []
    if as_json:
        for hit in hits:
            typer.echo(
                json.dumps({"id": hit.id, "score": hit.score, **hit.source}, ensure_ascii=False)
            )
        if top_tags:
            typer.echo(
                json.dumps(
                    {"top_tags": {b["key"]: b["doc_count"] for b in buckets}}, ensure_ascii=False
                )
            )
    else:
        for hit in hits:
            doc = hit.source
            date = (doc.get("published_at") or "date unknown")[:10]
            # A link-less entry shows its feed's site, or that it has no link.
            link = doc.get("canonical_url") or doc.get("url") or "(no link)"
            typer.echo(f"{doc.get('title')}\n  [{doc.get('language')}] {date}  {link}")
        if result and result.total > len(hits):
            typer.echo(f"({result.total} articles match; {len(hits)} shown)")
        if top_tags:
            typer.echo("top tags: " + ", ".join(f"{b['key']} ({b['doc_count']})" for b in buckets))
    if not hits:
        typer.echo(f"no article matches {query or 'the filters'!r}", err=True)
        raise typer.Exit(NO_HITS)


def stories(
    hours: Annotated[
        float, typer.Option(help="Stories with an article in the last this many hours.")
    ] = 24.0,
    size: Annotated[int, typer.Option(help="How many stories, largest first.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print stories as JSON lines.")] = False,
) -> None:
    """The largest stories of the last hours (the stories index): articles, sources,
    languages, and their first title. Exit 0 with stories, 1 without, 2 on an error."""
    from pipeline.search.clients import connect
    from pipeline.search.engine import SearchEngineError

    if not 0 < hours <= 24 * 365 or not 0 < size <= 1000:
        raise typer.BadParameter("--hours from 0 to 8760 and --size from 1 to 1000")
    settings = command_settings()
    since = datetime.now(UTC).timestamp() - hours * 3600
    body = {
        "query": {"range": {"last_seen": {"gte": datetime.fromtimestamp(since, UTC).isoformat()}}},
        "sort": [{"articles": "desc"}, {"last_seen": "desc"}],
        "size": size,
    }
    engine = connect(settings)
    try:
        result = engine.search(settings.index_stories, body)
    except SearchEngineError as exc:
        raise failure(f"stories: {exc}", code=SEARCH_ERROR) from exc
    finally:
        engine.close()
    for hit in result.hits:
        story = hit.source
        if as_json:
            typer.echo(json.dumps(story, ensure_ascii=False))
            continue
        languages = ", ".join(story.get("languages", []))
        typer.echo(
            f"{story.get('title')}\n  {story.get('articles')} articles, "
            f"{story.get('source_count')} sources, [{languages}]  "
            f"{(story.get('first_seen') or '')[:16]} .. {(story.get('last_seen') or '')[:16]}"
            f"  story {hit.id}"
        )
    if not result.hits:
        typer.echo(f"no story in the last {hours:g} hours", err=True)
        raise typer.Exit(NO_HITS)
