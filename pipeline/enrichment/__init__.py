"""Enrichment: what an article gets (clean text, languages, entities, tags,
near-duplicate links), as plain functions the `enrich` stage calls."""
