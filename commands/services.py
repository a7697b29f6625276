"""`vigie services ...`: the local Kafka and search engine (services/local.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from commands.common import command_settings, failure, print_json

services_app = typer.Typer(help="Local Kafka and search engine (no Docker needed).")


@services_app.command("up")
def services_up() -> None:
    """Fetch (first time), start and wait for Kafka and the search engine."""
    from services import local as services
    from vigie.paths import checkout

    settings = command_settings()
    if checkout() is None:  # the Maven poms and the launcher are not in the package
        raise failure(
            "`vigie services up` runs from a checkout; installed, use docker compose "
            "(README, With Docker) or your own Kafka and search engine"
        )
    for service in services.local_services(settings):
        try:
            typer.echo(services.start(service))
        except services.ServiceError as exc:
            raise failure(str(exc)) from exc


@services_app.command("down")
def services_down() -> None:
    """Stop the local services started by `vigie services up`."""
    from services import local as services

    for service in services.local_services(command_settings()):
        typer.echo(services.stop(service))


@services_app.command("status")
def services_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Say whether each local service answers."""
    from services import local as services

    known = services.local_services(command_settings())
    if as_json:
        print_json([services.status_of(service) for service in known])
        return
    for service in known:
        typer.echo(services.status(service))
