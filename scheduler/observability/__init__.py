"""Metrics and logs: what operators see of a running Kairos process."""
