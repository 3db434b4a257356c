"""The ``aidevops`` command line as a newcomer meets it: one line per error, no traceback.

Everything here runs in-process and fails before any real part would be needed.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.config import env_var
from cli.main import COMMAND_SETS_ITSELF, COMMAND_SETTINGS, main

ENV_NAME = re.compile(r"AIDEVOPS_[A-Z0-9_]+")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on (this test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No local stack record, no AWS credentials, DynamoDB at a closed port."""
    monkeypatch.chdir(tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("AIDEVOPS_DYNAMODB_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    return tmp_path


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("aidevops: error: ")
    return lines[0]


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main([*command.split(), "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMAND_SETTINGS))
def test_help_lists_exactly_the_variables_the_command_reads(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    excluded = COMMAND_SETS_ITSELF.get(command, frozenset())
    expected = {env_var(f) for cls in COMMAND_SETTINGS[command] for f in cls.model_fields} - {
        env_var(f) for f in excluded
    }
    assert set(ENV_NAME.findall(_help(command, capsys))) == expected


def test_worker_help_lists_the_alert_policy_and_no_telegram_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help("worker", capsys)
    assert "AIDEVOPS_ALERT_FIRE_THRESHOLD" in text and "AIDEVOPS_ALERT_GROUP_LABELS" in text
    assert "TELEGRAM" not in text


def test_scores_since_takes_a_relative_time(
    nowhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["scores", "00000000deadbeef", "--since", "-2h", "--until", "-1h"])
    err = capsys.readouterr().err
    assert "expected one argument" not in err
    assert status == 2  # it got as far as DynamoDB
    assert "DynamoDB" in _one_line_error(err)


def test_unreachable_dynamodb_names_what_to_set(
    nowhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dynamodb", "init"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "AIDEVOPS_DYNAMODB_ENDPOINT_URL" in line
    assert "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID" in line and "aidevops up" in line


def test_missing_aws_credentials_names_what_to_set(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AIDEVOPS_DYNAMODB_ENDPOINT_URL")
    assert main(["alerts", "recipients", "list", "default"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "credentials" in line and "AIDEVOPS_DYNAMODB_ENDPOINT_URL" in line


def test_a_bad_selector_is_one_line(nowhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scores", "node_load1{job=node}"]) == 2
    assert "selector" in _one_line_error(capsys.readouterr().err)


def test_a_bad_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIDEVOPS_SAMPLES_PARTITIONS", "0")
    assert main(["tail", "scores", "-n", "1"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "AIDEVOPS_SAMPLES_PARTITIONS='0'" in line and "samples_partitions" not in line


@pytest.mark.parametrize("command", ["receiver", "api"])
def test_a_busy_port_is_one_line_naming_the_option(
    command: str, busy_port: int, nowhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--host", "127.0.0.1", "--port", str(busy_port)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert f"port {busy_port}" in line and "--port" in line
    assert f"pid {os.getpid()}" in line  # who holds it


def test_up_starts_nothing_when_a_port_is_busy(
    busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["up", "--data-dir", str(data), "--broker-port", str(busy_port)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert f"port {busy_port} (broker) is in use" in line and "--broker-port" in line
    assert not data.exists()  # no log, no DynamoDB data: nothing was started


def test_up_starts_nothing_when_a_setting_is_bad(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIDEVOPS_ALERT_FIRE_POINTS", "many")
    data = tmp_path / "data"
    assert main(["up", "--data-dir", str(data)]) == 2
    assert "AIDEVOPS_ALERT_FIRE_POINTS='many'" in _one_line_error(capsys.readouterr().err)
    assert not data.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("timestamp,value\n1,1.0\n2,abc\n", ":3: value 'abc' is not a number"),
        ("timestamp,value\n1,1.0\n2\n", ":3: expected 'timestamp,value', the row has no value"),
        ("timestamp,value\n1,1.0\nyesterday,2\n", ":3: cannot read timestamp 'yesterday'"),
        ("time,value\n1,1.0\n", ":1: expected a 'timestamp,value' header"),
    ],
)
def test_backtest_names_file_and_line(
    content: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "series.csv"
    path.write_text(content)
    assert main(["backtest", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"{path}{expected}"


def test_backtest_scores_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "series.csv"
    path.write_text("timestamp,value\n" + "".join(f"{60 * i},{i % 3}\n" for i in range(5)))
    assert main(["backtest", str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
