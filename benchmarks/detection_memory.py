"""Memory per live series: RSS growth while 10,000 series are created and fed.

Usage: ``python benchmarks/detection_memory.py [--series N] [--batch B]``. Every series learns
more than one HST window (so every page of its state has been written) before RSS is read
from ``/proc/self/statm``; the figure is the growth divided by the number of series. Samples
are processed in batches of ``B`` (2,000, the worker's ``AIDEVOPS_BATCH_SIZE``): a batch's
numpy temporaries are retained by the allocator, so one batch of every series would count
them as per-series memory. The heap's free pages are released before RSS is read, as the
worker does after each checkpoint (:mod:`stream.worker.memory`). Also prints the bytes of
state arrays per series and the size of one serialized per-series state (what a Faust table
or checkpoint stores).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from stream.detection.bank import DetectorBank  # noqa: E402
from stream.detection.config import DetectorConfig  # noqa: E402
from stream.worker.memory import release_free_memory  # noqa: E402


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()
    config = DetectorConfig()
    n = args.series
    rng = np.random.default_rng(0)
    warm = DetectorBank(config, capacity=1)  # forest, imports and numpy caches, outside the count
    warm.process([0], np.array([0]), np.array([1.0]))
    before = rss_bytes()
    bank = DetectorBank(config, capacity=1024)  # grows by doubling, as in the worker
    keys = [int(k) for k in rng.integers(0, 2**63, n)]  # 64-bit series ids
    levels = rng.uniform(1.0, 1000.0, n)
    for step in range(config.window_size + 20):
        values = levels * (1.0 + 0.05 * rng.standard_normal(n))
        for start in range(0, n, args.batch):
            stop = min(start + args.batch, n)
            bank.process(keys[start:stop], np.full(stop - start, step * 15_000), values[start:stop])
    untrimmed = rss_bytes()
    release_free_memory()  # as the worker does after each checkpoint
    after = rss_bytes()
    per_series = (after - before) / n
    state = bank.state_bytes(keys[0])
    print(f"live series: {len(bank)}; RSS growth: {(after - before) / 2**20:.1f} MiB")
    print(
        f"memory per live series: {per_series / 1024:.1f} KB/series "
        f"({(untrimmed - before) / n / 1024:.1f} KB before the heap's free pages were released)"
    )
    print(f"state arrays per series: {bank.row_bytes} bytes")
    print(f"serialized state of one series: {len(state)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
