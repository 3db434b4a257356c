"""Unit tests for ``stream.notify``."""
