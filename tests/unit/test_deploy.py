"""The deployment files agree with the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from aidevops.settings import ENV_PREFIX
from cli.main import PROCESS_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {
    ENV_PREFIX + name.upper()
    for settings in PROCESS_SETTINGS.values()
    for name in settings.model_fields
}


def test_every_variable_the_compose_file_sets_is_a_setting() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    used = {
        name
        for service in compose["services"].values()
        for name in (service.get("environment") or {})
        if name.startswith(ENV_PREFIX)
    }
    assert used, "the services are configured through AIDEVOPS_ variables"
    assert used - KNOWN == set()


def test_prometheus_config_has_the_one_remote_write_line_and_scrapes_workers() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert config["remote_write"] == [{"url": "http://receiver:9201/api/v1/write"}]
    workers = next(j for j in config["scrape_configs"] if j["job_name"] == "aidevops-workers")
    assert workers["honor_labels"] is True
