"""`vigie connector run` (the long-lived feed service) and `vigie ingest` (one feed,
once): both produce to news.raw."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import command_settings, failure, feed_list, print_json
from connectors.feedlist import load_feeds
from vigie import logs, web
from vigie.settings import Settings

if TYPE_CHECKING:  # the service pulls in Kafka and aiohttp: imported when run
    from connectors.poller import Outcome
    from connectors.service import Connector

connector_app = typer.Typer(help="The feed connector service.")


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
    if missing := feed_list(settings):
        raise missing
    log = logs.get("vigie.connector")
    loaded = load_feeds(settings.feeds_file)
    for problem in loaded.problems:
        log.error("feed_list_problem", problem=str(problem))
    if not loaded.feeds:
        raise failure(f"no valid feed in {settings.feeds_file}")
    _ensure_topics(settings, log, service=not once)
    state = State(settings.connector_state)
    connector = Connector(settings, loaded.feeds, state)
    try:
        if once:
            _run_once(connector)
        else:
            asyncio.run(_serve(connector, settings))
    finally:
        state.close()


def _ensure_topics(settings: Settings, log: Any, service: bool = True) -> None:
    from pipeline.stream.topics import TopicsUnavailable, ensure_topics

    try:
        ensure_topics(settings)
    except TopicsUnavailable as exc:  # the outbox keeps articles until Kafka answers
        # A one-shot run fails on sending, in one line that says it all.
        (log.warning if service else log.debug)("kafka_unreachable_at_start", reason=str(exc))


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
    with Progress(*columns, console=Console(stderr=True)) as progress, logs.to_current_stderr():
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
    sys.stdout.flush()
    if counts["errors"]:  # the others were polled and sent: say so, but not as a success
        raise failure(f"{counts['errors']} feeds failed; their reasons are logged (feed_failed)")


async def _serve(connector: Connector, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = await web.serve(settings.web_host, settings.connector_web_port, connector.health)
    logs.get("vigie.connector").info(
        "connector_started", feeds=len(connector.feeds), port=settings.connector_web_port
    )
    try:
        await connector.run(stop, settings.feeds_file)
    finally:
        await runner.cleanup()


def ingest(
    location: Annotated[str, typer.Argument(help="Feed URL or local file (RSS, Atom, RDF).")],
    feed_id: Annotated[str | None, typer.Option(help="Feed id (default: the location).")] = None,
    name: Annotated[str | None, typer.Option(help="Display name of the source.")] = None,
    language: Annotated[str | None, typer.Option(help="Language the source declares.")] = None,
    allow_private: Annotated[
        bool, typer.Option(help="May reach loopback and private addresses (an intranet feed).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Read one feed once and produce all its entries to news.raw (a replay: seen or
    not), through the connector's outbox, so that none is lost if Kafka is down."""
    from connectors.feed import FeedError, parse_feed, read_feed
    from connectors.feedlist import FeedConfig, slug
    from connectors.outbox import OutboxRelay
    from connectors.produce import DeliveryError
    from connectors.state import State

    settings = command_settings()
    log = logs.get("vigie.ingest")
    try:
        source = FeedConfig.at(location, feed_id or slug(location), name=name, language=language)
    except ValueError as exc:
        raise failure(f"bad feed options: {exc}") from exc
    try:
        parsed = parse_feed(read_feed(location, allow_private=allow_private), source)
    except FeedError as exc:
        log.error("feed_unreadable", feed=source.id, reason=str(exc))
        raise failure(f"cannot read feed: {exc}") from exc
    for warning in parsed.warnings:
        log.warning("feed_warning", feed=source.id, reason=warning)
    _ensure_topics(settings, log, service=False)
    state = State(settings.connector_state)
    relay = OutboxRelay(state, settings.kafka_options(), settings.topic_raw, settings.topic_dlq)
    try:
        # The ids the connector gave these entries, where it gave them other ones.
        articles = state.settled(parsed.articles, parsed.identities)
        state.enqueue(articles)
        sent = relay.send_pending()
    except DeliveryError as exc:
        raise failure(
            f"{exc}; {state.outbox_size()} articles kept in {settings.connector_state} "
            "for the next `vigie ingest` or `vigie connector run`"
        ) from exc
    finally:
        relay.close()
        state.close()
    if as_json:
        print_json(
            {
                "topic": settings.topic_raw,
                "produced": sent,
                "articles": [{"id": a.id, "title": a.title} for a in articles],
            }
        )
        return
    for article in articles:
        typer.echo(f"{article.id}  {article.title}")
    typer.echo(f"{sent} articles produced to {settings.topic_raw}")
