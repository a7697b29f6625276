"""`vigie feeds ...`: check a feed, import OPML, validate the feed list, see its state."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import command_settings, failure, feed_list, print_json
from connectors.feed import FeedError, document_of, parse_feed
from connectors.feedlist import FeedConfig, import_opml, load_feeds, slug
from connectors.fetch import Fetcher, FetchError
from vigie.settings import Settings

if TYPE_CHECKING:
    from connectors.state import FeedState

feeds_app = typer.Typer(help="The feed list: check a feed, import OPML, validate feeds.yaml.")


@feeds_app.command("check")
def check(
    target: Annotated[
        str, typer.Argument(help="Feed URL, local file, or a feed id of feeds.yaml.")
    ],
    full_text: Annotated[
        bool, typer.Option(help="Also fetch each article's page for its main text.")
    ] = False,
    allow_private: Annotated[
        bool, typer.Option(help="May reach loopback and private addresses (an intranet feed).")
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
        feed = listed.get(target) or FeedConfig.at(
            target, slug(target), full_text=full_text, allow_private=allow_private
        )
    except ValueError as exc:
        raise failure(f"not a feed URL, file or listed id: {target} ({exc})") from exc
    try:
        result = asyncio.run(_check(settings, feed))
    except (FetchError, FeedError) as exc:
        raise failure(f"cannot read feed: {exc}") from exc
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


async def _check(settings: Settings, feed: FeedConfig) -> dict[str, Any]:
    from connectors.fulltext import FullText

    fetcher = Fetcher.from_settings(settings, concurrency=4)
    try:
        fetched = await fetcher.fetch(feed.url, allow_private=feed.allow_private)
        parsed = parse_feed(document_of(fetched), feed)
        articles = parsed.articles
        if feed.full_text:
            full = FullText(fetcher, settings.fulltext_concurrency)
            articles = await full.complete_all(articles, feed.allow_private)
    finally:
        await fetcher.close()
    return {
        "feed": feed.model_dump(mode="json", exclude_defaults=True),
        "fetched": {"url": fetched.url, "status": fetched.status, "bytes": len(fetched.body)},
        "update_hint_seconds": parsed.update_hint,
        "warnings": parsed.warnings,
        "articles": [a.model_dump(mode="json", exclude_defaults=True) for a in articles],
    }


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
    if missing := feed_list(settings):
        raise missing
    loaded = load_feeds(settings.feeds_file)
    for problem in loaded.problems:
        typer.secho(str(problem), fg=typer.colors.RED, err=True)
    typer.echo(f"{len(loaded.feeds)} valid feeds, {len(loaded.problems)} problems")
    if loaded.problems:
        raise typer.Exit(code=1)


@feeds_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
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
        if as_json:
            print_json([_status_row(state.feed(feed.id)) for feed in loaded.feeds])
            return
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


def _status_row(known: FeedState) -> dict[str, Any]:
    def moment(timestamp: float | None) -> str | None:
        return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()

    polled = known.last_success is not None or known.failures > 0
    return {
        "feed": known.feed_id,
        "polled": polled,
        "last_success": moment(known.last_success),
        "failures": known.failures,
        "last_error": known.last_error,
        "last_error_kind": known.last_error_kind,
        "interval_seconds": known.interval,
        "next_poll": moment(known.next_poll) if polled else None,
    }


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
