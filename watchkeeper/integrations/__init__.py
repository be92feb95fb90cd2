"""Integrations with outside systems: Prometheus metrics, MQTT and signed outbound webhooks.

MQTT publishes Home Assistant discovery. These are backends: they consume the bus and the stores, and stages
never import them.
"""
