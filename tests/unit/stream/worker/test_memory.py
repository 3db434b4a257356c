"""Free heap pages go back to the system after a checkpoint."""

from __future__ import annotations

import os

import numpy as np
import pytest

from stream.worker import memory


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(memory._TRIM is None, reason="the C library has no malloc_trim")
def test_holes_left_by_freed_step_temporaries_are_released() -> None:
    """What a worker's steps do: a large block freed (glibc then serves blocks below its
    size from the heap), then temporaries of a few hundred kilobytes made and freed between
    ones that stay. Their holes stay resident until the heap is trimmed."""
    big = np.ones(48 * 2**20, dtype=np.uint8)
    del big  # the mmap threshold rises to this size
    blocks = [np.ones(256 * 1024, dtype=np.uint8) for _ in range(400)]
    kept = blocks[1::2]
    del blocks  # every other block freed: 50 MB of holes between the kept ones
    memory.release_free_memory()  # (a first trim: what the test's own start-up left)
    holes = [np.ones(256 * 1024, dtype=np.uint8) for _ in range(200)]
    del holes
    before = _rss()
    assert memory.release_free_memory()
    assert before - _rss() > 20 * 2**20
    assert len(kept) == 200


def test_without_malloc_trim_nothing_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_TRIM", None)
    assert memory.release_free_memory() is False
