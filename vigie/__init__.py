"""Vigie core: the article schema, settings, logging, local services and the CLI."""
