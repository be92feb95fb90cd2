"""Incidents: taxonomy, workflow, correlation, escalation and the alarm sources that open them."""
