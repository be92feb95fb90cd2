"""Watchkeeper package."""
