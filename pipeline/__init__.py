"""The stream side, in two halves: enrichment (`enrichment/`, plain functions) and
the worker with its sinks (`stream/`, `search/`, `alerts/`)."""
