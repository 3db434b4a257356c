"""The aiohttp application: adapts HTTP requests to the decoding core and back.

``create_app(settings)`` builds the real application; resources live in cleanup contexts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aidevops.auth import Authenticator
from aidevops.errors import (
    BrokerUnavailable,
    DecodeError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from receiver.compression import decompress
from receiver.decoding import DecoderLimits, RemoteWriteDecoder
from receiver.labelset import LabelLimits
from receiver.metrics import ReceiverMetrics
from receiver.negotiation import RemoteWriteProtocol, negotiate
from receiver.publisher import KafkaPublisher, SamplePublisher
from receiver.settings import ReceiverSettings

__all__ = [
    "DECODER",
    "METRICS",
    "PUBLISHER",
    "SETTINGS",
    "create_app",
]

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", ReceiverSettings)
PUBLISHER = web.AppKey("publisher", SamplePublisher)
DECODER = web.AppKey("decoder", RemoteWriteDecoder)
METRICS = web.AppKey("metrics", ReceiverMetrics)
AUTH = web.AppKey("auth", Authenticator)

_MAX_TENANT_LENGTH = 128


def _text(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


def _reject(request: web.Request, status: int, reason: str, message: str) -> web.Response:
    metrics = request.app[METRICS]
    metrics.rejections.labels(reason).inc()
    log.info("rejected %s (%d): %s", reason, status, message)
    return _text(status, message)


def _tenant(request: web.Request, settings: ReceiverSettings) -> str:
    tenant = request.headers.get(settings.tenant_header, "").strip()
    if not tenant:
        return settings.default_tenant
    if len(tenant) > _MAX_TENANT_LENGTH or not tenant.isprintable():
        raise DecodeError(
            f"{settings.tenant_header} must be printable and at most "
            f"{_MAX_TENANT_LENGTH} characters"
        )
    return tenant


async def _read_body(request: web.Request, seconds: float) -> bytes:
    """The whole body, or TimeoutError when it takes longer than ``seconds`` to arrive.

    A body that already arrived entirely (the common case) is read without a timer.
    """
    if request.content.is_eof():
        return await request.read()
    async with asyncio.timeout(seconds):
        return await request.read()


async def write(request: web.Request) -> web.Response:
    """``POST /api/v1/write``: 204 once Kafka acknowledged every series of the request."""
    app = request.app
    metrics = app[METRICS]
    metrics.in_flight.inc()
    try:
        response = await _write(request)
    finally:
        metrics.in_flight.dec()
    metrics.requests.labels(str(response.status)).inc()
    return response


async def _write(request: web.Request) -> web.Response:
    app = request.app
    settings, metrics = app[SETTINGS], app[METRICS]
    auth = app[AUTH]
    access = auth.access(request.headers.get("Authorization"))
    if access is None:
        app[METRICS].rejections.labels("unauthorized").inc()
        return _text(401, "missing or wrong credentials", **{"WWW-Authenticate": auth.challenge})
    named = request.headers.get(settings.tenant_header, "").strip()
    if access.tenant is not None and named and named != access.tenant:
        app[METRICS].rejections.labels("forbidden").inc()
        return _text(403, f"this token writes tenant {access.tenant!r} only, not {named!r}")
    try:
        protocol = negotiate(
            request.headers.get("Content-Type"), request.headers.get("Content-Encoding")
        )
    except UnsupportedMediaType as exc:
        return _reject(request, 415, "unsupported_media_type", str(exc))
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        return _reject(
            request,
            413,
            "too_large",
            f"body of {length} bytes exceeds the limit of {settings.max_body_bytes}",
        )
    try:
        body = await _read_body(request, settings.body_read_timeout_seconds)
    except web.HTTPRequestEntityTooLarge:
        return _reject(
            request, 413, "too_large", f"body exceeds the limit of {settings.max_body_bytes}"
        )
    except TimeoutError:
        response = _reject(
            request,
            408,
            "body_timeout",
            f"request body not received within {settings.body_read_timeout_seconds:g}s",
        )
        # Answer, then drop the connection at once: aiohttp would otherwise keep reading
        # the rest of the body for up to its lingering time (10 s), the slow-loris' aim.
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        if request.protocol is not None:
            request.protocol.force_close()
        return response
    metrics.bytes.inc(len(body))
    try:
        payload = decompress(body, settings.max_decoded_bytes)
        tenant = _tenant(request, settings) if access.tenant is None else access.tenant
        decoded = app[DECODER].decode(protocol, payload, tenant, int(time.time() * 1000))
    except PayloadTooLarge as exc:
        return _reject(request, 413, "too_large", str(exc))
    except DecodeError as exc:
        return _reject(request, 400, "invalid", str(exc))
    if decoded.records:
        started = time.perf_counter()
        try:
            await app[PUBLISHER].publish(
                decoded.records, decoded.index_samples, decoded.received_at
            )
        except BrokerUnavailable as exc:
            metrics.rejections.labels("broker_unavailable").inc()
            log.warning("answering 503: %s", exc)
            return _text(503, str(exc), **{"Retry-After": str(settings.retry_after_seconds)})
        except PayloadTooLarge as exc:
            return _reject(request, 413, "too_large", str(exc))
        metrics.publish_seconds.observe(time.perf_counter() - started)
    metrics.samples.inc(decoded.samples)
    metrics.histograms.inc(decoded.histograms)
    metrics.exemplars.inc(decoded.exemplars)
    metrics.series.inc(decoded.series)
    response = web.Response(status=204)
    if protocol is RemoteWriteProtocol.V2:
        response.headers["X-Prometheus-Remote-Write-Samples-Written"] = str(decoded.samples)
        response.headers["X-Prometheus-Remote-Write-Histograms-Written"] = str(decoded.histograms)
        response.headers["X-Prometheus-Remote-Write-Exemplars-Written"] = str(decoded.exemplars)
    return response


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves HTTP."""
    return _text(200, "ok")


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the broker answers, so writes can be acknowledged."""
    if await request.app[PUBLISHER].ready():
        return _text(200, "ready")
    return _text(503, "broker not reachable")


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _kafka_publisher(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    publisher = KafkaPublisher(
        settings.kafka_bootstrap_servers,
        settings.samples_topic,
        settings.samples_partitions,
        settings.publish_timeout_seconds,
        compression_type=None
        if settings.samples_compression == "none"
        else settings.samples_compression,
        max_pending_bytes=settings.publish_backlog_bytes,
        linger_ms=settings.publish_linger_ms,
        schema_version=settings.samples_schema_version,
    )
    await publisher.start()
    app[PUBLISHER] = publisher
    yield
    await publisher.stop()


def create_app(
    settings: ReceiverSettings, publisher: SamplePublisher | None = None
) -> web.Application:
    """Build the receiver; without ``publisher`` it connects to Kafka as ``settings`` say."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = ReceiverMetrics()
    app[AUTH] = Authenticator.from_settings(settings)
    app[DECODER] = RemoteWriteDecoder(
        DecoderLimits(
            labels=LabelLimits(
                settings.label_limit,
                settings.label_name_length_limit,
                settings.label_value_length_limit,
            ),
            help_bytes=settings.metadata_help_length_limit,
            unit_bytes=settings.metadata_unit_length_limit,
            series_cache_bytes=settings.series_cache_bytes,
            metadata_cache_bytes=settings.metadata_cache_bytes,
        ),
        index=settings.samples_index,
    )
    if publisher is None:
        app.cleanup_ctx.append(_kafka_publisher)
    else:
        app[PUBLISHER] = publisher
    app.router.add_post("/api/v1/write", write)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app
