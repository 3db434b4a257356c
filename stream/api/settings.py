"""Settings of the read API and console (``aidevops api``), prefix ``AIDEVOPS_``."""

from __future__ import annotations

from pydantic import Field

from aidevops.settings import AuthSettings
from stream.notifier.settings import NotifierSettings

__all__ = ["ApiSettings"]


class ApiSettings(NotifierSettings, AuthSettings):
    """Where the read API listens and who may read.

    The tables come from StorageSettings; the console follows the scores topic (Kafka
    settings) and sends route tests through the notifier's channels (notifier settings).
    """

    api_host: str = Field(
        "127.0.0.1",
        description="Address the read API listens on (loopback unless set: it serves data).",
    )
    api_port: int = Field(9202, ge=1, le=65535, description="Port of the read API.")
    console_secure_cookie: bool = Field(
        True,
        description="Mark the console's session cookie Secure (sent over HTTPS only; "
        "browsers also send it to http://localhost). False only for plain HTTP elsewhere.",
    )
    console_session_seconds: float = Field(
        8 * 3600.0, gt=0, description="A console login lasts this long."
    )
    console_live_lookback_seconds: float = Field(
        3600.0,
        ge=0,
        description="At start the console reads the scores topic from this long ago.",
    )
    console_live_max_series: int = Field(
        10_000,
        ge=1,
        description="Most series the console keeps live scores of (their last 240 points, "
        "about 12 KB each with their labels).",
    )
