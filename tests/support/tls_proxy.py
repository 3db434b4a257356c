"""A TLS-terminating TCP proxy on loopback, in front of a plaintext Kafka broker.

The local broker (tansu) speaks plaintext only. Clients connect to this proxy with TLS, and
it forwards the decrypted bytes to the broker. The broker must advertise the proxy's
address, so that every connection a client opens after bootstrap also goes through TLS.

With ``require_client_cert`` the proxy demands a certificate signed by ``ca_file``
(mutual TLS), as a broker with ``ssl.client.auth=required`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

__all__ = ["TlsProxy"]


class TlsProxy:
    """Listen with TLS on ``127.0.0.1:port``, forward to ``upstream``; a context manager.

    ``handshakes`` counts completed TLS handshakes and ``peer_certificates`` the client
    certificates' common names: what the tests assert on to show the traffic really was TLS.
    """

    def __init__(
        self,
        port: int,
        upstream: tuple[str, int],
        cert_file: Path,
        key_file: Path,
        ca_file: Path | None = None,
        require_client_cert: bool = False,
    ) -> None:
        self.port = port
        self.upstream = upstream
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        if require_client_cert:
            assert ca_file is not None
            context.load_verify_locations(ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        self.context = context
        self.handshakes = 0
        self.peer_certificates: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tls-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, ssl=self.context
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        self._writers.add(writer)
        peer = writer.get_extra_info("peercert")
        if peer:
            subject = dict(item[0] for item in peer["subject"])
            self.peer_certificates.append(subject.get("commonName", ""))
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
                writer.close()

    def start(self) -> TlsProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in self._writers:
                writer.transport.abort()
            if self._server is not None:
                await self._server.wait_closed()
            await asyncio.sleep(0)  # let the pipes see their closed connections

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def __enter__(self) -> TlsProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
