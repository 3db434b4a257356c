"""The three DynamoDB tables, defined once: created at start-up and exported to CloudFormation.

* ``<prefix>-scores``: one item per series, time bucket and chunk (see :mod:`.buckets`).
  Key ``pk`` = ``"<tenant>#<series id hex>"``, ``sk`` = ``"<bucket start ms, 13 digits>#<chunk,
  5 digits>"``; TTL attribute ``expires_at``.
* ``<prefix>-alerts``: one item per alert state change. Key ``pk`` = ``"<tenant>#<dedup_key>"``,
  ``sk`` = state (``FIRING`` / ``RESOLVED``), so one episode's changes share a partition and a
  replay rewrites the same items. GSI ``by-series`` (``series``, ``event_at``) and GSI
  ``by-time`` (``tenant_day`` = ``"<tenant>#YYYY-MM-DD"``, ``event_at``); TTL ``expires_at``.
* ``<prefix>-alert-configs``: routes per tenant and the tenant's controls (range keys
  ``control#...``, see :mod:`.controls`). Key ``tenant``, ``route_id``.

All on-demand (``PAY_PER_REQUEST``).

Examples
--------
>>> table_names("acme")
['acme-scores', 'acme-alerts', 'acme-alert-configs']
>>> sorted(cloudformation_template()["Resources"])
['AlertConfigsTable', 'AlertsTable', 'ScoresTable']
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream.storage.dynamodb import DynamoDBClient, create_table_if_missing

__all__ = [
    "ALERTS_BY_SERIES_INDEX",
    "ALERTS_BY_TIME_INDEX",
    "DEFAULT_PREFIX",
    "TABLES",
    "TEMPLATE_PATH",
    "TableSpec",
    "cloudformation_template",
    "create_tables",
    "table_names",
    "template_json",
]

DEFAULT_PREFIX = "ai-devops-platform"
ALERTS_BY_SERIES_INDEX = "by-series"
ALERTS_BY_TIME_INDEX = "by-time"
TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "deploy" / "dynamodb" / "tables.json"


@dataclass(frozen=True)
class TableSpec:
    """One table: its suffix, keys, global secondary indexes and TTL attribute."""

    suffix: str
    logical_id: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str]
    indexes: tuple[tuple[str, tuple[str, str], tuple[str, str]], ...] = field(default=())
    ttl_attribute: str | None = None

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.suffix}"

    def create_table_kwargs(self, prefix: str) -> dict[str, Any]:
        """Arguments for ``CreateTable``; CloudFormation uses the same pieces."""
        attrs = {self.hash_key, self.range_key}
        for _, h, r in self.indexes:
            attrs |= {h, r}
        kwargs: dict[str, Any] = {
            "TableName": self.name(prefix),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in sorted(attrs)
            ],
            "KeySchema": [
                {"AttributeName": self.hash_key[0], "KeyType": "HASH"},
                {"AttributeName": self.range_key[0], "KeyType": "RANGE"},
            ],
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": name,
                    "KeySchema": [
                        {"AttributeName": h[0], "KeyType": "HASH"},
                        {"AttributeName": r[0], "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for name, h, r in self.indexes
            ]
        return kwargs


SCORES = TableSpec("scores", "ScoresTable", ("pk", "S"), ("sk", "S"), ttl_attribute="expires_at")
ALERTS = TableSpec(
    "alerts",
    "AlertsTable",
    ("pk", "S"),
    ("sk", "S"),
    indexes=(
        (ALERTS_BY_SERIES_INDEX, ("series", "S"), ("event_at", "N")),
        (ALERTS_BY_TIME_INDEX, ("tenant_day", "S"), ("event_at", "N")),
    ),
    ttl_attribute="expires_at",
)
ALERT_CONFIGS = TableSpec("alert-configs", "AlertConfigsTable", ("tenant", "S"), ("route_id", "S"))
TABLES = (SCORES, ALERTS, ALERT_CONFIGS)


def table_names(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Names of the scores, alerts and alert-configs tables, in that order."""
    return [spec.name(prefix) for spec in TABLES]


def create_tables(client: DynamoDBClient, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Create the tables that do not exist yet (and their TTL); return the names created.

    Idempotent: ``aidevops dynamodb init`` and every start-up call it.
    """
    created = []
    for spec in TABLES:
        if create_table_if_missing(client, spec.create_table_kwargs(prefix), spec.ttl_attribute):
            created.append(spec.name(prefix))
    return created


def cloudformation_template() -> dict[str, Any]:
    """An AWS CloudFormation template with the same tables; ``TablePrefix`` is a parameter."""
    resources: dict[str, Any] = {}
    for spec in TABLES:
        props = spec.create_table_kwargs("${TablePrefix}")
        props["TableName"] = {"Fn::Sub": props["TableName"]}
        if spec.ttl_attribute:
            props["TimeToLiveSpecification"] = {
                "AttributeName": spec.ttl_attribute,
                "Enabled": True,
            }
        resources[spec.logical_id] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": props,
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "AI DevOps Platform tables (generated by python -m stream.storage.tables).",
        "Parameters": {
            "TablePrefix": {
                "Type": "String",
                "Default": DEFAULT_PREFIX,
                "Description": "Same as AIDEVOPS_DYNAMODB_TABLE_PREFIX.",
            }
        },
        "Resources": resources,
        "Outputs": {spec.logical_id: {"Value": {"Ref": spec.logical_id}} for spec in TABLES},
    }


def template_json() -> str:
    """The template as the exact text of ``deploy/dynamodb/tables.json``."""
    return json.dumps(cloudformation_template(), indent=2) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the deploy file
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE_PATH
    target.write_text(template_json())
    print(f"wrote {target}")
