from __future__ import annotations

import math
import random
import struct

import pytest

from stream.storage.codec import WORST_CASE_BYTES_PER_POINT, ScorePoint, pack_points, unpack_points

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def test_round_trip_is_bit_exact_for_awkward_values() -> None:
    values = [0.0, -0.0, 1 / 3, math.inf, -math.inf, STALE_NAN, 1e300, -2.5e-300, 5e-324, 0.1]
    pts = [
        ScorePoint(1000 * i, v, min(1.0, abs(v)) if math.isfinite(v) else 0.5, i)
        for i, v in enumerate(values)
    ]
    out = unpack_points(pack_points(pts))
    assert [bits(p.value) for p in out] == [bits(v) for v in values]
    assert [(p.timestamp, p.score, p.flags) for p in out] == [
        (p.timestamp, p.score, p.flags) for p in pts
    ]


def test_random_doubles_stay_within_worst_case_bound() -> None:
    rng = random.Random(7)
    pts = [
        ScorePoint(rng.randrange(2**40), rng.uniform(-1e9, 1e9), rng.random(), rng.randrange(8))
        for _ in range(5000)
    ]
    blob = pack_points(pts)
    assert len(blob) <= WORST_CASE_BYTES_PER_POINT * len(pts)
    assert unpack_points(blob) == sorted({p.timestamp: p for p in pts}.values())


def test_encoding_is_deterministic_and_order_independent() -> None:
    pts = [ScorePoint(15_000 * i, float(i % 7), i / 1000, 0) for i in range(500)]
    shuffled = pts[:]
    random.Random(1).shuffle(shuffled)
    assert pack_points(pts) == pack_points(shuffled)


def test_noisy_3_decimal_gauge_and_rank_scores_pack_near_their_entropy() -> None:
    rng = random.Random(3)
    pts = [
        ScorePoint(
            1_700_000_000_000 + 15_000 * i,
            round(20 + rng.gauss(0, 2), 3),
            rng.randrange(1001) / 1000,
            0,
        )
        for i in range(1440)
    ]
    # ~13 bits of noise per value + ~10 bits per score: the entropy alone is ~2.9 bytes
    assert len(pack_points(pts)) / len(pts) < 4.0


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny(n: int) -> None:
    pts = [ScorePoint(i, float(i), 0.0, 0) for i in range(n)]
    assert unpack_points(pack_points(pts)) == pts
