"""AWS SNS: one topic publish per message, for e-mail and SMS subscribers (boto3).

``Publish`` with ``MessageStructure="json"``: e-mail subscribers get the subject and body of
``deploy/templates/email.toml``, SMS subscribers the short text of ``sms.toml``, anything
else (SQS, Lambda, HTTPS) the e-mail body as ``default``. The route names the topic ARN;
credentials are the notifier's AWS ones (task role), never stored in the route.

botocore retries throttling and 5xx itself (``standard`` mode, ``total_max_attempts``). What is
left is translated by error code: throttling and server errors are :class:`DeliveryFailed`
(the notifier retries later), bad or expired credentials :class:`CredentialsRejected`, the
rest (``NotFound``, ``InvalidParameter``, ``AuthorizationError`` on the topic)
:class:`DeliveryRejected`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stream.notifier.channels import Message
from stream.notifier.errors import CredentialsRejected, DeliveryFailed, DeliveryRejected
from stream.notifier.template import TEMPLATES_DIR, MessageTemplate
from stream.storage.recipients import RecipientLike

__all__ = [
    "EMAIL_TEMPLATE_PATH",
    "SMS_TEMPLATE_PATH",
    "SnsChannel",
    "SnsClient",
    "email_subject",
    "email_template",
    "sms_template",
]

EMAIL_TEMPLATE_PATH = TEMPLATES_DIR / "email.toml"
SMS_TEMPLATE_PATH = TEMPLATES_DIR / "sms.toml"
_SUBJECT_CHARS = 100  # SNS: ASCII, no line breaks, under 100 characters
_SMS_CHARS = 320
_EMAIL_CHARS = 200_000
_TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottling",
    }
)
_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
_REGION = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):")


class SnsClient(Protocol):
    """The one call of boto3's ``sns`` client used here."""

    def publish(self, **kwargs: Any) -> Mapping[str, Any]: ...


def email_template(
    path: str | None = None, *, grafana_url_template: str | None = None
) -> MessageTemplate:
    """The e-mail template (plain text)."""
    return MessageTemplate.load(
        Path(path) if path else None,
        default=EMAIL_TEMPLATE_PATH,
        grafana_url_template=grafana_url_template,
        escape=str,
        link_format=str,
        max_chars=_EMAIL_CHARS,
    )


def sms_template(path: str | None = None) -> MessageTemplate:
    """The SMS template (plain text, one series, 320 characters)."""
    return MessageTemplate.load(
        Path(path) if path else None,
        default=SMS_TEMPLATE_PATH,
        escape=str,
        link_format=str,
        max_chars=_SMS_CHARS,
        max_listed=1,
    )


def email_subject(header: str) -> str:
    """An SNS-valid subject: printable ASCII, one line, under 100 characters.

    >>> email_subject("🔥 FIRING · anomaly\\n 3 series")
    'FIRING - anomaly 3 series'
    """
    text = header.replace("·", "-")
    text = "".join(c if 32 <= ord(c) < 127 else " " for c in text)
    return " ".join(text.split())[: _SUBJECT_CHARS - 1] or "aidevops alert"


class SnsChannel:
    """Routes of channel ``sns``: publish to the route's topic; see the module docstring.

    Parameters
    ----------
    client
        Builds the boto3 ``sns`` client of a region (the topic ARN's).
    email, sms
        The templates of the two kinds of subscribers.
    """

    def __init__(
        self, client: Callable[[str], SnsClient], email: MessageTemplate, sms: MessageTemplate
    ) -> None:
        self._client = client
        self.email = email
        self.sms = sms

    def __repr__(self) -> str:
        return "SnsChannel()"

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        n, events, untracked = message.notification, message.events, message.untracked
        subject = email_subject(self.email.render_header(n, events, message.total))
        body = self.email.render(n, events, untracked=untracked)
        short = self.sms.render(n, events, untracked=untracked)
        await self._publish(recipient.chat_id, subject, body, short)

    async def deliver_test(self, recipient: RecipientLike) -> None:
        args = {
            "chat_id": recipient.chat_id,
            "tenant": recipient.tenant,
            "route_id": recipient.route_id,
        }
        body = self.email.render_test(**args)
        await self._publish(
            recipient.chat_id, "aidevops test message", body, self.sms.render_test(**args)
        )

    async def _publish(self, topic_arn: str, subject: str, body: str, short: str) -> None:
        found = _REGION.match(topic_arn)
        if not found:
            raise DeliveryRejected(f"sns: {topic_arn!r} is not a topic ARN")
        document = json.dumps({"default": body, "email": body, "sms": short}, ensure_ascii=False)

        def publish() -> None:
            self._client(found.group(1)).publish(
                TopicArn=topic_arn, Subject=subject, Message=document, MessageStructure="json"
            )

        try:
            await asyncio.to_thread(publish)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            detail = f"sns publish to {topic_arn} failed: {code} (HTTP {status})"
            if code in _TRANSIENT or status >= 500 or status == 429:
                raise DeliveryFailed(detail) from None
            if code in _CREDENTIALS:
                raise CredentialsRejected(detail) from None
            raise DeliveryRejected(detail) from None
        except BotoCoreError as exc:
            raise DeliveryFailed(
                f"sns publish to {topic_arn} failed: {type(exc).__name__}"
            ) from None
