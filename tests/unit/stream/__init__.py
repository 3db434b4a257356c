"""Unit tests of the stream workers."""
