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
    # The check can fail: a service with a malformed field is reported, and so is a health
    # check or a restart policy of the wrong shape.
    for service, field, value in [
        ("receiver", "ports", "9201"),
        ("sink", "healthcheck", {"test": ["CMD", "true"], "every": "5s"}),
        ("notifier", "restart", ["always"]),
    ]:
        broken = copy.deepcopy(document)
        broken["services"][service][field] = value
        assert list(validator.iter_errors(broken)), (service, field)


def test_compose_runs_the_parts_of_the_design() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "kafka",
        "dynamodb",
        "receiver",
        "worker-1",
        "worker-2",
        "sink",
        "notifier",
        "api",
        "prometheus",
        "node-exporter",
        "grafana",
    } <= set(services)
    assert services["receiver"]["command"] == ["receiver"]
    assert services["worker-2"]["command"] == ["worker"]
    assert services["sink"]["command"] == ["sink"]
    assert services["notifier"]["command"] == ["notify"]
    assert services["api"]["command"] == ["api"]
    # Every long-running service restarts by itself; the one-shot volume fix does not.
    for name, spec in services.items():
        expected = "no" if name == "dynamodb-volume-owner" else "unless-stopped"
        assert spec.get("restart") == expected, name
