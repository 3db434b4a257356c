"""A worker's scoring steps replayed in process: samples per CPU-second, no broker, no Faust.

    .venv/bin/python benchmarks/worker_steps.py [--series 4000] [--history 410] [--rounds 40]

The records are the ones a worker reads in ``benchmarks/worker.py``: each round's
remote-write requests (500 series x 1 sample, 10 labels each) decoded and packed per
partition by the receiver's own code. They are scored in steps composed as
:meth:`stream.worker.scoring.ScoringService.step` composes them (partitions in turn, at most
``STEP_BYTES`` of records a step), each record decoded and checked for series to split,
then :meth:`ScoringEngine.process`, and /metrics' score export updated. Rounds up to
``--history`` go the same way untimed; the process CPU time of the ``--rounds`` after them
is the figure (the steady state of long-lived series), with the part spent in the detector
bank. What it leaves out, the worker benchmark measures: Kafka fetch and produce, Faust.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path

import snappy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aidevops.batches import SamplesIndex, decode_samples  # noqa: E402
from benchmarks.worker import PARTITIONS, PER_REQUEST, _request, metadata_request  # noqa: E402
from receiver.decoding import RemoteWriteDecoder  # noqa: E402
from receiver.negotiation import RemoteWriteProtocol  # noqa: E402
from receiver.publisher import samples_batches  # noqa: E402
from stream.alerting.policy import AlertPolicy, PolicyConfig  # noqa: E402
from stream.worker.engine import Record, ScoringEngine  # noqa: E402
from stream.worker.exposition import AnomalyScores  # noqa: E402
from stream.worker.scoring import (  # noqa: E402
    SPLIT_BYTES,
    STEP_BYTES,
    STEP_ROUNDS,
    fits,
    split_record,
    usable_index,
)


def _records(decoder: RemoteWriteDecoder, series: int, round_: int) -> list[tuple[int, bytes]]:
    """(partition, value) of every record the receiver writes for one round."""
    out = []
    for first in range(0, series, PER_REQUEST):
        body = snappy.decompress(_request(first, min(PER_REQUEST, series - first), round_))
        decoded = decoder.decode(RemoteWriteProtocol.V1, body, "default", 1)
        out += [
            (p, value)
            for p, _, value in samples_batches(
                decoded.records,
                PARTITIONS,
                index_samples=decoded.index_samples,
                received_at=decoded.received_at,
            )
        ]
    return out


def _steps(records: list[tuple[int, bytes]]) -> list[list[tuple[int, Record | SamplesIndex]]]:
    """The records in steps, each decoded and split-checked as the scoring service does."""
    inbox: dict[int, deque[bytes]] = {}
    for partition, value in records:
        inbox.setdefault(partition, deque()).append(value)
    steps = []
    while any(inbox.values()):
        step: list[tuple[int, Record | SamplesIndex]] = []
        left = STEP_BYTES
        for partition, queue in inbox.items():
            while queue and left > 0:
                value = queue.popleft()
                record = usable_index(value) or decode_samples(value)
                if (
                    not isinstance(record, SamplesIndex)
                    and len(value) > SPLIT_BYTES
                    and not fits(value, STEP_ROUNDS)
                ):
                    split_record(record, STEP_ROUNDS)  # none here: every series has one sample
                step.append((partition, record))
                left -= len(value)
        steps.append(step)
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=4_000)
    parser.add_argument("--history", type=int, default=410)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    decoder = RemoteWriteDecoder()
    metadata = snappy.decompress(metadata_request())
    decoder.decode(RemoteWriteProtocol.V1, metadata, "default", 0)
    engine = ScoringEngine(AlertPolicy(PolicyConfig()))
    exported = AnomalyScores(limit=0)  # as the worker benchmark runs it
    for round_ in range(1, args.history + 1):
        for step in _steps(_records(decoder, args.series, round_)):
            engine.process(step)
    timed = [
        _records(decoder, args.series, r)
        for r in range(args.history + 1, args.history + args.rounds + 1)
    ]
    process = engine.bank.process
    in_bank = 0.0

    def timed_bank(*args: object, **kwargs: object) -> object:
        nonlocal in_bank
        started = time.process_time()
        try:
            return process(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            in_bank += time.process_time() - started

    engine.bank.process = timed_bank  # type: ignore[method-assign]
    samples = 0
    started = time.process_time()
    for records in timed:
        for step in _steps(records):
            out = engine.process(step)
            for series_id, value, score, episode, ended in out.exported:
                exported.update_encoded(series_id, value, score, episode, ended)
            samples += out.samples
    cpu = time.process_time() - started
    print(
        f"worker steps: {samples:,} samples ({args.series:,} series x rounds "
        f"{args.history + 1}-{args.history + args.rounds}) in {cpu:.2f} CPU-s: "
        f"{samples / cpu:,.0f} samples/cpu-s; {in_bank / samples * 1e6:.2f} us a sample in the "
        f"detector bank, {(cpu - in_bank) / samples * 1e6:.2f} us outside it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
