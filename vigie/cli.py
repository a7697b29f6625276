"""The `vigie` command line."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from connectors.commands import connector_app, feeds_app
from vigie import logs
from vigie.commandline import command_settings, failure
from vigie.settings import Settings

app = typer.Typer(
    help="Vigie: streaming news monitor (feeds -> Kafka -> enrichment -> search index).",
    no_args_is_help=True,
    add_completion=False,
)
services_app = typer.Typer(help="Local Kafka and search engine (no Docker needed).")
app.add_typer(services_app, name="services")
es_app = typer.Typer(help="Search engine: templates, write alias, rollover.")
app.add_typer(es_app, name="es")
kibana_app = typer.Typer(help="Kibana: data view, saved searches, dashboard.")
app.add_typer(kibana_app, name="kibana")
app.add_typer(feeds_app, name="feeds")
app.add_typer(connector_app, name="connector")


@services_app.command("up")
def services_up() -> None:
    """Fetch (first time), start and wait for Kafka and the search engine."""
    from vigie import services

    settings = command_settings()
    for service in services.local_services(settings):
        try:
            typer.echo(services.start(service))
        except services.ServiceError as exc:
            raise failure(str(exc)) from exc


@services_app.command("down")
def services_down() -> None:
    """Stop the local services started by `vigie services up`."""
    from vigie import services

    for service in services.local_services(command_settings()):
        typer.echo(services.stop(service))


@services_app.command("status")
def services_status() -> None:
    """Say whether each local service answers."""
    from vigie import services

    for service in services.local_services(command_settings()):
        typer.echo(services.status(service))


@es_app.command("setup")
def es_setup() -> None:
    """Put the index templates and create the write alias (idempotent)."""
    from pipeline.search.engine import SearchEngineError, connect
    from pipeline.search.templates import SetupError, setup

    settings = command_settings()
    engine = connect(settings)
    try:
        for line in setup(engine, settings):
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
    from pipeline.search.engine import SearchEngineError, connect
    from pipeline.search.templates import rollover, rollover_conditions

    settings = command_settings()
    engine = connect(settings)
    try:
        new_index = rollover(engine, settings, force=force)
    except SearchEngineError as exc:
        raise failure(f"rollover failed: {exc}") from exc
    finally:
        engine.close()
    if new_index:
        typer.echo(f"rolled over: {settings.index_articles} now writes to {new_index}")
    else:
        typer.echo(f"no rollover: no condition met ({rollover_conditions(settings)})")


@kibana_app.command("import")
def kibana_import(
    url: Annotated[
        str | None, typer.Option(help="Kibana's URL (default: VIGIE_KIBANA_URL).")
    ] = None,
) -> None:
    """Import the saved objects of config/kibana/ into Kibana (overwriting them)."""
    from pipeline.search.kibana import KibanaError, import_objects, load_objects

    settings = command_settings()
    key = settings.kibana_api_key.get_secret_value() if settings.kibana_api_key else None
    try:
        objects = load_objects(settings.config_dir / "kibana", settings.index_articles)
        count = import_objects(url or settings.kibana_url, objects, api_key=key)
    except KibanaError as exc:
        raise failure(str(exc)) from exc
    typer.echo(f"imported {count} saved objects into {url or settings.kibana_url}")


@app.command()
def ingest(
    location: Annotated[str, typer.Argument(help="Feed URL or local file (RSS, Atom, RDF).")],
    feed_id: Annotated[str | None, typer.Option(help="Feed id (default: the location).")] = None,
    name: Annotated[str | None, typer.Option(help="Display name of the source.")] = None,
    language: Annotated[str | None, typer.Option(help="Language the source declares.")] = None,
) -> None:
    """Read one feed once and produce its entries to news.raw."""
    from connectors.feed import FeedError, parse_feed, read_feed
    from connectors.feedlist import FeedConfig, slug
    from connectors.produce import DeliveryError, make_producer, produce
    from pipeline.topics import ensure_topics

    settings = command_settings()
    log = logs.get("vigie.ingest")
    try:
        source = FeedConfig.at(location, feed_id or slug(location), name=name, language=language)
    except ValueError as exc:
        raise failure(f"bad feed options: {exc}") from exc
    try:
        parsed = parse_feed(read_feed(location), source)
    except FeedError as exc:
        log.error("feed_unreadable", feed=source.id, reason=str(exc))
        raise failure(f"cannot read feed: {exc}") from exc
    for warning in parsed.warnings:
        log.warning("feed_warning", feed=source.id, reason=warning)
    ensure_topics(settings)
    producer = make_producer(settings.kafka_bootstrap_servers)
    try:
        sent = produce(producer, settings.topic_raw, parsed.articles)
    except DeliveryError as exc:
        raise failure(str(exc)) from exc
    finally:
        producer.close()
    for article in parsed.articles:
        typer.echo(f"{article.id}  {article.title}")
    typer.echo(f"{sent} articles produced to {settings.topic_raw}")


@app.command()
def enrich(
    source: Annotated[str, typer.Argument(help="Plain text or article JSON file; - for stdin.")],
    language: Annotated[
        str | None, typer.Option(help="Language the source declares (plain text only).")
    ] = None,
) -> None:
    """Enrich one text or article and print the result as JSON: why it got its tags."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from pipeline.enrich import Enricher
    from vigie.article import Article, article_id

    settings = command_settings()
    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise failure(f"cannot read {source}: {exc.strerror or exc}") from exc
    text = raw.decode("utf-8", errors="replace")
    try:
        given = json.loads(text)
    except ValueError:
        given = None
    location = "stdin" if source == "-" else source
    defaults = {
        "id": article_id(f"file:{location}"),
        "url": location,
        "canonical_url": location,
        "source": {"feed_id": "cli", "language_hint": language},
        "title": "",
        "fetched_at": datetime.now(UTC),
    }
    try:
        if isinstance(given, dict):
            article = Article.model_validate({**defaults, **given})
        else:
            article = Article.model_validate({**defaults, "body": text})
    except ValidationError as exc:
        raise failure(f"{source} is not an article: {exc}") from exc
    result = Enricher.from_settings(settings).enrich(article)
    typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))


@app.command()
def worker(
    exit_after: Annotated[
        int | None,
        typer.Option(help="Stop cleanly after indexing this many articles (replays, demos)."),
    ] = None,
) -> None:
    """Run the stream worker (agents enrich and index) until SIGTERM or Ctrl+C."""
    from faust.worker import Worker

    from pipeline.app import create_app
    from pipeline.enrich import Enricher
    from pipeline.search.engine import SearchEngineError, connect
    from pipeline.search.templates import SetupError, setup
    from pipeline.topics import ensure_topics

    settings = command_settings()
    log = logs.get("vigie.worker")
    ensure_topics(settings)
    engine = connect(settings)
    try:
        for line in setup(engine, settings):
            log.info("search_setup", done=line)
        load_alert_rules(engine, settings)
    except SetupError as exc:
        raise failure(str(exc)) from exc
    except SearchEngineError as exc:  # the index agent sets up once the engine answers
        log.warning("search_setup_deferred", error=str(exc))
    faust_app = create_app(
        settings, enricher=Enricher.from_settings(settings), engine=engine, exit_after=exit_after
    )
    try:
        Worker(
            faust_app,
            loglevel=settings.log_level,
            logging_config=logs.logging_config(settings.log_level),
            quiet=True,
            redirect_stdouts=False,
        ).execute_from_commandline()
    finally:
        engine.close()


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


@app.command()
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
    """Search indexed articles; print title, language, date and link."""
    from pipeline.search.engine import SearchEngineError, connect
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
                    raise failure(f"search failed: {exc}") from exc
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
            typer.echo(
                f"{doc.get('title')}\n  [{doc.get('language')}] {date}  {doc.get('canonical_url')}"
            )
        if result and result.total > len(hits):
            typer.echo(f"({result.total} articles match; {len(hits)} shown)")
        if top_tags:
            typer.echo("top tags: " + ", ".join(f"{b['key']} ({b['doc_count']})" for b in buckets))
    if not hits:
        typer.echo(f"no article matches {query or 'the filters'!r}", err=True)
        sys.exit(1)


def load_alert_rules(engine: object, settings: Settings) -> None:
    """Rules index and deliveries index, and the rules of config/alerts.yaml (the
    invalid ones are logged with file, rule and field; the valid ones load)."""
    from pipeline.alerts.dispatch import DELIVERIES_MAPPING
    from pipeline.alerts.rules import load_rules
    from pipeline.alerts.store import RuleStore
    from pipeline.search.engine import SearchEngine

    assert isinstance(engine, SearchEngine)
    log = logs.get("vigie.alerts")
    store = RuleStore(engine, settings)
    store.setup()
    if not engine.index_exists(settings.index_deliveries):
        engine.create_index(settings.index_deliveries, DELIVERIES_MAPPING)
    rules, errors = load_rules(settings.config_dir / "alerts.yaml")
    for error in errors:
        log.error("alert_rule_invalid", reason=str(error))
    for rule in rules:
        store.put(rule)
    log.info("alert_rules_loaded", count=len(rules), invalid=len(errors))


def main() -> None:
    app()
