"""deploy/terraform agrees with the code: it parses, its tables are the code's tables, its IAM
grants are the calls the code makes, its settings are settings.

Offline: HCL is parsed with python-hcl2 (``terraform validate`` needs the providers, which
cannot be downloaded here). checkov runs in tests/integration/test_terraform.py.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from aidevops.settings import ENV_PREFIX, KafkaSettings
from cli.main import PROCESS_SETTINGS
from stream.notifier.settings import NotifierSettings
from stream.sink.settings import SinkSettings
from stream.storage.tables import TEMPLATE_PATH
from stream.worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "deploy/terraform"
FILES = sorted(TERRAFORM.glob("*.tf"))


def _load(name: str) -> dict[str, Any]:
    with (TERRAFORM / name).open() as file:
        document: dict[str, Any] = _unquote(hcl2.load(file))
    return document


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals: strip them, recursively."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    return value


def _locals(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in _load(name).get("locals", []):
        merged.update(block)
    return merged


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_tables", TERRAFORM / "generate_tables.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_parses(path: Path) -> None:
    assert _load(path.name)


def test_the_stack_has_every_part_the_design_asks_for() -> None:
    resources: dict[str, set[str]] = {}
    for path in FILES:
        for block in _load(path.name).get("resource", []):
            for kind, named in block.items():
                resources.setdefault(kind, set()).update(named)
    for kind in (
        "aws_vpc",
        "aws_msk_cluster",
        "aws_ecs_cluster",
        "aws_ecs_service",
        "aws_appautoscaling_policy",
        "aws_lb",
        "aws_lb_listener",
        "aws_s3_bucket",
        "aws_secretsmanager_secret",
        "aws_cloudwatch_log_group",
        "aws_iam_role",
    ):
        assert kind in resources, kind
    services = _locals("ecs.tf")["services"]
    assert set(services) == {"receiver", "worker", "sink", "notifier", "api"}
    assert {s["command"] for s in services.values()} == {
        "receiver",
        "worker",
        "sink",
        "notify",
        "api",
    }
    listener = _load("alb.tf")["resource"]
    https = next(b["aws_lb_listener"]["https"] for b in listener if "aws_lb_listener" in b)
    assert https["protocol"] == "HTTPS"


def test_the_tables_are_generated_from_the_code() -> None:
    generator = _generator()
    assert (TERRAFORM / "dynamodb.tf.json").read_text() == generator.render(), (
        "run .venv/bin/python deploy/terraform/generate_tables.py"
    )


def test_the_terraform_tables_match_the_cloudformation_template() -> None:
    """Checked against deploy/dynamodb/tables.json, independently of the generator."""
    terraform = json.loads((TERRAFORM / "dynamodb.tf.json").read_text())
    tables = terraform["resource"]["aws_dynamodb_table"]
    template = json.loads(TEMPLATE_PATH.read_text())["Resources"]
    assert len(tables) == len(template)
    for resource in template.values():
        props = resource["Properties"]
        suffix = props["TableName"]["Fn::Sub"].removeprefix("${TablePrefix}-")
        table = tables[suffix.replace("-", "_")]
        assert table["name"] == "${var.table_prefix}-" + suffix
        assert table["billing_mode"] == props["BillingMode"]
        keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        assert (table["hash_key"], table["range_key"]) == (keys["HASH"], keys["RANGE"])
        assert sorted((a["name"], a["type"]) for a in table["attribute"]) == sorted(
            (a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]
        )
        indexes = {
            i["IndexName"]: (i["KeySchema"][0]["AttributeName"], i["KeySchema"][1]["AttributeName"])
            for i in props.get("GlobalSecondaryIndexes", [])
        }
        assert {
            i["name"]: (i["hash_key"], i["range_key"])
            for i in table.get("global_secondary_index", [])
        } == indexes
        ttl = props.get("TimeToLiveSpecification")
        assert table.get("ttl", [{}])[0].get("attribute_name") == (ttl or {}).get("AttributeName")


def _dynamodb_calls() -> set[str]:
    """IAM actions of the DynamoDB client methods the storage code declares and calls."""
    source = (ROOT / "stream/storage/dynamodb.py").read_text()
    protocol = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "DynamoDBClient"
    )
    methods = {f.name for f in protocol.body if isinstance(f, ast.FunctionDef)} - {"close"}
    scores = (ROOT / "stream/storage/scores.py").read_text()
    methods |= set(re.findall(r'_call\("(\w+)"', scores))  # e.g. the bounded Scan
    return {"dynamodb:" + (m if m[0].isupper() else _camel(m)) for m in methods}


# What no task does: Terraform creates the tables and their TTL (the tasks run with
# AIDEVOPS_DYNAMODB_CREATE_TABLES=false); recipients and controls are added and removed by an
# operator's `aidevops alerts recipients` / `aidevops controls`. (The stored series are
# listed with a Scan by `aidevops series`; the workers' Scan reads the controls.)
OPERATOR_ONLY = {
    "dynamodb:CreateTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
}


def test_dynamodb_grants_are_the_calls_the_code_makes_on_these_tables_only() -> None:
    access = _locals("iam.tf")["dynamodb_access"]
    writes = _locals("iam.tf")["dynamodb_writes"]
    granted = {
        action for grant in [*access.values(), *writes.values()] for action in grant["actions"]
    }
    called = _dynamodb_calls()
    assert "dynamodb:BatchWriteItem" in called and "dynamodb:Query" in called
    assert granted <= called, "a grant the code never uses"
    assert called - OPERATOR_ONLY <= granted, "a call no task may make"
    tables = json.loads((TERRAFORM / "dynamodb.tf.json").read_text())["resource"]
    names = set(tables["aws_dynamodb_table"])
    assert {t for grant in [*access.values(), *writes.values()] for t in grant["tables"]} <= names
    # Writers and readers as the processes are: the sink writes scores and alerts; the
    # console (api) writes alert routes only, the notifier its delivery records only.
    assert "dynamodb:BatchWriteItem" in access["sink"]["actions"]
    assert not {a for p in ("api", "notifier") for a in access[p]["actions"]} & {
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    assert writes["api"]["tables"] == ["alert_configs"]
    assert writes["notifier"] == {"tables": ["alerts"], "actions": ["dynamodb:BatchWriteItem"]}
    # The workers read the controls of the alert-configs table, nothing else.
    assert access["worker"] == {"tables": ["alert_configs"], "actions": ["dynamodb:Scan"]}
    environment = _locals("main.tf")["common_environment"]
    assert "AIDEVOPS_DYNAMODB_CREATE_TABLES" in json.dumps(environment)


def test_s3_grants_are_the_calls_the_snapshot_code_makes() -> None:
    source = (ROOT / "stream/worker/snapshots.py").read_text()
    called = {"s3:" + _camel(m) for m in re.findall(r"\.(get_object|put_object)\(", source)}
    assert set(_locals("iam.tf")["snapshot_actions"]) == called == {"s3:GetObject", "s3:PutObject"}


def test_iam_resources_are_this_stacks_only() -> None:
    text = (TERRAFORM / "iam.tf").read_text()
    wildcards = [line for line in text.splitlines() if re.search(r'resources\s*=\s*\["\*"\]', line)]
    assert len(wildcards) == 1 and "no resource-level permissions" in wildcards[0]
    assert "ecr:GetAuthorizationToken" in text.split(wildcards[0])[0].rsplit("statement", 1)[1]


def test_kafka_names_are_the_codes_defaults() -> None:
    names = _locals("main.tf")
    assert names["topics"] == {
        "samples": KafkaSettings.model_fields["samples_topic"].default,
        "scores": KafkaSettings.model_fields["scores_topic"].default,
        "alerts": KafkaSettings.model_fields["alerts_topic"].default,
        "checkpoint": WorkerSettings.model_fields["checkpoint_topic"].default,
    }
    assert names["groups"] == {
        "worker": WorkerSettings.model_fields["worker_group"].default,
        "sink": SinkSettings.model_fields["sink_group_id"].default,
        "notifier": NotifierSettings.model_fields["notify_group_id"].default,
    }


def test_every_variable_the_tasks_get_is_a_setting() -> None:
    known = {ENV_PREFIX + n.upper() for s in PROCESS_SETTINGS.values() for n in s.model_fields}
    text = "".join(p.read_text() for p in FILES)
    used = set(re.findall(r"\b(AIDEVOPS_[A-Z0-9_]+)\s*=", text))
    used |= set(re.findall(r'name = "(AIDEVOPS_[A-Z0-9_]+)"', text))
    assert "AIDEVOPS_KAFKA_SASL_MECHANISM" in used and "AIDEVOPS_SNAPSHOT_URL" in used
    assert used - known == set()


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt_is_clean() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-no-color", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
