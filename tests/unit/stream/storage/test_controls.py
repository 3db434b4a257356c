"""Which controls a series is subject to when several match (no DynamoDB needed)."""

from __future__ import annotations

from stream.storage.controls import Control, ControlSet, SeriesControls
from stream.storage.matchers import parse_matchers


def test_precedence_exclusion_wins_and_the_most_specific_threshold() -> None:
    controls = ControlSet(
        [
            Control("acme", parse_matchers('{job=~"api.*"}'), threshold=0.2),
            Control("acme", parse_matchers('{job="api"}'), threshold=0.8),
            Control("acme", parse_matchers('{job="api"}'), threshold=0.6, mute_until=4),
            Control("acme", parse_matchers('{job="api", env!="prod"}'), mute_until=9),
            Control("acme", parse_matchers('{env="dev"}'), exclude=True),
        ]
    )
    # `=` beats `=~` however low; equally specific: the lower threshold; latest mute.
    assert controls.for_series("acme", {"job": "api"}) == SeriesControls(
        threshold=0.6, mute_until=9
    )
    assert controls.for_series("acme", {"job": "api-2", "env": "prod"}) == SeriesControls(
        threshold=0.2
    )
    assert controls.for_series("acme", {"job": "api", "env": "dev"}).exclude
