"""The Prometheus configurations we ship or show are valid for a real Prometheus (promtool)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _check(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    # Files the configs name exist only in their containers: point them at a real one.
    config = re.sub(r"credentials_file: [^}\s]+", f"credentials_file: {token}", config)
    config = config.replace("<host>", "127.0.0.1").replace("<worker>", "127.0.0.1")
    path = tmp_path / "prometheus.yml"
    path.write_text(config)
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with the prometheus package ./dev installs"
    return subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, check=False
    )


def test_the_compose_prometheus_config_is_valid(tmp_path: Path) -> None:
    result = _check((ROOT / "deploy/prometheus/prometheus.yml").read_text(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_prometheus_config_is_valid(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("# prometheus.yml\n", 1)[1].split("```", 1)[0]
    result = _check(block, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "write_relabel_configs" in block  # the platform's own metrics stay out


def test_a_broken_config_fails_the_check(tmp_path: Path) -> None:
    result = _check("remote_write:\n  - url: 12\n    nonsense: [\n", tmp_path)
    assert result.returncode != 0
