"""Feed connectors: fetch, parse and canonicalise feeds, produce articles to Kafka."""
