"""Stream processing: the Faust app, its agents, enrichment and the search engine."""
