"""Operator commands on the stored data: ``aidevops dynamodb init`` and ``aidevops scores``."""

from __future__ import annotations

import json
import time

from stream.storage.settings import StorageSettings
from stream.storage.store import (
    Storage,
    client_from_settings,
    format_scores,
    parse_series_id,
    parse_time,
)
from stream.storage.tables import create_tables

__all__ = ["dynamodb_init", "print_scores"]


def dynamodb_init(settings: StorageSettings) -> list[str]:
    """Create the tables that are missing; return every table name."""
    return create_tables(client_from_settings(settings), settings.dynamodb_table_prefix)


def print_scores(
    settings: StorageSettings, series: str, since: str, until: str, tenant: str, as_json: bool
) -> str:
    """A series' stored scores and recent alerts, as text or JSON."""
    now = int(time.time() * 1000)
    # Check the arguments before connecting: bad input gets its own clear error.
    series_id, start, end = parse_series_id(series), parse_time(since, now), parse_time(until, now)
    storage = Storage.from_settings(settings)
    try:
        report = storage.series_report(series_id, start, end, tenant)
    finally:
        storage.close()
    return json.dumps(report) if as_json else format_scores(report)
