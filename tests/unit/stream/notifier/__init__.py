"""Unit tests for ``stream.notifier``."""
