"""Rendering notifications from user-overridable templates, one context for every channel.

A template is a TOML file of :class:`string.Template` strings (default:
``deploy/templates/telegram.toml``; the other channels' in the same folder). Every channel
fills the same placeholders from :func:`series_context`; what differs is the escaping
(HTML for Telegram, mrkdwn for Slack, none for e-mail) and the length limit. Every value
substituted is escaped first, so a label value can never inject markup; the template's own
markup is the only markup.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
import string
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from aidevops.pb import alerts_pb2
from stream.notifier.errors import TemplateError
from stream.notifier.notification import Notification, NotificationKind

__all__ = [
    "DEFAULT_TEMPLATE_PATH",
    "MAX_MESSAGE_CHARS",
    "RESOLUTIONS",
    "TEMPLATES_DIR",
    "GrafanaLink",
    "MessageTemplate",
    "html_link",
    "read_toml",
    "series_context",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "deploy/templates"
DEFAULT_TEMPLATE_PATH = TEMPLATES_DIR / "telegram.toml"
MAX_MESSAGE_CHARS = 4096  # Telegram's limit on a message's text

_KEYS: Mapping[str, frozenset[str]] = {
    "firing": frozenset({"count", "group", "tenant", "reason"}),
    "resolved": frozenset({"count", "group", "tenant", "reason"}),
    "repeat": frozenset({"count", "group", "tenant", "reason"}),
    "summary_firing": frozenset({"count", "group", "tenant", "reason"}),
    "summary_resolved": frozenset({"count", "group", "tenant", "reason"}),
    "series": frozenset(
        {
            "name",
            "labels",
            "value",
            "expected",
            "score",
            "peak_score",
            "since",
            "duration",
            "event_at",
            "reason",
            "series_id",
            "tenant",
            "link",
            "resolution",
        }
    ),
    "more": frozenset({"more"}),
    "test": frozenset({"chat_id", "tenant", "route_id"}),
}
_LINK_KEYS = frozenset({"series_id", "tenant", "from", "to", "name", "job", "instance"})
_LINK_FIELD = re.compile(r"\{(\w+)\}")
_REASONS = {
    alerts_pb2.ALERT_REASON_ANOMALY: "anomaly",
    alerts_pb2.ALERT_REASON_OUTAGE: "outage",
}
RESOLUTIONS: Mapping[int, str] = {
    alerts_pb2.ALERT_RESOLUTION_RECOVERED: "recovered",
    alerts_pb2.ALERT_RESOLUTION_NEW_NORMAL: "new normal (a lasting shift, accepted)",
    alerts_pb2.ALERT_RESOLUTION_SERIES_ENDED: "series ended",
    alerts_pb2.ALERT_RESOLUTION_SUPERSEDED: "superseded by an outage of the target",
}
"""Why an episode resolved, in words (``AlertEvent.resolution``)."""

Escape = Callable[[str], str]
LinkFormat = Callable[[str], str]


class GrafanaLink:
    """Builds a dashboard URL from a template with ``{placeholder}`` fields.

    Placeholders: ``series_id`` (16 hex digits), ``tenant``, ``from`` / ``to`` (ms, the
    episode padded by 30 minutes), ``name``, ``job``, ``instance``. Values are URL-encoded.

    Examples
    --------
    >>> link = GrafanaLink("https://grafana.example/d/aidevops?var-series={series_id}&from={from}")
    >>> event = alerts_pb2.AlertEvent(series_id=0xAB, started_at=3_600_000, event_at=3_660_000)
    >>> link.url(event)
    'https://grafana.example/d/aidevops?var-series=00000000000000ab&from=1800000'
    >>> GrafanaLink("https://g/{nope}")
    Traceback (most recent call last):
    ...
    stream.notifier.errors.TemplateError: Grafana URL template uses unknown placeholder {nope}
    """

    _PAD_MS = 30 * 60 * 1000

    def __init__(self, template: str) -> None:
        for name in _LINK_FIELD.findall(template):
            if name not in _LINK_KEYS:
                raise TemplateError(f"Grafana URL template uses unknown placeholder {{{name}}}")
        self.template = template

    def __repr__(self) -> str:
        return f"GrafanaLink({self.template!r})"

    def url(self, event: alerts_pb2.AlertEvent) -> str:
        """The URL for ``event``'s series and episode."""
        labels = {label.name: label.value for label in event.labels}
        values = {
            "series_id": f"{event.series_id:016x}",
            "tenant": event.tenant,
            "from": str(event.started_at - self._PAD_MS),
            "to": str(event.event_at + self._PAD_MS),
            "name": labels.get("__name__", ""),
            "job": labels.get("job", ""),
            "instance": labels.get("instance", ""),
        }
        return _LINK_FIELD.sub(
            lambda m: urllib.parse.quote(values[m.group(1)], safe=""), self.template
        )


class MessageTemplate:
    """Renders notifications (and the test message) as text for one channel.

    Parameters
    ----------
    parts
        The template strings, by key (see ``deploy/templates/telegram.toml``).
    grafana
        Link builder, or ``None`` for messages without a link.
    max_listed
        Series listed in one message; the rest are counted in the "more" line.
    escape
        Applied to every value substituted (HTML escaping for Telegram).
    link_format
        Turns a Grafana URL into the ``$link`` value (an HTML anchor for Telegram).
    max_chars
        Longest message the channel accepts (Telegram: 4096).

    Examples
    --------
    >>> template = MessageTemplate.load()
    >>> event = alerts_pb2.AlertEvent(
    ...     tenant="acme", series_id=1, state=alerts_pb2.ALERT_STATE_FIRING,
    ...     reason=alerts_pb2.ALERT_REASON_ANOMALY, started_at=0, event_at=60_000,
    ...     score=0.999, peak_score=0.999, value=97.5, baseline_low=10.0, baseline_high=20.0,
    ...     group_key="acme/instance=h1")
    >>> _ = event.labels.add(name="__name__", value="cpu")
    >>> _ = event.labels.add(name="instance", value="<h1>")
    >>> n = Notification(NotificationKind.GROUP, event.state, event.group_key, (event,))
    >>> print(template.render(n, n.events))
    🔥 <b>FIRING</b> · anomaly · 1 series · <code>acme/instance=h1</code>
    <BLANKLINE>
    <b>cpu</b> {instance=&quot;&lt;h1&gt;&quot;}
    value <b>97.5</b> · expected 10 – 20 · score 0.999 (peak 0.999)
    since 1970-01-01 00:00:00 UTC (1m 0s)
    """

    def __init__(
        self,
        parts: Mapping[str, str],
        *,
        grafana: GrafanaLink | None = None,
        max_listed: int = 10,
        escape: Escape | None = None,
        link_format: LinkFormat | None = None,
        max_chars: int = MAX_MESSAGE_CHARS,
    ) -> None:
        self._escape: Escape = escape or _esc
        self._link_format: LinkFormat = link_format or html_link
        self.max_chars = max_chars
        missing = sorted(set(_KEYS) - set(parts))
        if missing:
            raise TemplateError(f"message template lacks {', '.join(missing)}")
        self._parts: dict[str, string.Template] = {}
        for key, allowed in _KEYS.items():
            text = parts[key]
            if not isinstance(text, str):
                raise TemplateError(f"message template key {key!r} must be a string")
            template = string.Template(text)
            if not template.is_valid():
                raise TemplateError(f"message template key {key!r} has an invalid placeholder")
            unknown = sorted(set(template.get_identifiers()) - allowed)
            if unknown:
                raise TemplateError(
                    f"message template key {key!r} uses unknown ${', $'.join(unknown)}"
                )
            self._parts[key] = template
        self.grafana = grafana
        self.max_listed = max(1, max_listed)

    def __repr__(self) -> str:
        return f"MessageTemplate(grafana={self.grafana!r}, max_listed={self.max_listed})"

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        grafana_url_template: str | None = None,
        max_listed: int = 10,
        default: Path = DEFAULT_TEMPLATE_PATH,
        escape: Escape | None = None,
        link_format: LinkFormat | None = None,
        max_chars: int = MAX_MESSAGE_CHARS,
    ) -> MessageTemplate:
        """Read a TOML template (``None``: ``default``, Telegram's in ``deploy/templates``)."""
        source = default if path is None else path
        parts = read_toml(source)
        grafana = GrafanaLink(grafana_url_template) if grafana_url_template else None
        return cls(
            parts,
            grafana=grafana,
            max_listed=max_listed,
            escape=escape,
            link_format=link_format,
            max_chars=max_chars,
        )

    def render(
        self,
        notification: Notification,
        events: Sequence[alerts_pb2.AlertEvent],
        *,
        untracked: int = 0,
    ) -> str:
        """The message about ``events`` (a recipient's share of ``notification``, worst first).

        ``untracked`` alerts are counted in the "more" line. The series list is shortened
        until the message fits the channel's ``max_chars`` (Telegram: 4096).
        """
        total = len(events) + untracked
        head = self._head(notification, events, total)
        blocks = [self._series(event) for event in events[: self.max_listed]]
        while True:
            more = total - len(blocks)
            text = "\n\n".join([head, *blocks])
            if more > 0:
                text += "\n\n" + self._parts["more"].substitute(more=str(more))
            if len(text) <= self.max_chars or not blocks:
                return text[: self.max_chars]
            blocks.pop()

    def render_header(
        self, notification: Notification, events: Sequence[alerts_pb2.AlertEvent], total: int
    ) -> str:
        """The header line alone (Slack's first block, an e-mail subject)."""
        return self._head(notification, events, total)

    def _head(
        self, notification: Notification, events: Sequence[alerts_pb2.AlertEvent], total: int
    ) -> str:
        worst = events[0] if events else None
        return self._parts[_header_key(notification)].substitute(
            count=str(total),
            group=self._escape(notification.group_key),
            tenant=self._escape(worst.tenant if worst else ""),
            reason=_REASONS.get(worst.reason, "alert") if worst else "alert",
        )

    def render_series(self, event: alerts_pb2.AlertEvent) -> str:
        """One series' block."""
        return self._series(event)

    def render_more(self, more: int) -> str:
        """The line counting alerts not listed."""
        return self._parts["more"].substitute(more=str(more))

    def render_test(self, *, chat_id: str, tenant: str, route_id: str) -> str:
        """The message ``aidevops alerts test`` sends to a recipient."""
        esc = self._escape
        return self._parts["test"].substitute(
            chat_id=esc(chat_id), tenant=esc(tenant), route_id=esc(route_id)
        )

    def _series(self, event: alerts_pb2.AlertEvent) -> str:
        context = series_context(event, self.grafana)
        values = {k: self._escape(v) for k, v in context.items() if k != "link"}
        url = context["link"]
        values["link"] = self._link_format(url) if url else ""
        if context["resolution"]:
            # leading separator, so a template line reads the same with or without it
            values["resolution"] = " · " + self._escape(f"resolved: {context['resolution']}")
        return self._parts["series"].substitute(values).rstrip()


def series_context(event: alerts_pb2.AlertEvent, grafana: GrafanaLink | None) -> dict[str, str]:
    """The values every channel's template can show about one alert, unescaped.

    ``link`` is the Grafana URL (empty without a URL template), ``resolution`` why a
    resolved episode ended (empty while firing).

    Examples
    --------
    >>> e = alerts_pb2.AlertEvent(series_id=1, state=alerts_pb2.ALERT_STATE_RESOLVED,
    ...     resolution=alerts_pb2.ALERT_RESOLUTION_NEW_NORMAL, value=2.5,
    ...     baseline_low=float("nan"), baseline_high=float("nan"))
    >>> _ = e.labels.add(name="__name__", value="cpu")
    >>> c = series_context(e, None)
    >>> c["name"], c["value"], c["expected"], c["resolution"]
    ('cpu', '2.5', 'unknown', 'new normal (a lasting shift, accepted)')
    """
    labels = {label.name: label.value for label in event.labels}
    name = labels.pop("__name__", "")
    resolution = ""
    if event.state == alerts_pb2.ALERT_STATE_RESOLVED:
        resolution = RESOLUTIONS.get(event.resolution, "resolved")
    return {
        "name": name or f"{event.series_id:016x}",
        "labels": ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())),
        "value": _number(event.value),
        "expected": _expected(event.baseline_low, event.baseline_high),
        "score": _score(event.score),
        "peak_score": _score(event.peak_score),
        "since": _when(event.started_at),
        "duration": _duration(event.event_at - event.started_at),
        "event_at": _when(event.event_at),
        "reason": _REASONS.get(event.reason, "alert"),
        "series_id": f"{event.series_id:016x}",
        "tenant": event.tenant,
        "link": grafana.url(event) if grafana is not None else "",
        "resolution": resolution,
    }


def html_link(url: str) -> str:
    """Telegram's ``$link``: an HTML anchor to ``url``."""
    return f'<a href="{_esc(url)}">Grafana</a>'


def read_toml(source: Path) -> dict[str, str]:
    """A template file's keys; :class:`TemplateError` when it cannot be read."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"cannot read message template {source}: {exc}") from exc


def _header_key(notification: Notification) -> str:
    resolved = notification.state == alerts_pb2.ALERT_STATE_RESOLVED
    if notification.kind is NotificationKind.SUMMARY:
        return "summary_resolved" if resolved else "summary_firing"
    if resolved:
        return "resolved"
    return "repeat" if notification.kind is NotificationKind.REPEAT else "firing"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _number(x: float) -> str:
    """Short, readable number: ``_number(0.000123456) == '0.000123456'``."""
    return "n/a" if math.isnan(x) else f"{x:.6g}"


def _score(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def _expected(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "unknown"
    return f"{_number(low)} – {_number(high)}"


def _when(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(ms: int) -> str:
    """``_duration(3_725_000) == '1h 2m 5s'``."""
    seconds = max(0, ms // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s"
