"""Kafka over TLS, for real: the platform's clients through a TLS-terminating proxy.

The local broker speaks plaintext only, so a proxy (tests/support/tls_proxy.py) terminates
TLS in front of it and the broker advertises the proxy's address: every connection a client
opens, bootstrap and after, is TLS. Certificates are made at test time.

Not covered here: SASL (PLAIN, SCRAM, OAUTHBEARER/MSK IAM) against a broker, because no
broker that speaks SASL runs on these machines; tests/unit/aidevops/test_kafka_security.py
checks the client configuration those mechanisms produce.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aidevops.errors import BrokerUnavailable
from aidevops.kafka.producer import BatchProducer
from aidevops.kafka.topics import ensure_topics
from aidevops.settings import KafkaSettings
from cli.local.broker import tansu_binary
from cli.local.process import ManagedProcess, free_port, wait_for_port
from cli.tail import tail
from stream.sink.runner import make_consumer
from stream.sink.settings import SinkSettings
from tests.support.certificates import Pki, make_pki
from tests.support.tls_proxy import TlsProxy

pytestmark = pytest.mark.integration


class TlsBroker:
    """A tansu broker reachable only through a TLS proxy on ``bootstrap_servers``."""

    def __init__(self, pki: Pki, logs: Path, require_client_cert: bool) -> None:
        self.pki = pki
        broker_port, self.proxy_port = free_port(), free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.proxy_port}"
        self.process = ManagedProcess(
            "tansu-tls",
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{broker_port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.proxy_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            logs / f"tansu-tls-{broker_port}.log",
        )
        wait_for_port("127.0.0.1", broker_port, 15.0, self.process.start())
        self.proxy = TlsProxy(
            self.proxy_port,
            ("127.0.0.1", broker_port),
            pki.server_cert,
            pki.server_key,
            ca_file=pki.ca_file,
            require_client_cert=require_client_cert,
        ).start()

    def stop(self) -> None:
        self.proxy.stop()
        self.process.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_broker(pki: Pki, logs_dir: Path) -> Iterator[TlsBroker]:
    running = TlsBroker(pki, logs_dir, require_client_cert=False)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mtls_broker(pki: Pki, logs_dir: Path) -> Iterator[TlsBroker]:
    running = TlsBroker(pki, logs_dir, require_client_cert=True)
    yield running
    running.stop()


def _settings(broker: TlsBroker, **extra: Any) -> KafkaSettings:
    return KafkaSettings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=broker.pki.ca_file,
        **extra,
    )


async def _round_trip(broker: TlsBroker, security: KafkaSettings, topic: str) -> list[bytes]:
    """Produce three records with the platform's producer, read them with the sink's consumer."""
    producer = BatchProducer(
        broker.bootstrap_servers, 10.0, "tls-test", {topic: 2}, security=security
    )
    await producer.start()
    try:
        await asyncio.wait_for(producer.connected.wait(), 20)
        await producer.send(topic, [(i, b"k%d" % i, b"v%d" % i) for i in range(3)])
    finally:
        await producer.stop()
    sink = SinkSettings(**security.model_dump(), sink_group_id=f"{topic}-group")
    consumer = make_consumer(sink)
    consumer.subscribe([topic])
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < 3:
                batch = await consumer.getmany(timeout_ms=500)
                values += [r.value for records in batch.values() for r in records if r.value]
    finally:
        await consumer.stop()
    return sorted(values)


async def test_produce_and_consume_over_tls_with_a_ca_file(tls_broker: TlsBroker) -> None:
    before = tls_broker.proxy.handshakes
    got = await _round_trip(tls_broker, _settings(tls_broker), "tls-ca")
    assert got == [b"v0", b"v1", b"v2"]
    assert tls_broker.proxy.handshakes > before  # the bytes went through TLS


async def test_plaintext_and_unverified_clients_are_refused(tls_broker: TlsBroker) -> None:
    plaintext = KafkaSettings(kafka_bootstrap_servers=tls_broker.bootstrap_servers)
    with pytest.raises(BrokerUnavailable):
        await ensure_topics(tls_broker.bootstrap_servers, {"x": 1}, 3000, security=plaintext)
    # TLS with the system CAs, which did not sign the broker's certificate.
    system_cas = KafkaSettings(
        kafka_bootstrap_servers=tls_broker.bootstrap_servers, kafka_security_protocol="SSL"
    )
    with pytest.raises(BrokerUnavailable):
        await ensure_topics(tls_broker.bootstrap_servers, {"x": 1}, 3000, security=system_cas)


async def test_mutual_tls_with_a_client_certificate(mtls_broker: TlsBroker) -> None:
    pki = mtls_broker.pki
    security = _settings(
        mtls_broker, kafka_ssl_cert_file=pki.client_cert, kafka_ssl_key_file=pki.client_key
    )
    assert await _round_trip(mtls_broker, security, "mtls") == [b"v0", b"v1", b"v2"]
    assert "aidevops-client" in mtls_broker.proxy.peer_certificates
    with pytest.raises(BrokerUnavailable):  # the same without a client certificate
        await ensure_topics(
            mtls_broker.bootstrap_servers, {"y": 1}, 3000, security=_settings(mtls_broker)
        )


async def test_clients_built_from_a_bootstrap_string_read_security_from_the_environment(
    mtls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver's and workers' producer and ``aidevops tail`` get only a bootstrap string."""
    pki = mtls_broker.pki
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CA_FILE": str(pki.ca_file),
        "KAFKA_SSL_CERT_FILE": str(pki.client_cert),
        "KAFKA_SSL_KEY_FILE": str(pki.client_key),
    }.items():
        monkeypatch.setenv("AIDEVOPS_" + name, value)
    producer = BatchProducer(mtls_broker.bootstrap_servers, 10.0, "env-test", {"alerts-tls": 1})
    await producer.start()
    try:
        await asyncio.wait_for(producer.connected.wait(), 20)
        await producer.send("alerts-tls", [(0, b"k", b"")])
    finally:
        await producer.stop()
    out = io.StringIO()
    printed = await tail(
        mtls_broker.bootstrap_servers,
        "alerts-tls",
        kind="alerts",
        from_beginning=True,
        limit=1,
        idle_timeout=10,
        out=out,
    )
    assert printed == 1 and '"offset": 0' in out.getvalue()
