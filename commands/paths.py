"""`vigie paths`: where this Vigie reads and writes its files (vigie/paths.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.common import command_settings, print_json
from vigie import paths as where
from vigie.settings import config_file


def paths(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Where the settings file, feed list, alert rules, shipped data and state are."""
    settings = command_settings()
    checkout = where.checkout()
    rows: list[tuple[str, str, str, Path]] = [
        ("settings_file", "settings file", "VIGIE_CONFIG", config_file()),
        ("feeds_file", "feed list", "VIGIE_FEEDS_FILE", settings.feeds_file),
        ("alerts_file", "alert rules", "VIGIE_ALERTS_FILE", settings.alerts_file),
        ("config_dir", "shipped data", "VIGIE_CONFIG_DIR", settings.config_dir),
        ("home", "home (state)", "VIGIE_HOME", settings.home),
        ("connector_state", "connector state", "VIGIE_CONNECTOR_STATE", settings.connector_state),
        ("worker_data", "worker data", "VIGIE_HOME", settings.home / f"{settings.app_id}-data"),
    ]
    if as_json:
        print_json(
            {
                "checkout": str(checkout) if checkout else None,
                **{
                    key: {"path": str(path), "setting": setting, "exists": path.exists()}
                    for key, _, setting, path in rows
                },
            }
        )
        return
    typer.echo(f"running from {'the checkout ' + str(checkout) if checkout else 'an install'}")
    for _, name, setting, path in rows:
        missing = "" if path.exists() else "  (not there yet)"
        typer.echo(f"{name:<16} {path!s:<60} {setting}{missing}")
