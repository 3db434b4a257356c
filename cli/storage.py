"""Operator commands on the stored data: ``dynamodb init``, ``scores`` and ``series``."""

from __future__ import annotations

import json
import time

from cli.series import format_listing, list_series, parse_selector, resolve_series
from stream.storage.settings import StorageSettings
from stream.storage.store import (
    Storage,
    client_from_settings,
    format_scores,
    parse_time,
)
from stream.storage.tables import create_tables, table_names

__all__ = ["dynamodb_init", "print_scores", "print_series"]


def dynamodb_init(settings: StorageSettings) -> list[str]:
    """Create the tables that are missing: one line per table, created or already there."""
    client = client_from_settings(settings)
    try:
        created = set(create_tables(client, settings.dynamodb_table_prefix))
    finally:
        client.close()
    return [
        f"{name}\t{'created' if name in created else 'already existed'}"
        for name in table_names(settings.dynamodb_table_prefix)
    ]


def print_scores(
    settings: StorageSettings, series: str, since: str, until: str, tenant: str, as_json: bool
) -> str:
    """A series' stored scores and recent alerts, as text or JSON.

    ``series`` is an id or a Prometheus selector (:mod:`cli.series`).
    """
    now = int(time.time() * 1000)
    # Check the arguments before connecting: bad input gets its own clear error.
    parse_selector(series)
    start, end = parse_time(since, now), parse_time(until, now)
    storage = Storage.from_settings(settings)
    try:
        series_id = resolve_series(storage.scores, series, tenant)
        report = storage.series_report(series_id, start, end, tenant)
    finally:
        storage.close()
    return json.dumps(report) if as_json else format_scores(report)


def print_series(
    settings: StorageSettings, selector: str | None, tenant: str | None
) -> tuple[list[str], str | None]:
    """Stored series matching ``selector``: (lines, a note when the listing is partial)."""
    parsed = parse_selector(selector) if selector else None
    storage = Storage.from_settings(settings)
    try:
        listing = list_series(storage.scores, parsed, tenant)
    finally:
        storage.close()
    note = None
    if not listing.complete:
        note = (
            f"the listing stopped after reading {listing.items_read} items of the scores "
            "table (it has no index by tenant): it may be incomplete"
        )
    return format_listing(listing), note
