"""The deployment files agree with the code and with each other."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from aidevops.settings import ENV_PREFIX
from cli.main import PROCESS_SETTINGS
from stream.notifier.template import GrafanaLink

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {
    ENV_PREFIX + name.upper()
    for settings in PROCESS_SETTINGS.values()
    for name in settings.model_fields
}
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
TOKEN_FILE = "/run/secrets/aidevops_token"  # where compose mounts the secret aidevops_token
# Each process of the image, its command, and the port its health check asks (None: no port).
PROCESSES = {
    "receiver": ("receiver", "9201"),
    "worker-1": ("worker", "6066"),
    "worker-2": ("worker", "6066"),
    "sink": ("sink", None),
    "notifier": ("notify", None),
    "api": ("api", "9202"),
}


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _named_volumes(service: str) -> dict[str, str]:
    """Mount point -> named volume of ``service`` (bind mounts left out)."""
    out = {}
    for spec in SERVICES[service].get("volumes", []):
        source, target = spec.split(":")[:2]
        if source in COMPOSE.get("volumes", {}):
            out[target] = source
    return out


def test_every_variable_the_compose_file_sets_is_a_setting() -> None:
    used = {
        name
        for service in SERVICES.values()
        for name in (service.get("environment") or {})
        if name.startswith(ENV_PREFIX)
    }
    assert used, "the services are configured through AIDEVOPS_ variables"
    assert used - KNOWN == set()


@pytest.mark.parametrize("service", sorted(PROCESSES))
def test_every_process_runs_with_a_health_check_and_a_restart_policy(service: str) -> None:
    command, port = PROCESSES[service]
    spec = SERVICES[service]
    assert spec["command"] == [command]
    assert spec["restart"] in ("unless-stopped", "always", "on-failure")
    check = " ".join(spec["healthcheck"]["test"])
    assert "aidevops-healthcheck" in check
    if port is not None:
        assert f"127.0.0.1:{port}/" in check
    assert "aidevops-healthcheck" in DOCKERFILE  # the image ships the script the check runs


def test_health_checks_ask_the_endpoints_each_process_serves() -> None:
    assert SERVICES["receiver"]["healthcheck"]["test"][-1].endswith(":9201/readyz")
    assert SERVICES["api"]["healthcheck"]["test"][-1].endswith(":9202/healthz")
    assert SERVICES["worker-2"]["healthcheck"]["test"][-1].endswith(":6066/metrics")
    # Ports other containers reach listen beyond loopback.
    assert _env("worker-1")["AIDEVOPS_WORKER_HOST"] == "0.0.0.0"
    assert _env("worker-2")["AIDEVOPS_WORKER_HOST"] == "0.0.0.0"
    assert _env("api")["AIDEVOPS_API_HOST"] == "0.0.0.0"


def test_the_notifier_sent_log_is_on_a_volume_its_user_can_write() -> None:
    path = Path(_env("notifier")["AIDEVOPS_NOTIFY_SENT_LOG_PATH"])
    assert str(path.parent) in _named_volumes("notifier")
    # A fresh named volume takes the ownership of the image's directory: the image must
    # create it for the non-root user, before switching to that user.
    user = re.search(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user is not None and not user.group(1).startswith(("root", "0"))
    before_user = DOCKERFILE[: user.start()]
    assert f"mkdir -p {path.parent}" in before_user
    assert re.search(rf"chown -R \S+ {path.parent.parent}\b", before_user)
    assert "uid 10001" in before_user and user.group(1).startswith("10001")


def test_dynamodb_local_data_is_on_a_volume_handed_to_its_user() -> None:
    command = SERVICES["dynamodb"]["command"]
    data = command[command.index("-dbPath") + 1]
    volume = _named_volumes("dynamodb")[data]
    owner = SERVICES["dynamodb-volume-owner"]
    assert _named_volumes("dynamodb-volume-owner") == {data: volume}
    assert owner["entrypoint"][:3] == ["chown", "-R", "dynamodblocal"]
    assert owner["entrypoint"][-1] == data
    assert SERVICES["dynamodb"]["depends_on"]["dynamodb-volume-owner"] == {
        "condition": "service_completed_successfully"
    }


def test_kafka_writes_its_log_to_the_mounted_volume() -> None:
    assert SERVICES["kafka"]["environment"]["KAFKA_LOG_DIRS"] in _named_volumes("kafka")


def test_prometheus_scrapes_every_process_that_serves_metrics_with_the_credentials() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    targets = {t for job in jobs.values() for s in job["static_configs"] for t in s["targets"]}
    assert {"receiver:9201", "worker-1:6066", "worker-2:6066"} <= targets
    assert {"receiver", "worker-1", "worker-2"} <= set(SERVICES)
    workers = jobs["aidevops-workers"]
    assert workers["honor_labels"] is True
    assert workers["authorization"] == {"credentials_file": TOKEN_FILE}
    [remote_write] = PROMETHEUS["remote_write"]
    assert remote_write["url"] == "http://receiver:9201/api/v1/write"
    assert remote_write["authorization"] == {"credentials_file": TOKEN_FILE}
    # The platform's own metrics are not sent back to be scored.
    assert remote_write["write_relabel_configs"] == [
        {"source_labels": ["__name__"], "regex": "(anomaly|aidevops)_.*", "action": "drop"}
    ]
    # The file Prometheus reads is the secret the processes read their token from.
    assert "aidevops_token" in SERVICES["prometheus"]["secrets"]
    for service in PROCESSES:
        assert "aidevops_token" in SERVICES[service]["secrets"]
    assert "aidevops_token" in COMPOSE["secrets"]


def test_the_image_exposes_every_port_and_checks_its_health() -> None:
    exposed = re.search(r"^EXPOSE (.+)$", DOCKERFILE, re.M)
    assert exposed is not None and set(exposed.group(1).split()) == {"9201", "9202", "6066"}
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD", DOCKERFILE, re.M)
    # Every package the `aidevops` entry point imports is in the wheel.
    for package in ("aidevops", "cli", "receiver", "stream"):
        assert f"COPY {package} {package}" in DOCKERFILE


def test_the_dockerfile_is_clean_under_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_entrypoint_reads_the_token_from_the_secret_file(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "aidevops"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$* token=${AIDEVOPS_AUTH_BEARER_TOKEN:-none}"\n')
    fake.chmod(0o755)
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    env = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "AUTH_TOKEN_FILE": str(secret)}
    script = str(ROOT / "deploy/docker/entrypoint.sh")

    def run(**extra: str) -> str:
        done = subprocess.run(
            ["sh", script, "worker"], env=env | extra, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert run() == "worker token=s3cret"
    assert run(AIDEVOPS_AUTH_BEARER_TOKEN="given") == "worker token=given"
    assert run(AUTH_TOKEN_FILE=str(tmp_path / "absent")) == "worker token=none"


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        ok = self.headers.get("Authorization") == "Bearer s3cret"
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def protected_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_health_check_sends_the_token_and_fails_on_errors(
    protected_port: int, tmp_path: Path
) -> None:
    script = str(ROOT / "deploy/docker/healthcheck.py")
    url = f"http://127.0.0.1:{protected_port}/metrics"
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    base = {"PATH": os.environ["PATH"], "AUTH_TOKEN_FILE": str(tmp_path / "absent")}

    def status(*targets: str, **env: str) -> int:
        run = [sys.executable, script, *targets]
        return subprocess.run(run, env=base | env, capture_output=True, check=False).returncode

    assert status(url) == 1  # 401 without the token
    assert status(url, AUTH_TOKEN_FILE=str(secret)) == 0
    assert status(url, AIDEVOPS_AUTH_BEARER_TOKEN="s3cret") == 0
    assert status(f"tcp://127.0.0.1:{protected_port}") == 0
    assert status(f"writable:{tmp_path}") == 0
    assert status(f"writable:{tmp_path / 'absent'}") == 1
    assert status(f"tcp://127.0.0.1:{protected_port}", "tcp://127.0.0.1:1") == 1


def test_the_alert_link_fills_variables_the_dashboard_has() -> None:
    """anomaly_score carries no series id: links choose the series by its labels instead."""
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/aidevops.json").read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    template = _env("notifier")["AIDEVOPS_GRAFANA_URL_TEMPLATE"]
    GrafanaLink(template)  # only placeholders the notifier knows
    url = urllib.parse.urlsplit(template)
    assert url.path == f"/d/{dashboard['uid']}"
    query = urllib.parse.parse_qs(url.query)
    filled = {name.removeprefix("var-") for name in query if name.startswith("var-")}
    assert filled == variables == {"tenant", "metric", "job", "instance"}
    assert query["from"] == ["{from}"] and query["to"] == ["{to}"]
    # Every panel query uses only those variables.
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\$(\w+)", target["expr"])
    }
    assert used <= variables
    # The README shows the same template.
    assert template in (ROOT / "README.md").read_text()


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    actionlint = Path(sys.executable).parent / "actionlint"
    return subprocess.run(
        [str(actionlint), "-color=false", "-shellcheck=", "-pyflakes=", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_workflows_run_what_ci_runs_and_pass_actionlint(tmp_path: Path) -> None:
    workflows = sorted((ROOT / ".github/workflows").glob("*.yml"))
    assert workflows
    result = _actionlint(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    steps = [s.get("run") for s in ci["jobs"]["check-and-test"]["steps"]]
    assert "./dev check" in steps and "./dev test" in steps
    ci_run = (ROOT / ".ci/run").read_text()
    assert "./dev check" in ci_run and "./dev test" in ci_run
    image = ci["jobs"]["image"]
    assert image["needs"] == "check-and-test"
    build = next(s for s in image["steps"] if s.get("uses", "").startswith("docker/build-push"))
    assert build["with"]["push"] == "${{ startsWith(github.ref, 'refs/tags/v') }}"
    assert "v*" in ci[True]["push"]["tags"]  # YAML 1.1 reads the key `on` as True
    # The check can fail: an unknown action input and a bad expression are reported.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with: {no-such-input: 1}\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    assert _actionlint(broken).returncode != 0
