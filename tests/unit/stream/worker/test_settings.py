"""Worker and notifier settings: environment parsing, validation, the bot token never shown."""

from __future__ import annotations

import os

import pytest

from aidevops.errors import ConfigurationError
from stream.notifier.settings import NotifierSettings
from stream.worker.settings import WorkerSettings

TOKEN = "4242:AAH-settings-secret-token"


def test_environment_configures_policy_and_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEVOPS_ALERT_FIRE_POINTS", "6")
    monkeypatch.setenv("AIDEVOPS_ALERT_GROUP_LABELS", '["instance"]')
    monkeypatch.setenv("AIDEVOPS_ALERT_GROUP_WAIT_SECONDS", "10")
    monkeypatch.setenv("AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID", "-1001")
    worker = WorkerSettings()
    assert worker.policy_config().fire_points == 6
    assert worker.policy_config().group_labels == ("instance",)
    notifier = NotifierSettings()
    assert notifier.dispatch_config().group_wait == 10.0
    assert notifier.telegram_default_chat_id == "-1001"


def test_the_token_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEVOPS_TELEGRAM_BOT_TOKEN", TOKEN)
    settings = NotifierSettings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    for shown in (str(settings), repr(settings), settings.model_dump_json()):
        assert TOKEN not in shown


def test_contradicting_thresholds_are_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIDEVOPS_ALERT_RESOLVE_THRESHOLD", "0.995")
    with pytest.raises(ConfigurationError):
        WorkerSettings().policy_config()


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),  # no DynamoDB configured: no controls
        ({"AIDEVOPS_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8000"}, True),
        ({"AIDEVOPS_DYNAMODB_REGION": "eu-west-1"}, True),  # AWS, as Terraform sets it
        (
            {"AIDEVOPS_DYNAMODB_REGION": "eu-west-1", "AIDEVOPS_CONTROLS_REFRESH_SECONDS": "0"},
            False,
        ),
    ],
)
def test_the_worker_reads_controls_only_with_dynamodb_configured(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enabled: bool
) -> None:
    for name in list(os.environ):
        if name.startswith("AIDEVOPS_DYNAMODB_") or name == "AIDEVOPS_CONTROLS_REFRESH_SECONDS":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert WorkerSettings().controls_enabled is enabled
