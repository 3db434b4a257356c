"""The TLS/SASL configuration every Kafka client gets (aidevops.kafka.security).

TLS is exercised against a real broker in tests/integration/test_kafka_tls.py. SASL cannot
be: no broker that speaks SASL runs on these machines. So these tests check what the
clients are configured with, that aiokafka and Faust accept it, and that the MSK IAM token
is a correctly signed request, made by the real signer.
"""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from aidevops.errors import ConfigurationError
from aidevops.kafka.security import (
    MskIamTokenProvider,
    client_security,
    faust_credentials,
)
from aidevops.settings import KafkaSettings
from stream.worker.app import create_app
from stream.worker.settings import WorkerSettings

SCRAM = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "svc",
    "kafka_sasl_password": "s3cret-pw",
}
IAM = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "OAUTHBEARER",
    "kafka_sasl_aws_region": "eu-west-1",
}


@pytest.mark.parametrize(
    "fields",
    [
        {"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u", "kafka_sasl_password": "p"},
        {"kafka_security_protocol": "SASL_SSL"},
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"},
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "OAUTHBEARER"},
        {"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "c.pem"},
        {"kafka_ssl_ca_file": "ca.pem"},
    ],
)
def test_inconsistent_settings_are_refused_at_start(fields: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        KafkaSettings(**fields)


def test_plaintext_by_default_and_passwords_never_shown() -> None:
    assert client_security(KafkaSettings()) == {"security_protocol": "PLAINTEXT"}
    settings = KafkaSettings(**SCRAM)
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_user_and_password(protocol: str, mechanism: str) -> None:
    kwargs = client_security(
        KafkaSettings(
            kafka_security_protocol=protocol,
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username="svc",
            kafka_sasl_password="pw",
        )
    )
    assert kwargs["security_protocol"] == protocol
    assert kwargs["sasl_mechanism"] == mechanism
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("svc", "pw")
    assert ("ssl_context" in kwargs) == (protocol == "SASL_SSL")


def test_environment_is_read_when_no_settings_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SCRAM.items():
        monkeypatch.setenv(name.upper().replace("KAFKA_", "AIDEVOPS_KAFKA_", 1), value)
    kwargs = client_security()
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_password"] == "s3cret-pw"


@pytest.mark.parametrize("fields", [SCRAM, IAM, {"kafka_security_protocol": "SSL"}])
async def test_every_aiokafka_client_accepts_the_configuration(fields: dict[str, Any]) -> None:
    kwargs = client_security(KafkaSettings(**fields))
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **kwargs)
    consumer = AIOKafkaConsumer("t", bootstrap_servers="127.0.0.1:1", **kwargs)
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1", **kwargs)
    try:
        for client in (producer.client, consumer._client, admin._client):
            assert client._security_protocol == fields["kafka_security_protocol"]
            assert client._sasl_mechanism == fields.get("kafka_sasl_mechanism", "PLAIN")
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"kafka_security_protocol": "SSL"}, SSLCredentials),
        (SCRAM, SASLCredentials),
        (IAM, OAuthCredentials),
    ],
)
def test_faust_gets_the_same_configuration(fields: dict[str, Any], kind: type) -> None:
    settings = KafkaSettings(**fields)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, kind)
    theirs = credentials_to_aiokafka_auth(credentials)
    ours = client_security(settings)
    assert set(ours) <= set(theirs)
    for key in ("security_protocol", "sasl_mechanism", "sasl_plain_username"):
        assert theirs.get(key) == ours.get(key)


def test_the_worker_app_is_built_with_the_credentials() -> None:
    app = create_app(WorkerSettings(**SCRAM))
    credentials = app.conf.broker_credentials
    assert isinstance(credentials, SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"
    assert create_app(WorkerSettings()).conf.broker_credentials is None


async def test_msk_iam_token_is_a_signed_kafka_connect_request_and_is_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Static credentials: the real signer runs without any network.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    provider = client_security(KafkaSettings(**IAM))["sasl_oauth_token_provider"]
    assert isinstance(provider, MskIamTokenProvider)
    token = await provider.token()
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == "kafka.eu-west-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert "X-Amz-Signature" in query
    assert await provider.token() == token  # reused until close to expiry
