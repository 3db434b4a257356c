"""Settings of the read API (``aidevops api``), prefix ``AIDEVOPS_``."""

from __future__ import annotations

from pydantic import Field

from stream.storage.settings import StorageSettings

__all__ = ["ApiSettings"]


class ApiSettings(StorageSettings):
    """Where the read API listens; the tables come from StorageSettings."""

    api_host: str = Field("0.0.0.0", description="Address the read API listens on.")
    api_port: int = Field(9202, ge=1, le=65535, description="Port of the read API.")
