"""What every `vigie` command starts and fails with."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import typer

from vigie import logs
from vigie.settings import Settings, load_settings


@dataclass
class Options:
    """The `vigie` group's own options, set by its callback at every invocation."""

    debug: bool = False  # library logs, and tracebacks instead of one line


OPTIONS = Options()


def debugging() -> bool:
    return OPTIONS.debug


def command_settings() -> Settings:
    """The settings, with logging configured from them (and from --debug). A bad
    setting raises SettingsError, which the `vigie` group says in one line."""
    settings = load_settings()
    logs.configure("DEBUG" if debugging() else settings.log_level, settings.log_format)
    return settings


def feed_list(settings: Settings) -> typer.Exit | None:
    """The error to raise when the feed list is not there (a configuration error)."""
    if settings.feeds_file.is_file():
        return None
    return failure(
        f"configuration: VIGIE_FEEDS_FILE: no feed list at {settings.feeds_file} (write one, "
        "README config/feeds.yaml, or add an OPML list: vigie feeds import FILE.opml)",
        code=2,
    )


def failure(message: str, code: int = 1) -> typer.Exit:
    """Say what went wrong in red on stderr; raise the result to exit with `code`.
    Called while handling an exception, with `vigie --debug`, its traceback first."""
    if debugging() and sys.exc_info()[0] is not None:
        traceback.print_exc()
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


def print_json(value: Any) -> None:
    """One JSON document on stdout (the `--json` form of a command's table)."""
    typer.echo(json.dumps(value, ensure_ascii=False))
