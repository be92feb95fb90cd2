"""Integrations with outside systems: the Prometheus metrics exporter."""
