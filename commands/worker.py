"""`vigie worker` and `vigie enrich`: the stream worker, and one article through
its enrichment."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from commands.common import command_settings, debugging, failure
from vigie import logs


def enrich(
    source: Annotated[str, typer.Argument(help="Plain text or article JSON file; - for stdin.")],
    language: Annotated[
        str | None, typer.Option(help="Language the source declares (plain text only).")
    ] = None,
) -> None:
    """Enrich one text or article and print the result as JSON: why it got its tags."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from pipeline.enrichment.enrich import Enricher
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


def worker(
    exit_after: Annotated[
        int | None,
        typer.Option(help="Stop cleanly after indexing this many articles (replays, demos)."),
    ] = None,
) -> None:
    """Run the stream worker (enrich, index, match, deliver) until SIGTERM or Ctrl+C."""
    from pipeline.search.clients import connect
    from pipeline.search.engine import SearchEngineError
    from pipeline.search.templates import Indices, SetupError
    from pipeline.stream.app import Worker, create_app
    from pipeline.stream.enrichpool import enrichment
    from pipeline.stream.indices import EngineSetup
    from pipeline.stream.topics import TopicsUnavailable, ensure_topics

    settings = command_settings()
    log = logs.get("vigie.worker")
    try:
        ensure_topics(settings)
    except TopicsUnavailable as exc:
        raise failure(f"cannot start the worker: {exc}") from exc
    engine = connect(settings)
    engine_setup = EngineSetup(
        engine,
        Indices.from_settings(settings),
        settings.config_dir,
        settings.alerts_file,
    )
    try:
        engine_setup.run()
    except SetupError as exc:
        raise failure(str(exc)) from exc
    except SearchEngineError as exc:  # done before the first batch, once the engine answers
        log.warning("search_setup_deferred", error=str(exc))
    faust_app = create_app(
        settings,
        enrichment=enrichment(settings),
        engine=engine,
        engine_setup=engine_setup,
        exit_after=exit_after,
    )
    # Faust's own local data goes to the Vigie home, not the current folder.
    settings.home.mkdir(parents=True, exist_ok=True)
    faust_app.conf.datadir = settings.home / f"{settings.app_id}-data"
    # Faust's own start (a hundred lines) is logged at DEBUG only: say what starts.
    log.info(
        "worker_starting",
        reads=settings.topic_raw,
        index=settings.index_articles,
        web=f"{settings.web_host}:{settings.web_port}",
    )
    level = "DEBUG" if debugging() else settings.log_level
    try:
        Worker(
            faust_app,
            loglevel=level,
            logging_config=logs.logging_config(level, settings.log_format),
            quiet=True,
            redirect_stdouts=False,
        ).execute_from_commandline()
    finally:
        engine.close()
