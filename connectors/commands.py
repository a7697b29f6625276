"""`vigie feeds ...` and `vigie connector ...`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.feed import FeedError, document_of, parse_feed
from connectors.feedlist import FeedConfig, import_opml, load_feeds, slug
from connectors.fetch import Fetcher, FetchError
from vigie import logs
from vigie.commandline import command_settings, failure
from vigie.settings import Settings

if TYPE_CHECKING:  # the service pulls in Kafka and aiohttp: imported when run
    from connectors.service import Connector, Outcome
    from vigie.article import Article

feeds_app = typer.Typer(help="The feed list: check a feed, import OPML, validate feeds.yaml.")
connector_app = typer.Typer(help="The feed connector service.")


@feeds_app.command("check")
def check(
    target: Annotated[
        str, typer.Argument(help="Feed URL, local file, or a feed id of feeds.yaml.")
    ],
    full_text: Annotated[
        bool, typer.Option(help="Also fetch each article's page for its main text.")
    ] = False,
) -> None:
    """Fetch and parse one feed and print its normalised articles as JSON (no Kafka)."""
    settings = command_settings()
    listed = (
        {f.id: f for f in load_feeds(settings.feeds_file).feeds}
        if settings.feeds_file.exists()
        else {}
    )
    try:
        feed = listed.get(target) or FeedConfig.at(target, slug(target), full_text=full_text)
    except ValueError as exc:
        raise failure(f"not a feed URL, file or listed id: {target} ({exc})") from exc
    try:
        result = asyncio.run(_check(settings, feed))
    except (FetchError, FeedError) as exc:
        raise failure(f"cannot read feed: {exc}") from exc
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


async def _check(settings: Settings, feed: FeedConfig) -> dict[str, Any]:
    from connectors.fulltext import FullText, needs_full_text

    fetcher = Fetcher.from_settings(settings, concurrency=4)
    try:
        fetched = await fetcher.fetch(feed.url)
        parsed = parse_feed(document_of(fetched), feed)
        articles = parsed.articles
        if feed.full_text:
            full = FullText(fetcher, settings.fulltext_concurrency)
            articles = list(
                await asyncio.gather(
                    *(full.complete(a) if needs_full_text(a) else _same(a) for a in articles)
                )
            )
    finally:
        await fetcher.close()
    return {
        "feed": feed.model_dump(mode="json", exclude_defaults=True),
        "fetched": {"url": fetched.url, "status": fetched.status, "bytes": len(fetched.body)},
        "update_hint_seconds": parsed.update_hint,
        "warnings": parsed.warnings,
        "articles": [a.model_dump(mode="json", exclude_defaults=True) for a in articles],
    }


async def _same(article: Article) -> Article:
    return article


@feeds_app.command("import")
def import_(
    opml: Annotated[Path, typer.Argument(help="OPML file (a feed reader's export).")],
    to: Annotated[
        Path | None, typer.Option(help="Feed list to add to (default: settings' feeds_file).")
    ] = None,
) -> None:
    """Add an OPML list's feeds to feeds.yaml (feeds already listed are skipped)."""
    settings = command_settings()
    target = to or settings.feeds_file
    result = import_opml(opml, target)
    for problem in result.problems:
        typer.secho(str(problem), fg=typer.colors.YELLOW, err=True)
    typer.echo(
        f"added {len(result.added)} feeds to {target}; {len(result.skipped)} already listed; "
        f"{len(result.problems)} problems"
    )
    if not result.added and result.problems:
        raise typer.Exit(code=1)


@feeds_app.command("validate")
def validate() -> None:
    """Check feeds.yaml: every problem with its line; exit 1 if there is any."""
    settings = command_settings()
    loaded = load_feeds(settings.feeds_file)
    for problem in loaded.problems:
        typer.secho(str(problem), fg=typer.colors.RED, err=True)
    typer.echo(f"{len(loaded.feeds)} valid feeds, {len(loaded.problems)} problems")
    if loaded.problems:
        raise typer.Exit(code=1)


@feeds_app.command("status")
def status() -> None:
    """Each listed feed as the connector last saw it: last success, failures in a
    row, last error, interval and next poll."""
    from connectors.state import State

    settings = command_settings()
    loaded = load_feeds(settings.feeds_file)
    if not settings.connector_state.exists():
        raise failure(f"no connector state at {settings.connector_state} (never run?)")
    state = State(settings.connector_state)
    now = time.time()
    try:
        for feed in loaded.feeds:
            known = state.feed(feed.id)
            if known.last_success is None and not known.failures:
                typer.echo(f"{feed.id}: never polled")
                continue
            ok = f"ok {_ago(now - known.last_success)} ago" if known.last_success else "never ok"
            line = f"{feed.id}: {ok}"
            if known.interval:
                line += f", every {_ago(known.interval)}"
            line += f", next in {_ago(max(0.0, known.next_poll - now))}"
            if known.failures:
                line += f"; {known.failures} failures in a row, last: {known.last_error}"
            typer.secho(line, fg=typer.colors.RED if known.failures else None)
    finally:
        state.close()


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@connector_app.command("run")
def run(
    once: Annotated[
        bool, typer.Option(help="Poll every feed once, send everything, exit (imports).")
    ] = False,
) -> None:
    """Poll the feeds of feeds.yaml and send new and updated entries to news.raw,
    until SIGTERM or Ctrl+C (which finish the polls under way and flush)."""
    from connectors.service import Connector
    from connectors.state import State

    settings = command_settings()
    log = logs.get("vigie.connector")
    loaded = load_feeds(settings.feeds_file)
    for problem in loaded.problems:
        log.error("feed_list_problem", problem=str(problem))
    if not loaded.feeds:
        raise failure(f"no valid feed in {settings.feeds_file}")
    _ensure_topics(settings, log)
    state = State(settings.connector_state)
    connector = Connector(settings, loaded.feeds, state)
    try:
        if once:
            _run_once(connector)
        else:
            asyncio.run(_serve(connector, settings))
    finally:
        state.close()


def _ensure_topics(settings: Settings, log: Any) -> None:
    from kafka.errors import KafkaError

    from pipeline.topics import ensure_topics

    try:
        ensure_topics(settings)
    except KafkaError as exc:  # the outbox keeps articles until Kafka answers
        log.warning("kafka_unreachable_at_start", reason=str(exc) or type(exc).__name__)


def _run_once(connector: Connector) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from connectors.produce import DeliveryError

    counts = {"new": 0, "updated": 0, "errors": 0}
    columns = (
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[line]}"),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("feeds", total=len(connector.feeds), line="")

        def advance(outcome: Outcome) -> None:
            counts["new"] += outcome.new
            counts["updated"] += outcome.updated
            counts["errors"] += outcome.result == "error"
            line = f"{counts['new']} new, {counts['updated']} updated, {counts['errors']} failed"
            progress.update(task, advance=1, line=line)

        asyncio.run(connector.run_once(advance))
    try:
        sent = connector.send_outbox()
    except DeliveryError as exc:
        raise failure(
            f"{exc}; {connector.state.outbox_size()} articles kept for the next run"
        ) from exc
    finally:
        connector.close()
    typer.echo(
        f"{len(connector.feeds)} feeds polled: {counts['new']} new, {counts['updated']} updated, "
        f"{counts['errors']} failed; {sent} articles produced to {connector.settings.topic_raw}",
        err=False,
    )
    if counts["errors"]:
        typer.echo("failed feeds are logged with their reason (feed_failed)", err=True)
    sys.stdout.flush()


async def _serve(connector: Connector, settings: Settings) -> None:
    from connectors.service import serve_health

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = await serve_health(connector, settings.web_host, settings.connector_web_port)
    logs.get("vigie.connector").info(
        "connector_started", feeds=len(connector.feeds), port=settings.connector_web_port
    )
    try:
        await connector.run(stop, settings.feeds_file)
    finally:
        await runner.cleanup()
