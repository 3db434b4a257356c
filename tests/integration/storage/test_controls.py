"""Controls in the alert-configs table of a real DynamoDB Local, beside the routes."""

from __future__ import annotations

import asyncio

import pytest

from aidevops.errors import ConfigurationError
from stream.storage.controls import Control, SeriesControls
from stream.storage.matchers import parse_matchers
from stream.storage.store import Storage

pytestmark = pytest.mark.integration


def test_controls_round_trip_and_adding_twice_is_idempotent(storage: Storage) -> None:
    first = storage.controls.add("acme", '{job="batch"}', threshold=0.7, created_at=1)
    again = storage.controls.add("acme", ['job="batch"'], threshold=0.7, created_at=1)
    assert first == again and first.control_id.startswith("control#")
    storage.controls.add("acme", '{env="dev"}', exclude=True, created_at=2)
    storage.controls.add("globex", "{}", mute_until=5_000, created_at=3)
    listed = storage.controls.list("acme")
    assert listed == sorted(
        [
            Control("acme", parse_matchers('{job="batch"}'), threshold=0.7, created_at=1),
            Control("acme", parse_matchers('{env="dev"}'), exclude=True, created_at=2),
        ],
        key=lambda c: c.control_id,
    )
    assert storage.controls.list("globex") == [
        Control("globex", (), mute_until=5_000, created_at=3)
    ]
    everything = storage.controls.everything()
    assert len(everything) == 3
    assert everything.for_series("acme", {"job": "batch", "env": "dev"}) == SeriesControls(
        exclude=True, threshold=0.7
    )


def test_the_same_matchers_replace_a_control(storage: Storage) -> None:
    storage.controls.add("acme", '{job="batch"}', threshold=0.7)
    storage.controls.add("acme", '{job="batch"}', mute_until=9_000)
    (only,) = storage.controls.list("acme")
    assert (only.threshold, only.mute_until) == (None, 9_000)


def test_routes_and_controls_share_the_table_without_meeting(storage: Storage) -> None:
    route = storage.configs.add("acme", "-100", '{job="batch"}')
    control = storage.controls.add("acme", '{job="batch"}', threshold=0.5)
    assert storage.configs.list("acme") == [route]
    assert storage.configs.routes_for("acme", {"job": "batch"}) == [route]
    assert [c.control_id for c in storage.controls.list("acme")] == [control.control_id]
    # Neither removes the other's items.
    assert not storage.configs.remove("acme", control.control_id)
    assert not storage.controls.remove("acme", route.route_id)
    assert storage.controls.remove("acme", control.control_id.removeprefix("control#"))
    assert storage.controls.list("acme") == []
    assert storage.configs.list("acme") == [route]
    assert storage.controls.everything().scoring_key() == ()


def test_mute_lookup_is_per_tenant_and_labels(storage: Storage) -> None:
    storage.controls.add("acme", '{instance=~"db-.*"}', mute_until=7_000)
    storage.controls.add("acme", '{instance="db-1"}', mute_until=3_000)
    assert asyncio.run(storage.controls.muted_until("acme", {"instance": "db-1"})) == 7_000
    assert asyncio.run(storage.controls.muted_until("acme", {"instance": "web-1"})) == 0
    assert asyncio.run(storage.controls.muted_until("globex", {"instance": "db-1"})) == 0


@pytest.mark.parametrize(
    ("matchers", "values", "message"),
    [
        ('{job="a"', {"threshold": 0.5}, "bad label selector"),
        ('{job=~"("}', {"threshold": 0.5}, "bad regex"),
        ('{job="a"}', {}, "a control sets a threshold, a mute or an exclusion"),
        ('{job="a"}', {"threshold": 0.0}, "threshold 0.0 must be in (0, 1]"),
        ('{job="a"}', {"threshold": float("nan")}, "must be in (0, 1]"),
        ('{job="a"}', {"exclude": True, "threshold": 0.5}, "no effect with exclude"),
    ],
)
def test_bad_controls_are_refused_before_dynamodb(
    storage: Storage, matchers: str, values: dict[str, float], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        storage.controls.add("acme", matchers, **values)  # type: ignore[arg-type]
    assert storage.controls.list("acme") == []
