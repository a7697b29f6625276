"""The `vigie` command line: one sub-command group per area, each in its module."""

from __future__ import annotations

import typer

from commands.connector import connector_app, ingest
from commands.dlq import dlq_app
from commands.engine import es_app, search
from commands.feeds import feeds_app
from commands.kibana import kibana_app
from commands.services import services_app
from commands.worker import enrich, worker

app = typer.Typer(
    help="Vigie: streaming news monitor (feeds -> Kafka -> enrichment -> search index).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(services_app, name="services")
app.add_typer(es_app, name="es")
app.add_typer(kibana_app, name="kibana")
app.add_typer(feeds_app, name="feeds")
app.add_typer(connector_app, name="connector")
app.add_typer(dlq_app, name="dlq")
for command in (ingest, enrich, worker, search):
    app.command()(command)


def main() -> None:
    app()
