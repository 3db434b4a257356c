"""``aidevops controls add|list|remove`` through ``cli.main`` on DynamoDB Local."""

from __future__ import annotations

import json
import time

import pytest

from cli.main import main
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage

pytestmark = pytest.mark.integration


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_add_list_remove_a_control(local_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(
        capsys, "controls", "add", "acme", "--match", 'job="batch"', "--threshold", "0.7"
    )
    assert status == 0, err
    control_id, tenant, matchers, effects = out.strip().split("\t")
    assert control_id.startswith("control#") and tenant == "acme"
    assert (matchers, effects) == ('{job="batch"}', "threshold=0.7")
    # The same matchers again: the same control, replaced (here: muted instead).
    before = int(time.time() * 1000)
    status, out, err = _run(
        capsys, "controls", "add", "acme", "--match", 'job="batch"', "--mute-until", "2h"
    )
    assert status == 0, err
    assert out.split("\t")[0] == control_id and "muted until 20" in out
    assert _run(capsys, "controls", "add", "acme", "--match", 'env="dev"', "--exclude")[0] == 0
    status, out, _ = _run(capsys, "controls", "list", "acme", "--json")
    listed = {c["control_id"]: c for c in map(json.loads, out.splitlines())}
    assert len(listed) == 2
    muted = listed[control_id]
    assert muted["threshold"] is None and muted["exclude"] is False
    assert before + 7_200_000 <= muted["mute_until"] <= int(time.time() * 1000) + 7_200_000
    (excluded,) = (c for c in listed.values() if c["exclude"])
    assert excluded["matchers"] == ['env="dev"']
    # Routes of the same tenant do not see the controls.
    assert _run(capsys, "alerts", "routes", "list", "acme")[1] == ""
    assert _run(capsys, "controls", "remove", "acme", control_id) == (0, "", "")
    status, out, _ = _run(capsys, "controls", "list", "acme")
    assert status == 0 and out.strip().endswith("excluded from scoring")
    status, _, err = _run(capsys, "controls", "remove", "acme", control_id)
    assert status == 1 and err.strip() == f"aidevops: no control {control_id} for tenant acme"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--match", 'job="a"'], "a control sets a threshold, a mute or an exclusion"),
        (["--match", 'job="a"', "--threshold", "0"], "threshold 0.0 must be in (0, 1]"),
        (
            ["--match", "job=a", "--exclude"],
            "bad label matcher 'job=a'; expected name=~\"value\"",
        ),
        (["--mute-until", "1000"], "--mute-until 1000 is in the past (1970-01-01T00:00:01Z)"),
        (["--mute-until", "soon"], "cannot read time 'soon'"),
        (
            ["--exclude", "--mute-until", "1h"],
            "an excluded series is not scored: a threshold or a mute has no effect with exclude",
        ),
    ],
)
def test_bad_controls_are_one_line_errors_and_store_nothing(
    local_env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = _run(capsys, "controls", "add", "acme", *argv)
    assert status == 2 and out == ""
    assert err.strip().splitlines() == [f"aidevops: error: {message}"]
    storage = Storage.from_settings(StorageSettings())
    try:
        assert storage.controls.list("acme") == []
    finally:
        storage.close()
