"""Unit tests of the framework-free detection core."""
