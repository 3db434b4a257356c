"""docker-compose.yml is valid against the Compose Specification (no engine runs here)."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.compose_schema import compose_schema

pytestmark = pytest.mark.integration

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_compose_file_follows_the_compose_specification() -> None:
    validator = jsonschema.Draft201909Validator(compose_schema())
    document = yaml.safe_load(COMPOSE.read_text())
    assert [error.message for error in validator.iter_errors(document)] == []
    # The check can fail: a service with a malformed field is reported.
    broken = copy.deepcopy(document)
    broken["services"]["receiver"]["ports"] = "9201"
    assert list(validator.iter_errors(broken))


def test_compose_runs_the_parts_of_the_design() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "kafka",
        "dynamodb",
        "receiver",
        "worker-1",
        "worker-2",
        "prometheus",
        "node-exporter",
        "grafana",
    } <= set(services)
    assert services["receiver"]["command"] == ["receiver"]
    assert services["worker-2"]["command"] == ["worker"]
