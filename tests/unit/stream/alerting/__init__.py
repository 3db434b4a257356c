"""Unit tests for ``stream.alerting``."""
