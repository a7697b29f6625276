"""What every `vigie` command starts and fails with."""

from __future__ import annotations

import typer

from vigie import logs
from vigie.settings import Settings, load_settings


def command_settings() -> Settings:
    """The settings, with logging configured from them."""
    settings = load_settings()
    logs.configure(settings.log_level)
    return settings


def failure(message: str) -> typer.Exit:
    """Say what went wrong in red on stderr; raise the result to exit 1."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)
