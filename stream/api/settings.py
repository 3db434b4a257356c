"""Settings of the read API (``aidevops api``), prefix ``AIDEVOPS_``."""

from __future__ import annotations

from pydantic import Field

from aidevops.settings import AuthSettings
from stream.storage.settings import StorageSettings

__all__ = ["ApiSettings"]


class ApiSettings(StorageSettings, AuthSettings):
    """Where the read API listens and who may read; the tables come from StorageSettings."""

    api_host: str = Field(
        "127.0.0.1",
        description="Address the read API listens on (loopback unless set: it serves data).",
    )
    api_port: int = Field(9202, ge=1, le=65535, description="Port of the read API.")
