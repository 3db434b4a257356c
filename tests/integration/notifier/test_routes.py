"""Alert routes to any channel in a real DynamoDB Local, and the commands that manage them.

``aidevops alerts routes add|list|remove``, ``alerts test --channel`` and ``alerts
preview`` are parsed by the argparse wiring of :mod:`cli.routes` (what ``cli.main``
registers) and run against DynamoDB Local and the channels' stand-ins (and a real
Alertmanager).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aidevops.errors import ConfigurationError
from cli import routes
from cli.local.dynamodb import LocalDynamoDB
from stream.notifier.settings import NotifierSettings
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage
from tests.support.alertmanager import BINARY, LocalAlertmanager
from tests.support.http_standin import HttpStandin, Reply
from tests.support.service_standins import pagerduty_standin, slack_standin, webhook_standin

pytestmark = pytest.mark.integration

_prefixes = itertools.count()
SLACK_TOKEN = "xoxb-9999-8888-RoUtEsToKeN"
PD_KEY = "PDKEYPDKEYPDKEYPDKEYPDKEYPDKEY12"


@pytest.fixture
def settings(dynamodb: LocalDynamoDB, tmp_path: Path) -> NotifierSettings:
    return NotifierSettings(
        dynamodb_endpoint_url=dynamodb.endpoint_url,
        dynamodb_table_prefix=f"routes{next(_prefixes)}",
        dynamodb_access_key_id="local",
        dynamodb_secret_access_key="local",  # type: ignore[arg-type]
        alertmanager_state_path=tmp_path / "am-state.json",
        channel_max_attempts=1,
    )


def parse(*argv: str) -> argparse.Namespace:
    """The command line as ``cli.main`` parses it once ``cli.routes`` is registered."""
    parser = argparse.ArgumentParser(prog="aidevops")
    sub = parser.add_subparsers(dest="command", required=True)
    alerts = sub.add_parser("alerts")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    test = alerts_sub.add_parser("test")
    test.add_argument("--tenant", default="default")
    routes.register(alerts_sub, test, lambda command: {})
    return parser.parse_args(argv)


def run(settings: NotifierSettings, *argv: str) -> int | None:
    def load(args: argparse.Namespace, cls: type[Any]) -> Any:
        return settings if cls is NotifierSettings else StorageSettings(**settings.model_dump())

    return routes.run(parse(*argv), load)


def test_routes_to_every_channel_are_stored_with_references_only(
    settings: NotifierSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = "arn:aws:sns:eu-west-1:123456789012:oncall-email"
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pagerduty-acme-AbCdEf"
    commands = [
        ("telegram", "-1001"),
        ("slack", "C0ALERTS", "--secret-ref", "env:SLACK_TOKEN", "--match", 'severity!="info"'),
        ("slack", "--secret-ref", "env:SLACK_HOOK"),
        ("pagerduty", "--secret-ref", secret, "--match", 'job=~"db.*"'),
        ("sns", topic),
        ("webhook", "https://bridge.example/hook", "--secret-ref", "env:BRIDGE_TOKEN"),
        ("alertmanager", "http://am-1:9093,http://am-2:9093"),
    ]
    for command in commands:
        assert run(settings, "alerts", "routes", "add", "acme", *command) == 0
    added = capsys.readouterr().out.splitlines()
    assert len(added) == 7
    assert run(settings, "alerts", "routes", "add", "acme", *commands[3]) == 0  # same route: no-op
    capsys.readouterr()

    assert run(settings, "alerts", "routes", "list", "acme", "--json") == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["channel"] for r in listed) == sorted(c[0] for c in commands)
    pd = next(r for r in listed if r["channel"] == "pagerduty")
    assert pd["secret_ref"] == secret and pd["matchers"] == ['job=~"db.*"']

    storage = Storage.from_settings(settings)
    try:
        items = storage.configs.gateway.query(
            TableName=storage.configs.table,
            KeyConditionExpression="tenant = :t",
            ExpressionAttributeValues={":t": {"S": "acme"}},
        )
        matched = asyncio.run(
            storage.configs.recipients_for("acme", {"job": "db-main", "severity": "info"})
        )
    finally:
        storage.close()
    assert {i.get("secret_ref", {}).get("S", "") for i in items} == {
        "",
        "env:SLACK_TOKEN",
        "env:SLACK_HOOK",
        secret,
        "env:BRIDGE_TOKEN",
    }
    # severity="info" leaves out the chat.postMessage route; job=~"db.*" lets PagerDuty in
    assert sorted((r.channel, r.chat_id) for r in matched) == [
        ("alertmanager", "http://am-1:9093,http://am-2:9093"),
        ("pagerduty", ""),
        ("slack", ""),
        ("sns", topic),
        ("telegram", "-1001"),
        ("webhook", "https://bridge.example/hook"),
    ]

    assert run(settings, "alerts", "routes", "remove", "acme", pd["route_id"]) == 0
    assert run(settings, "alerts", "routes", "remove", "acme", pd["route_id"]) == 1


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("pagerduty", "--secret-ref", "R0UT1NGKEY"), "secret not by reference"),
        (("slack", "https://hooks.slack.com/services/T/B/x"), "needs --secret-ref"),
        (("webhook", "https://hooks.slack.com/services/T/B/x"), "Slack webhook URL is a secret"),
        (("webhook", "https://user:pw@bridge.example/hook"), "carries credentials"),
        (("webhook", "https://bridge.example/hook?token=abc"), "secret in its query"),
        (("sns", "my-topic"), "topic ARN"),
        (("telegram", "-1", "--secret-ref", "env:X"), "chat id"),
    ],
)
def test_a_secret_in_clear_or_an_unusable_route_is_refused(
    settings: NotifierSettings, command: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as error:
        run(settings, "alerts", "routes", "add", "acme", *command)
    assert "abc" not in str(error.value) and "R0UT1NGKEY" not in str(error.value)


@pytest.fixture
async def standins() -> AsyncIterator[tuple[HttpStandin, HttpStandin, HttpStandin, HttpStandin]]:
    async def ok(request: web.Request, body: object) -> Reply:
        return Reply(200, "")

    async with (
        slack_standin({SLACK_TOKEN}, {"C0ALERTS"}, set()) as slack,
        pagerduty_standin({PD_KEY}) as pagerduty,
        webhook_standin("bridge-token") as hook,
        HttpStandin() as am_hook,
    ):
        am_hook.route("/am", ok)
        yield slack, pagerduty, hook, am_hook


@pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")
async def test_alerts_test_channel_reaches_each_channel(
    settings: NotifierSettings,
    standins: tuple[HttpStandin, HttpStandin, HttpStandin, HttpStandin],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack, pagerduty, hook, am_hook = standins
    monkeypatch.setenv("SLACK_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("PD_KEY", PD_KEY)
    monkeypatch.setenv("BRIDGE_TOKEN", "bridge-token")
    configured = settings.model_copy(
        update={
            "slack_api_url": slack.url + "/api/",
            "pagerduty_events_url": pagerduty.url + "/v2/enqueue",
        }
    )
    with LocalAlertmanager(tmp_path / "am", am_hook.url + "/am") as am:
        for command in [
            ("slack", "C0ALERTS", "--secret-ref", "env:SLACK_TOKEN"),
            ("pagerduty", "--secret-ref", "env:PD_KEY"),
            ("webhook", hook.url + "/hook", "--secret-ref", "env:BRIDGE_TOKEN"),
            ("alertmanager", am.url),
            ("slack", "C0NOWHERE", "--secret-ref", "env:SLACK_TOKEN"),
        ]:
            run(configured, "alerts", "routes", "add", "acme", *command)
        capsys.readouterr()

        status = await asyncio.to_thread(
            run, configured, "alerts", "test", "--tenant", "acme", "--channel", "pagerduty"
        )
        assert status == 0 and [r.body["event_action"] for r in pagerduty.accepted()] == [
            "trigger",
            "resolve",
        ]
        capsys.readouterr()
        status = await asyncio.to_thread(
            run, configured, "alerts", "test", "--tenant", "acme", "--channel", "all"
        )
        out = capsys.readouterr().out
        (test_alert,) = am.alerts()
    assert status == 1  # the route to an unknown Slack channel failed; the others did not
    lines = dict(line.split("\t", 1) for line in out.splitlines())
    assert sum("delivered to" in v for v in lines.values()) == 4
    assert any("channel_not_found" in v for v in lines.values())
    assert sorted(r.body["channel"] for r in slack.received()) == ["C0ALERTS", "C0NOWHERE"]
    assert hook.accepted()[0].headers["Authorization"] == "Bearer bridge-token"
    assert test_alert["labels"] == {
        "alertname": "AidevopsTest",
        "tenant": "acme",
        "severity": "none",
    }
    assert SLACK_TOKEN not in out and PD_KEY not in out


def test_alerts_preview_renders_every_channel_without_sending(
    settings: NotifierSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    for channel in ("telegram", "slack", "pagerduty", "email", "sms", "webhook", "alertmanager"):
        assert run(settings, "alerts", "preview", "--channel", channel, "--resolved") == 0
        out = capsys.readouterr().out
        assert "node_load1" in out or "0000000000c0ffee" in out, channel
    assert run(settings, "alerts", "preview", "--channel", "email") == 0
    assert capsys.readouterr().out.startswith(
        "Subject: [aidevops] FIRING anomaly - 2 series - acme/job=node,instance=db-1:9100"
    )
