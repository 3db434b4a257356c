"""Settings as the command line loads them: one line naming the variable, recorded endpoints."""

from __future__ import annotations

import os

import pytest

from aidevops.errors import ConfigurationError
from cli.config import load_settings
from cli.local.record import StackRecord, defaults_for
from receiver.settings import ReceiverSettings
from stream.storage.settings import StorageSettings
from stream.worker.settings import WorkerSettings


def test_an_error_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEVOPS_RECEIVER_PORT", "abc")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(ReceiverSettings)
    message = str(caught.value)
    assert message.startswith("AIDEVOPS_RECEIVER_PORT='abc': ")
    assert "receiver_port" not in message and "\n" not in message


def test_a_bad_json_value_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIDEVOPS_TENANT_TOKENS", "{not json")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(ReceiverSettings)
    assert str(caught.value).startswith("AIDEVOPS_TENANT_TOKENS: ")
    assert "\n" not in str(caught.value)


def test_a_secret_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEVOPS_AUTH_BASIC_PASSWORD", "hunter2-secret")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(ReceiverSettings)  # a password without a user
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        ("job,instance", ("job", "instance")),
        (" job , instance ", ("job", "instance")),
        ('["job","instance"]', ("job", "instance")),
        ("instance", ("instance",)),
    ],
)
def test_group_labels_read_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, labels: tuple[str, ...]
) -> None:
    monkeypatch.setenv("AIDEVOPS_ALERT_GROUP_LABELS", value)
    assert load_settings(WorkerSettings).policy_config().group_labels == labels


def test_recorded_endpoints_fill_what_the_environment_leaves_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ENDPOINT_URL", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"):
        monkeypatch.delenv(f"AIDEVOPS_DYNAMODB_{name}", raising=False)
    record = StackRecord(
        1,
        "data",
        env={
            "AIDEVOPS_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8123",
            "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
            "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
        },
    )
    settings = load_settings(StorageSettings, defaults_for(record, os.environ))
    assert settings.dynamodb_endpoint_url == "http://127.0.0.1:8123"
    assert settings.dynamodb_access_key_id == "local"


def test_the_environment_wins_over_the_record_for_a_whole_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIDEVOPS_DYNAMODB_ENDPOINT_URL", "https://dynamodb.example")
    monkeypatch.delenv("AIDEVOPS_DYNAMODB_ACCESS_KEY_ID", raising=False)
    record = StackRecord(
        1,
        "data",
        env={
            "AIDEVOPS_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8123",
            "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
            "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        },
    )
    recorded = defaults_for(record, os.environ)
    settings = load_settings(StorageSettings, recorded)
    assert settings.dynamodb_endpoint_url == "https://dynamodb.example"
    assert settings.dynamodb_access_key_id is None  # not the stack's dummy key
    assert recorded == {"AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092"}
