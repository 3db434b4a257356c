"""Operator commands on DynamoDB Local: series by selector, listing, init, the test alert."""

from __future__ import annotations

import json
import time

import pytest

from cli.main import main
from receiver.labelset import series_id
from stream.storage.codec import ScorePoint
from stream.storage.scores import BucketUpdate, SeriesKey
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage

pytestmark = pytest.mark.integration

LOAD_A = {"__name__": "node_load1", "instance": "a:9100", "job": "node"}
LOAD_B = {"__name__": "node_load1", "instance": "b:9100", "job": "node"}
MEMORY = {"__name__": "node_memory_MemAvailable_bytes", "instance": "a:9100", "job": "node"}


def _store(tenant: str, labels: dict[str, str], value: float) -> int:
    sid = series_id(tenant, sorted(labels.items()))
    # Ten seconds ago: in an hour's first seconds, points at its start plus 1 and 2 s would
    # lie in the future, and a query up to now would find one of the three (seen in CI).
    now = int(time.time() * 1000) - 10_000
    storage = Storage.from_settings(StorageSettings())
    try:
        bucket = now - now % 3_600_000
        points = [ScorePoint(bucket + i * 1000, value, 0.1, 0) for i in range(3)]
        storage.scores.merge([BucketUpdate(SeriesKey(tenant, sid), labels, bucket, points)])
    finally:
        storage.close()
    return sid


@pytest.fixture
def stored(local_env: str) -> dict[str, int]:
    return {
        "a": _store("default", LOAD_A, 1.0),
        "b": _store("default", LOAD_B, 2.0),
        "memory": _store("default", MEMORY, 3.0),
        "other": _store("team-x", LOAD_A, 4.0),
    }


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_scores_by_full_selector_with_a_relative_since(
    stored: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(
        capsys,
        "scores",
        'node_load1{instance="a:9100",job="node"}',
        "--since",
        "-2h",
        "--json",
    )
    assert status == 0, err
    report = json.loads(out)
    assert report["series_id"] == f"{stored['a']:016x}"
    assert [p["value"] for p in report["points"]] == [1.0, 1.0, 1.0]


def test_scores_by_partial_selector_when_it_names_one_series(
    stored: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "scores", '{instance="b:9100"}', "--since", "-2h")
    assert status == 0, err
    assert out.startswith(f"series {stored['b']:016x} ")
    status, out, err = _run(
        capsys, "scores", 'node_load1{instance="a:9100"}', "--tenant", "team-x", "--json"
    )
    assert status == 0, err
    assert json.loads(out)["series_id"] == f"{stored['other']:016x}"


def test_an_ambiguous_selector_lists_the_candidates_in_one_line(
    stored: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "scores", "node_load1")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "matches 2 series" in err and f"{stored['a']:016x}" in err


def test_series_lists_a_tenant_or_every_tenant(
    stored: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "series", "--tenant", "default")
    assert status == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        f"{stored['a']:016x}",
        f"{stored['b']:016x}",
        f"{stored['memory']:016x}",
    ]
    assert out.splitlines()[0].split("\t")[2] == 'node_load1{instance="a:9100", job="node"}'
    status, out, err = _run(capsys, "series", 'node_load1{instance=~"a.*"}')
    assert status == 0, err
    assert sorted(line.split("\t")[1] for line in out.splitlines()) == ["default", "team-x"]


def test_dynamodb_init_says_what_it_created_and_what_existed(
    local_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"{local_env}-scores", f"{local_env}-alerts", f"{local_env}-alert-configs"]
    status, out, err = _run(capsys, "dynamodb", "init")
    assert status == 0, err
    assert out.splitlines() == [f"{name}\tcreated" for name in names]
    status, out, err = _run(capsys, "dynamodb", "init")
    assert out.splitlines() == [f"{name}\talready existed" for name in names]


def test_alerts_test_without_recipients_is_an_error(
    local_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "alerts", "test")
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no recipients" in err


def test_alerts_test_without_a_token_says_it_went_to_the_console(
    local_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "alerts", "recipients", "add", "default", "-100")[0] == 0
    status, out, err = _run(capsys, "alerts", "test")
    assert status == 0, err
    assert "[alert to chat -100]" in out  # the message itself, on this console
    assert out.splitlines()[-1] == "-100\tdelivered to console (no bot token)"
