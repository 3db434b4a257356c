"""Kafka plumbing shared by the receiver, the workers and the CLI."""
