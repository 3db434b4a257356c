"""The Now page's live board: bounded, tenant-scoped, most anomalous first."""

from __future__ import annotations

from aidevops.pb import scores_pb2
from stream.console.live import LiveBoard, _take, group_by_target
from stream.storage.matchers import parse_matchers


def batch(
    tenant: str, series_id: int, score: float, instance: str = "h1", stale: bool = False
) -> scores_pb2.ScoreBatch:
    out = scores_pb2.ScoreBatch(tenant=tenant, series_id=series_id, stale=stale)
    out.labels.add(name="__name__", value="load")
    out.labels.add(name="instance", value=instance)
    out.labels.add(name="job", value="node")
    out.points.add(timestamp=1000 * series_id, value=1.0, score=score)
    return out


def test_the_least_recently_scored_series_are_forgotten_first() -> None:
    board = LiveBoard(max_series=2, points=4)
    board.add(batch("t", 1, 0.1))
    board.add(batch("t", 2, 0.2))
    board.add(batch("t", 1, 0.3))  # scored again: now the most recent
    board.add(batch("t", 3, 0.4))
    assert board.get("t", 2) is None
    assert [s.series_id for s in board.top("t", (), 0.0)] == [3, 1]


def test_top_is_per_tenant_filtered_and_skips_ended_series() -> None:
    board = LiveBoard()
    board.add(batch("a", 1, 0.9, "h1"))
    board.add(batch("a", 2, 0.5, "h2"))
    board.add(batch("a", 3, 0.99, "h3", stale=True))
    board.add(batch("b", 4, 0.95, "h1"))
    assert [s.series_id for s in board.top("a", (), 0.0)] == [1, 2]
    assert [s.series_id for s in board.top(None, (), 0.6)] == [4, 1]
    matchers = parse_matchers('instance=~"h[2-9]"')
    assert [s.series_id for s in board.top(None, matchers, 0.0)] == [2]
    groups = group_by_target(board.top(None, (), 0.0))
    assert [name for name, _ in groups] == ["b node/h1", "a node/h1", "a node/h2"]
    assert board.tenants() == ["a", "b"]


def test_a_nan_score_does_not_hide_the_last_real_one() -> None:
    board = LiveBoard()
    board.add(batch("t", 1, 0.7))
    board.add(batch("t", 1, float("nan")))
    series = board.get("t", 1)
    assert series is not None and series.score == 0.7
    assert series.ring.raw()[-1]["score"] is None


def test_records_of_either_scores_schema_reach_the_board() -> None:
    board = LiveBoard()
    record = scores_pb2.ScoresBatch(
        schema_version=2, series=[batch("t", 1, 0.3), batch("t", 2, 0.6)]
    )
    _take(board, record.SerializeToString())  # schema 2: every series of the record
    _take(board, batch("t", 3, 0.9).SerializeToString())  # schema 1: one bare ScoreBatch
    _take(board, b"\xff\xff")  # undecodable: skipped
    assert [s.series_id for s in board.top("t", (), 0.0)] == [3, 2, 1]
