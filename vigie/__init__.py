"""Vigie core: the article schema, settings, logging, local services and the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vigie")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
