"""The `vigie` command line: one sub-command group per area, each in its module."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import vigie
from commands.common import OPTIONS
from commands.connector import connector_app, ingest
from commands.dlq import dlq_app
from commands.engine import es_app, search, stories
from commands.feeds import feeds_app
from commands.kibana import kibana_app
from commands.paths import paths
from commands.services import services_app
from commands.worker import enrich, worker
from vigie.settings_errors import SettingsError

# Exit codes (the README lists them): 1 a failure (a service unreachable, a feed
# unreadable, ...), 2 a usage or configuration error (as click's usage errors).
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _unreachable() -> tuple[type[BaseException], ...]:
    """Errors saying Kafka or the search engine did not answer: imported only when
    something failed, since the clients are slow to import."""
    from kafka.errors import KafkaError

    from connectors.produce import DeliveryError
    from pipeline.search.engine import SearchEngineError
    from pipeline.stream.topics import TopicsUnavailable

    return (KafkaError, SearchEngineError, TopicsUnavailable, DeliveryError, ConnectionError)


def _misconfigured() -> tuple[type[BaseException], ...]:
    """Errors in what the operator configured beyond the settings themselves: the
    taxonomy of VIGIE_CONFIG_DIR, a spaCy model VIGIE_NER_MODELS names."""
    from pipeline.enrichment.gazetteer import TaxonomyError
    from pipeline.enrichment.ner import NerUnavailable

    return (TaxonomyError, NerUnavailable)


class VigieGroup(TyperGroup):
    """Says in one line what an operator can fix: a bad setting or taxonomy (exit 2),
    Kafka or the engine unreachable (exit 1). `vigie --debug` keeps the traceback."""

    # `Any`: the Context class is click's, or typer's own copy of click (typer >= 0.2x).
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            for problem in exc.problems:
                typer.secho(f"configuration: {problem}", fg=typer.colors.RED, err=True)
            raise typer.Exit(EXIT_CONFIG) from exc
        except Exception as exc:
            if OPTIONS.debug:
                raise
            if isinstance(exc, _misconfigured()):
                typer.secho(f"configuration: {exc}", fg=typer.colors.RED, err=True)
                raise typer.Exit(EXIT_CONFIG) from exc
            if not isinstance(exc, _unreachable()):
                raise
            reason = " ".join(str(exc).split()) or type(exc).__name__
            typer.secho(f"unreachable: {reason}", fg=typer.colors.RED, err=True)
            raise typer.Exit(EXIT_FAILURE) from exc


app = typer.Typer(
    cls=VigieGroup,
    help="Vigie: streaming news monitor (feeds -> Kafka -> enrichment -> search index).",
    no_args_is_help=True,
    add_completion=False,
    # A traceback must not print local variables: some hold credentials.
    pretty_exceptions_show_locals=False,
)
app.add_typer(services_app, name="services")
app.add_typer(es_app, name="es")
app.add_typer(kibana_app, name="kibana")
app.add_typer(feeds_app, name="feeds")
app.add_typer(connector_app, name="connector")
app.add_typer(dlq_app, name="dlq")
for command in (ingest, enrich, worker, search, stories, paths):
    app.command()(command)


def _version(given: bool) -> None:
    if given:
        typer.echo(f"vigie {vigie.__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Log everything, libraries too; keep tracebacks."),
    ] = False,
) -> None:
    OPTIONS.debug = debug


def main() -> None:
    app()
