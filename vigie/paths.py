"""Where Vigie's files are: the data it ships, the operator's files, its state.

Three kinds of files, three places:

- what Vigie ships (taxonomy, boilerplate lines, index mapping, Kibana objects):
  package data in `vigie/data/`, read through importlib.resources, so a wheel
  install has them as much as a checkout does;
- the operator's files (settings YAML, feed list, alert rules): `config/` in a
  checkout, where they are versioned with the code; elsewhere, the Vigie home;
- what Vigie writes (the connector's state, the worker's local data): the Vigie
  home, `VIGIE_HOME`, by default `var/` in a checkout and the platform's user
  data directory otherwise (`~/.local/share/vigie` on Linux).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

# The folder holding vigie/: a checkout's root, or site-packages once installed.
_ROOT = Path(__file__).resolve().parents[1]


def checkout() -> Path | None:
    """The source checkout Vigie runs from (an editable install, PYTHONPATH), or None
    once installed as a wheel, where the folder above the package is site-packages."""
    return _ROOT if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "config").is_dir() else None


def package_data() -> Path:
    """The data Vigie ships (`vigie/data/`), as a folder on disk."""
    data = files("vigie") / "data"
    # pip installs wheels unpacked: the package is on disk. A zipped import (zipapp)
    # would need the data extracted first, which Vigie does not do.
    if not isinstance(data, Path) or not data.is_dir():
        raise RuntimeError(f"Vigie's package data is not a folder on disk: {data}")
    return data


def default_home() -> Path:
    """Where state and caches go unless VIGIE_HOME says otherwise."""
    root = checkout()
    if root is not None:
        return root / "var"
    return Path(platformdirs.user_data_dir("vigie", appauthor=False))


def default_cache() -> Path:
    """Where built data worth keeping between starts goes (the gazetteer), unless
    VIGIE_CACHE_DIR says otherwise: `var/cache` in a checkout, the platform's user
    cache folder otherwise (`~/.cache/vigie` on Linux). Not under VIGIE_HOME, so
    tests and benchmarks with homes of their own share one cache."""
    root = checkout()
    if root is not None:
        return root / "var" / "cache"
    return Path(platformdirs.user_cache_dir("vigie", appauthor=False))


def home_from_environment() -> Path:
    """The Vigie home as the environment sets it, before any settings are read (the
    settings file itself is found there when installed)."""
    given = os.environ.get("VIGIE_HOME")
    return Path(given).expanduser() if given else default_home()


def operator_dir(home: Path) -> Path:
    """Where the operator's settings YAML, feed list and alert rules are by default."""
    root = checkout()
    return root / "config" if root is not None else home
