"""Rendering messages: escaping, links, counts, limits and user templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidevops.pb import alerts_pb2
from stream.notifier.errors import TemplateError
from stream.notifier.notification import Notification, NotificationKind
from stream.notifier.template import DEFAULT_TEMPLATE_PATH, MAX_MESSAGE_CHARS, MessageTemplate

FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED


def event(series: int, labels: dict[str, str], state: int = FIRING) -> alerts_pb2.AlertEvent:
    e = alerts_pb2.AlertEvent(
        tenant="acme<&>",
        series_id=series,
        dedup_key=f"{series:016x}:0",
        state=alerts_pb2.AlertState.ValueType(state),
        reason=alerts_pb2.ALERT_REASON_ANOMALY,
        started_at=1_700_000_000_000,
        event_at=1_700_000_065_000,
        score=0.9987,
        peak_score=0.9991,
        value=123.456789,
        baseline_low=float("nan"),
        baseline_high=float("nan"),
        group_key="acme/instance=<b>evil</b>",
    )
    for name, value in labels.items():
        e.labels.add(name=name, value=value)
    return e


def group(*events: alerts_pb2.AlertEvent, state: int = FIRING) -> Notification:
    kind = NotificationKind.GROUP
    return Notification(kind, alerts_pb2.AlertState.ValueType(state), events[0].group_key, events)


def test_every_value_is_html_escaped() -> None:
    e = event(1, {"__name__": "up", "path": '</code><a href="x">&', "instance": "<b>evil</b>"})
    text = MessageTemplate.load().render(group(e), [e])
    assert "<b>evil</b>" not in text and '<a href="x">' not in text
    assert "&lt;b&gt;evil&lt;/b&gt;" in text
    assert "path=&quot;&lt;/code&gt;&lt;a href=&quot;x&quot;&gt;&amp;&quot;" in text
    assert "expected unknown" in text
    assert "value <b>123.457</b>" in text
    assert "since 2023-11-14 22:13:20 UTC (1m 5s)" in text


def test_grafana_link_is_url_encoded_and_escaped() -> None:
    template = MessageTemplate.load(
        grafana_url_template="https://grafana.example/d/ai?var-series={series_id}&var-i={instance}"
    )
    e = event(0xBEEF, {"__name__": "up", "instance": 'h1:9100"&x'})
    text = template.render(group(e), [e])
    url = "https://grafana.example/d/ai?var-series=000000000000beef&amp;var-i=h1%3A9100%22%26x"
    assert f'<a href="{url}">Grafana</a>' in text


def test_many_series_list_the_worst_and_count_the_rest() -> None:
    events = [event(n, {"__name__": f"m{n}"}) for n in range(25)]
    text = MessageTemplate.load(max_listed=10).render(group(*events), events, untracked=5)
    assert text.count("<b>m") == 10
    assert text.endswith("… and 20 more")
    assert text.startswith("🔥 <b>FIRING</b> · anomaly · 30 series")


def test_messages_fit_telegrams_limit() -> None:
    events = [event(n, {"__name__": "m", "big": "x" * 900}) for n in range(20)]
    text = MessageTemplate.load(max_listed=20).render(group(*events), events)
    assert len(text) <= MAX_MESSAGE_CHARS
    assert text.endswith("more")


def test_resolved_and_summary_headers() -> None:
    e = event(1, {"__name__": "up"}, RESOLVED)
    template = MessageTemplate.load()
    assert template.render(group(e, state=RESOLVED), [e]).startswith("✅ <b>RESOLVED</b>")
    summary = Notification(NotificationKind.SUMMARY, RESOLVED, "", (e,), untracked=2)
    assert template.render(summary, [e], untracked=2).startswith("✅ <b>3 more alerts RESOLVED")


def test_a_user_template_overrides_the_default(tmp_path: Path) -> None:
    text = DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8")
    custom = tmp_path / "mine.toml"
    custom.write_text(text.replace('firing = "🔥', 'firing = "ALARM $tenant'), encoding="utf-8")
    e = event(1, {"__name__": "up"})
    assert MessageTemplate.load(custom).render(group(e), [e]).startswith("ALARM acme&lt;&amp;&gt;")


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (('more = "… and $more more"', 'more = "$nope"'), r"unknown \$nope"),
        (('more = "… and $more more"', ""), "lacks more"),
        (('more = "… and $more more"', 'more = "$"'), "invalid placeholder"),
        (('more = "', 'more = "\\q'), "cannot read"),
    ],
    ids=["unknown", "missing", "invalid", "toml"],
)
def test_broken_templates_are_refused(
    tmp_path: Path, replace: tuple[str, str], message: str
) -> None:
    custom = tmp_path / "broken.toml"
    custom.write_text(DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8").replace(*replace))
    with pytest.raises(TemplateError, match=message):
        MessageTemplate.load(custom)
