"""Alerting: rules matched by the percolator, webhooks delivered once."""
