"""Every message channel, with its real client library, against a stand-in of its service.

One contract runs on every channel (Telegram, Slack ``chat.postMessage`` and incoming
webhook, PagerDuty Events v2, a generic webhook, SNS e-mail/SMS): an alert fired by the
pipeline (scores → alert policy → notifier) arrives once and resolves once with its reason;
a target's alerts are grouped; the rate limit holds; a restart sends no duplicate and a
resolve is sent once. Then each channel's own failure modes: 429 + Retry-After, 5xx, a bad
token or key, secrets by reference only.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer  # type: ignore[import-untyped]

from aidevops.pb import alerts_pb2
from cli.local.process import free_port
from stream.notifier.channels import Channel, TelegramChannel
from stream.notifier.delivery import NotificationService
from stream.notifier.dispatcher import DispatchConfig, Dispatcher
from stream.notifier.errors import (
    CredentialsRejected,
    DeliveryFailed,
    DeliveryRejected,
    SecretUnavailable,
)
from stream.notifier.http import JsonPoster
from stream.notifier.pagerduty import PagerDutyChannel, pagerduty_template
from stream.notifier.secrets import SecretResolver
from stream.notifier.sent_log import FileSentLog, InMemorySentLog, SentLog
from stream.notifier.slack import SlackChannel, slack_template
from stream.notifier.sns import SnsChannel, email_template, sms_template
from stream.notifier.telegram import RetryPolicy, TelegramNotifier
from stream.notifier.template import RESOLUTIONS, MessageTemplate
from stream.notifier.webhook import WebhookChannel
from stream.storage.recipients import InMemoryRecipients, Route
from tests.integration.notifier.conftest import TOKEN, Sleeps
from tests.integration.notifier.test_service import Clock, drive, node_labels
from tests.support.http_standin import HttpStandin, Reply
from tests.support.service_standins import pagerduty_standin, slack_standin, webhook_standin
from tests.support.sns_standin import SnsFailure, SnsFailures
from tests.support.telegram_standin import TelegramStandin
from tests.unit.stream.alerting.scenarios import noisy_points

pytestmark = pytest.mark.integration

FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED
SLACK_TOKEN = "xoxb-1111-2222-SeCrEtSlAcKtOkEn"
HOOK_PATH = "/services/T0001/B0001/SeCrEtHoOkPaRt"
PD_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"
WEBHOOK_TOKEN = "w3bh00k-b34r3r"
REGION = "eu-west-1"
CHANNELS = ["telegram", "slack-api", "slack-webhook", "pagerduty", "webhook", "sns"]
RETRY = RetryPolicy(max_attempts=3, backoff=0.5, max_backoff=2.0, max_retry_after=5.0)


@dataclass
class Wire:
    """What one channel's service received and accepted, one blob of text per message."""

    route: Route
    channel: Channel
    blobs: Callable[[], list[str]]
    per_alert: bool = False  # PagerDuty: one event per alert, not one message per group

    def states(self) -> list[str]:
        return ["resolved" if _resolved(b) else "firing" for b in self.blobs()]


def _resolved(blob: str) -> bool:
    return any(
        mark in blob for mark in ("RESOLVED", '"event_action":"resolve"', '"status":"resolved"')
    )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def secrets(tmp_path: Path) -> SecretResolver:
    return SecretResolver(
        {"SLACK_TOKEN": SLACK_TOKEN, "PD_KEY": PD_KEY, "WEBHOOK_TOKEN": WEBHOOK_TOKEN}
    )


@pytest.fixture
async def slack() -> AsyncIterator[HttpStandin]:
    async with slack_standin({SLACK_TOKEN}, {"C0ALERTS"}, {HOOK_PATH}) as standin:
        yield standin


@pytest.fixture
async def pagerduty() -> AsyncIterator[HttpStandin]:
    async with pagerduty_standin({PD_KEY}) as standin:
        yield standin


@pytest.fixture
async def hook() -> AsyncIterator[HttpStandin]:
    async with webhook_standin(WEBHOOK_TOKEN) as standin:
        yield standin


@pytest.fixture
async def sns_proxy(moto_url: str, aws_env: None) -> AsyncIterator[SnsFailures]:
    async with SnsFailures(moto_url) as proxy:
        yield proxy


def sns_client(url: str, attempts: int = 2) -> Any:
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return boto3.client("sns", region_name=REGION, endpoint_url=url, config=config)


def topic_with_queue(moto_url: str, name: str) -> tuple[str, Callable[[], list[str]]]:
    """A topic and an SQS queue subscribed to it (a stand-in for an e-mail inbox)."""
    sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_url)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_url)
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    seen: list[str] = []

    def inbox() -> list[str]:
        while True:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return list(seen)
            for m in messages:
                envelope = json.loads(m["Body"])
                seen.append(envelope.get("Subject", "") + "\n" + envelope["Message"])
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

    return topic, inbox


@pytest.fixture(params=CHANNELS)
async def wire(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    secrets: SecretResolver,
    sleeps: Sleeps,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Wire]:
    name: str = request.param
    clock = Clock()
    if name == "telegram":
        monkeypatch.setenv("PTB_TIMEDELTA", "true")
        async with TelegramStandin(TOKEN) as standin:
            bot = TelegramNotifier(TOKEN, base_url=standin.base_url, retry=RETRY, sleep=sleeps)
            async with bot:
                yield Wire(
                    Route("acme", "-100"),
                    TelegramChannel(bot, MessageTemplate.load()),
                    lambda: [r.params["text"] for r in standin.delivered()],
                )
        return
    if name.startswith("slack"):
        async with slack_standin({SLACK_TOKEN}, {"C0ALERTS"}, {HOOK_PATH}) as standin:
            resolver = SecretResolver(
                {"SLACK_TOKEN": SLACK_TOKEN, "SLACK_HOOK": standin.url + HOOK_PATH}
            )
            channel = SlackChannel(
                slack_template(), resolver, api_url=standin.url + "/api/", retry=RETRY, sleep=sleeps
            )
            if name == "slack-api":
                route = Route("acme", "C0ALERTS", channel="slack", secret_ref="env:SLACK_TOKEN")
            else:
                route = Route("acme", "", channel="slack", secret_ref="env:SLACK_HOOK")
            try:
                yield Wire(route, channel, lambda: [r.raw.decode() for r in standin.accepted()])
            finally:
                await channel.close()
        return
    if name == "pagerduty":
        async with pagerduty_standin({PD_KEY}) as standin:
            pd = PagerDutyChannel(
                JsonPoster("pagerduty", retry=RETRY, sleep=sleeps),
                secrets,
                pagerduty_template(),
                events_url=standin.url + "/v2/enqueue",
            )
            try:
                yield Wire(
                    Route("acme", "", channel="pagerduty", secret_ref="env:PD_KEY"),
                    pd,
                    lambda: [r.raw.decode() for r in standin.accepted()],
                    per_alert=True,
                )
            finally:
                await pd.close()
        return
    if name == "webhook":
        async with webhook_standin(WEBHOOK_TOKEN) as standin:
            wh = WebhookChannel(
                JsonPoster("webhook", retry=RETRY, sleep=sleeps), secrets, clock=clock
            )
            try:
                yield Wire(
                    Route(
                        "acme",
                        standin.url + "/hook",
                        channel="webhook",
                        secret_ref="env:WEBHOOK_TOKEN",
                    ),
                    wh,
                    lambda: [r.raw.decode() for r in standin.accepted()],
                )
            finally:
                await wh.close()
        return
    moto_url: str = request.getfixturevalue("moto_url")
    request.getfixturevalue("aws_env")
    topic, inbox = topic_with_queue(moto_url, f"alerts-{random.randrange(10**9)}")
    sns = SnsChannel(lambda region: sns_client(moto_url), email_template(), sms_template())
    yield Wire(Route("acme", topic, channel="sns"), sns, inbox)


def service(
    wire: Wire,
    clock: Clock,
    *,
    sent_log: SentLog | None = None,
    config: DispatchConfig | None = None,
) -> NotificationService:
    return NotificationService(
        dispatcher=Dispatcher(config or DispatchConfig()),
        notifier=None,
        recipients=InMemoryRecipients([wire.route]),
        sent_log=sent_log if sent_log is not None else InMemorySentLog(),
        template=MessageTemplate.load(),
        clock=clock,
        channels={wire.route.channel: wire.channel},
    )


def single_route(route: Route, channel: Channel, clock: Clock) -> NotificationService:
    """A service delivering at once (no group wait) to one route."""
    return NotificationService(
        dispatcher=Dispatcher(DispatchConfig(group_wait=0.0)),
        notifier=None,
        recipients=InMemoryRecipients([route]),
        sent_log=InMemorySentLog(),
        template=MessageTemplate.load(),
        clock=clock,
        channels={route.channel: channel},
    )


def alert(
    metric: str, state: int = FIRING, *, group: str = "db-1:9100", at: int = 1_700_000_000_000
) -> alerts_pb2.AlertEvent:
    e = alerts_pb2.AlertEvent(
        schema_version=1,
        tenant="acme",
        series_id=abs(hash(metric)) % 2**63,
        dedup_key=f"{metric}:{at}",
        state=alerts_pb2.AlertState.ValueType(state),
        reason=alerts_pb2.ALERT_REASON_ANOMALY,
        started_at=at,
        event_at=at + 60_000,
        score=0.9,
        peak_score=0.95,
        value=10.0,
        baseline_low=1.0,
        baseline_high=2.0,
        group_key=f"acme/job=node,instance={group}",
    )
    if state == RESOLVED:
        e.resolution = alerts_pb2.ALERT_RESOLUTION_NEW_NORMAL
    for k, v in node_labels(metric, group).items():
        e.labels.add(name=k, value=v)
    return e


# -- the contract every channel keeps --------------------------------------------------------


async def test_an_alert_fired_by_the_pipeline_arrives_and_resolves_once(wire: Wire) -> None:
    clock = Clock()
    svc = service(wire, clock)
    points = noisy_points(random.Random(5), 1500, shifts=[(1000, 80, 7.0)])
    events = await drive(svc, clock, {0xC0FFEE: (node_labels("node_load1"), points)})
    assert [e.state for e in events] == [FIRING, RESOLVED]
    assert wire.states() == ["firing", "resolved"]
    firing, resolved = wire.blobs()
    assert "node_load1" in firing
    if not wire.per_alert:  # a PagerDuty resolve carries no text, only the dedup key
        assert any(words in resolved for words in RESOLUTIONS.values())
    else:
        assert events[0].dedup_key in firing and events[0].dedup_key in resolved


async def test_a_targets_alerts_are_grouped_into_one_message(wire: Wire) -> None:
    clock = Clock()
    svc = service(wire, clock, config=DispatchConfig(group_wait=30.0))
    for metric in ("node_load1", "node_load5", "node_memory"):
        await svc.handle(alert(metric))
        clock.now += 5
    assert wire.blobs() == []  # still within the group wait
    clock.now += 30
    await svc.tick()
    blobs = wire.blobs()
    assert len(blobs) == (3 if wire.per_alert else 1)
    for metric in ("node_load1", "node_load5", "node_memory"):
        assert any(metric in blob for blob in blobs)


async def test_the_rate_limit_holds_back_and_summarises(wire: Wire) -> None:
    clock = Clock()
    config = DispatchConfig(group_wait=0.0, rate_per_minute=1.0, burst=1)
    svc = service(wire, clock, config=config)
    await svc.handle(alert("node_load1", group="db-1:9100"))
    await svc.handle(alert("node_load5", group="db-2:9100"))
    await svc.handle(alert("node_memory", group="db-3:9100"))
    assert len(wire.blobs()) == 1  # one token: the other two targets wait
    clock.now += 61
    await svc.tick()
    blobs = wire.blobs()
    assert len(blobs) == (3 if wire.per_alert else 2)  # both held alerts in one summary
    assert "node_load5" in "".join(blobs[1:]) and "node_memory" in "".join(blobs[1:])


async def test_a_restart_sends_no_duplicate_and_a_resolve_once(wire: Wire, tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    config = DispatchConfig(group_wait=0.0)
    clock = Clock()
    first = service(wire, clock, sent_log=FileSentLog(path), config=config)
    await first.handle(alert("node_load1"))
    assert wire.states() == ["firing"]

    clock.now += 10  # crash; the replacement replays the topic from the last commit
    second = service(wire, clock, sent_log=FileSentLog(path), config=config)
    await second.handle(alert("node_load1"))
    assert wire.states() == ["firing"]
    await second.handle(alert("node_load1", RESOLVED))
    assert wire.states() == ["firing", "resolved"]

    third = service(wire, clock, sent_log=FileSentLog(path), config=config)
    await third.handle(alert("node_load1"))
    await third.handle(alert("node_load1", RESOLVED))
    assert wire.states() == ["firing", "resolved"]


# -- Slack ------------------------------------------------------------------------------------


def slack_channel(standin: HttpStandin, secrets: SecretResolver, sleeps: Sleeps) -> SlackChannel:
    return SlackChannel(
        slack_template(), secrets, api_url=standin.url + "/api/", retry=RETRY, sleep=sleeps
    )


async def test_slack_posts_blocks_with_the_bot_token_and_escapes_labels(
    slack: HttpStandin, secrets: SecretResolver, sleeps: Sleeps
) -> None:
    channel = slack_channel(slack, secrets, sleeps)
    route = Route("acme", "C0ALERTS", channel="slack", secret_ref="env:SLACK_TOKEN")
    e = alert("node_load1")
    e.labels.add(name="path", value="<!channel> & <https://evil|x>")
    clock = Clock()
    svc = single_route(route, channel, clock)
    try:
        report = await svc.handle(e)
    finally:
        await channel.close()
    assert report.sent == 1
    (request,) = slack.accepted("/api/chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    body = request.body
    assert body["channel"] == "C0ALERTS" and body["text"].startswith(":fire: *FIRING*")
    series = body["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;" in series and "<!channel>" not in series


async def test_slack_429_waits_retry_after_and_a_long_one_is_deferred(
    slack: HttpStandin, secrets: SecretResolver, sleeps: Sleeps
) -> None:
    limited = {"ok": False, "error": "ratelimited"}
    slack.script("/api/chat.postMessage", Reply.too_many_requests(2, limited))
    channel = slack_channel(slack, secrets, sleeps)
    route = Route("acme", "C0ALERTS", channel="slack", secret_ref="env:SLACK_TOKEN")
    clock = Clock()
    svc = single_route(route, channel, clock)
    try:
        assert (await svc.handle(alert("node_load1"))).sent == 1
        assert sleeps == [2.0]
        slack.script("/api/chat.postMessage", Reply.too_many_requests(120, limited))
        report = await svc.handle(alert("node_load5", group="db-2:9100"))
        assert report.deferred == 1 and svc.outbox == 1  # 120 s > 5 s: not slept through
        clock.now += 60
        assert (await svc.tick()).sent == 0
        clock.now += 61
        assert (await svc.tick()).sent == 1 and svc.outbox == 0
    finally:
        await channel.close()
    assert len(slack.accepted("/api/chat.postMessage")) == 2


async def test_slack_5xx_is_retried_with_backoff(
    slack: HttpStandin, secrets: SecretResolver, sleeps: Sleeps
) -> None:
    slack.script("/api/chat.postMessage", Reply.server_error(503), Reply.server_error(502))
    channel = slack_channel(slack, secrets, sleeps)
    try:
        await channel.deliver_test(
            Route("acme", "C0ALERTS", channel="slack", secret_ref="env:SLACK_TOKEN")
        )
    finally:
        await channel.close()
    assert sleeps == [0.5, 1.0]
    assert [r.status for r in slack.received()] == [503, 502, 200]


async def test_a_bad_slack_token_or_webhook_is_rejected_and_never_shown(
    slack: HttpStandin, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "xoxb-0000-BAD-TOKEN"
    hook = slack.url + "/services/T0001/B0001/WrOnGsEcReT"
    resolver = SecretResolver({"SLACK_TOKEN": bad, "SLACK_HOOK": hook})
    channel = slack_channel(slack, resolver, sleeps)
    try:
        with pytest.raises(CredentialsRejected) as by_token:
            await channel.deliver_test(
                Route("acme", "C0ALERTS", channel="slack", secret_ref="env:SLACK_TOKEN")
            )
        with pytest.raises(CredentialsRejected) as by_hook:
            await channel.deliver_test(
                Route("acme", "", channel="slack", secret_ref="env:SLACK_HOOK")
            )
    finally:
        await channel.close()
    assert "invalid_auth" in str(by_token.value) and "invalid_token" in str(by_hook.value)
    assert len(slack.received()) == 2  # neither was retried
    shown = caplog.text + str(by_token.value) + str(by_hook.value)
    assert bad not in shown and "WrOnGsEcReT" not in shown


# -- PagerDuty --------------------------------------------------------------------------------


def pd_channel(standin: HttpStandin, secrets: SecretResolver, sleeps: Sleeps) -> PagerDutyChannel:
    return PagerDutyChannel(
        JsonPoster("pagerduty", retry=RETRY, sleep=sleeps),
        secrets,
        pagerduty_template(grafana_url_template="https://g.example/d/x?var-series={series_id}"),
        events_url=standin.url + "/v2/enqueue",
    )


async def test_pagerduty_triggers_and_resolves_with_the_same_dedup_key(
    pagerduty: HttpStandin, secrets: SecretResolver, sleeps: Sleeps
) -> None:
    pd = pd_channel(pagerduty, secrets, sleeps)
    route = Route("acme", "", channel="pagerduty", secret_ref="env:PD_KEY")
    svc = single_route(route, pd, Clock())
    try:
        await svc.handle(alert("node_load1"))
        await svc.handle(alert("node_load1", RESOLVED))
    finally:
        await pd.close()
    trigger, resolve = (r.body for r in pagerduty.accepted())
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "node_load1:1700000000000"
    assert trigger["routing_key"] == PD_KEY
    payload = trigger["payload"]
    assert payload["severity"] == "warning" and payload["source"] == "db-1:9100"
    assert payload["summary"].startswith("[acme] anomaly on node_load1 {")
    assert payload["custom_details"]["labels"]["job"] == "node"
    assert payload["custom_details"]["expected"] == "1 – 2"
    assert trigger["links"][0]["href"].startswith("https://g.example/d/x?var-series=")


async def test_pagerduty_429_and_5xx_are_retried_a_bad_key_is_rejected(
    pagerduty: HttpStandin, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pagerduty.script("/v2/enqueue", Reply.too_many_requests(3), Reply.server_error(500))
    resolver = SecretResolver({"PD_KEY": PD_KEY, "OLD_KEY": "0LDK3Y0LDK3Y0LDK3Y0LDK3Y0LDK3Y00"})
    pd = pd_channel(pagerduty, resolver, sleeps)
    try:
        # a test incident: trigger then resolve
        await pd.deliver_test(Route("acme", "", channel="pagerduty", secret_ref="env:PD_KEY"))
        assert sleeps == [3.0, 1.0]
        with pytest.raises(DeliveryRejected) as rejected:
            await pd.deliver_test(Route("acme", "", channel="pagerduty", secret_ref="env:OLD_KEY"))
    finally:
        await pd.close()
    assert "HTTP 400" in str(rejected.value) and "Invalid routing key" in str(rejected.value)
    assert "0LDK3Y" not in str(rejected.value) + caplog.text
    actions = [r.body["event_action"] for r in pagerduty.accepted()]
    assert actions == ["trigger", "resolve"]


async def test_a_secrets_manager_arn_is_resolved_through_boto3(
    moto_url: str, aws_env: None, pagerduty: HttpStandin, sleeps: Sleeps
) -> None:
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
    arn = client.create_secret(Name="pagerduty-acme", SecretString=PD_KEY)["ARN"]
    resolver = SecretResolver(
        {},
        secrets_manager=lambda region: boto3.client(
            "secretsmanager", region_name=region, endpoint_url=moto_url
        ),
    )
    pd = pd_channel(pagerduty, resolver, sleeps)
    try:
        await pd.deliver_test(Route("acme", "", channel="pagerduty", secret_ref=arn))
        missing = arn.rsplit(":", 1)[0] + ":nope-AbCdEf"
        with pytest.raises(SecretUnavailable, match="ResourceNotFoundException"):
            await pd.deliver_test(Route("acme", "", channel="pagerduty", secret_ref=missing))
    finally:
        await pd.close()
    assert [r.body["routing_key"] for r in pagerduty.accepted()] == [PD_KEY, PD_KEY]


# -- generic webhook --------------------------------------------------------------------------


async def test_the_webhook_gets_alertmanagers_payload_with_the_bearer_token(
    hook: HttpStandin, secrets: SecretResolver, sleeps: Sleeps
) -> None:
    hook.script("/hook", Reply.too_many_requests(1), Reply.server_error(502))
    wh = WebhookChannel(JsonPoster("webhook", retry=RETRY, sleep=sleeps), secrets, clock=Clock())
    route = Route("acme", hook.url + "/hook", channel="webhook", secret_ref="env:WEBHOOK_TOKEN")
    svc = single_route(route, wh, Clock())
    try:
        await svc.handle(alert("node_load1"))
        await svc.handle(alert("node_load1", RESOLVED))
    finally:
        await wh.close()
    assert sleeps == [1.0, 1.0]  # Retry-After, then the backoff after a second attempt
    firing, resolved = (r for r in hook.accepted())
    assert firing.headers["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    doc = firing.body
    assert doc["version"] == "4" and doc["status"] == "firing"
    assert doc["groupKey"] == "acme/job=node,instance=db-1:9100"
    (item,) = doc["alerts"]
    assert item["labels"]["alertname"] == "AnomalyDetected" and item["labels"]["tenant"] == "acme"
    assert item["status"] == "firing" and item["endsAt"] == "0001-01-01T00:00:00Z"
    assert item["fingerprint"] == "node_load1:1700000000000"
    assert resolved.body["status"] == "resolved"
    assert resolved.body["alerts"][0]["annotations"]["resolution"].startswith("new normal")


async def test_a_webhook_refusing_the_token_is_rejected_at_once(
    hook: HttpStandin, sleeps: Sleeps
) -> None:
    wh = WebhookChannel(
        JsonPoster("webhook", retry=RETRY, sleep=sleeps),
        SecretResolver({"WEBHOOK_TOKEN": "wrong-token"}),
        clock=Clock(),
    )
    route = Route("acme", hook.url + "/hook", channel="webhook", secret_ref="env:WEBHOOK_TOKEN")
    try:
        with pytest.raises(CredentialsRejected, match="HTTP 401") as error:
            await wh.deliver_test(route)
    finally:
        await wh.close()
    assert len(hook.received()) == 1 and "wrong-token" not in str(error.value)


# -- SNS --------------------------------------------------------------------------------------


async def test_sns_publishes_subject_email_and_sms_bodies(moto_url: str, aws_env: None) -> None:
    topic, inbox = topic_with_queue(moto_url, "alerts-email")
    channel = SnsChannel(lambda region: sns_client(moto_url), email_template(), sms_template())
    svc = single_route(Route("acme", topic, channel="sns"), channel, Clock())
    await svc.handle(alert("node_load1"))
    (message,) = inbox()
    subject, body = message.split("\n", 1)
    assert subject == "[aidevops] FIRING anomaly - 1 series - acme/job=node,instance=db-1:9100"
    assert body.startswith(subject + '\n\nnode_load1 {instance="db-1:9100", job="node"}')
    assert "value 10, expected 1 – 2, score 0.900 (peak 0.950)" in body


async def test_sns_throttling_5xx_and_bad_credentials(
    sns_proxy: SnsFailures, moto_url: str
) -> None:
    topic, inbox = topic_with_queue(moto_url, "alerts-failures")
    route = Route("acme", topic, channel="sns")
    channel = SnsChannel(lambda region: sns_client(sns_proxy.url), email_template(), sms_template())

    sns_proxy.fail(SnsFailure.throttling())  # botocore retries it (standard mode)
    await channel.deliver_test(route)
    assert sns_proxy.publishes == 2 and len(inbox()) == 1

    sns_proxy.fail(SnsFailure.internal(), SnsFailure.internal())
    with pytest.raises(DeliveryFailed, match="InternalError"):
        await channel.deliver_test(route)
    sns_proxy.fail(SnsFailure.bad_token())
    with pytest.raises(CredentialsRejected, match="InvalidClientTokenId"):
        await channel.deliver_test(route)
    assert sns_proxy.publishes == 5 and len(inbox()) == 1
