"""Every output of a long mixed workload, hashed: performance work must not change a bit.

The detector bank and the engine are optimised often; their outputs (scores, alerts,
checkpoints, /metrics exports) must stay byte-identical unless a change means to alter
them. The workload and the hash are in :mod:`tests.support.workload`.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

from tests.support.workload import engine_digest, mixed_rounds

# Update only for a change that means to alter outputs, and say so in its commit message:
#   .venv/bin/python benchmarks/engine.py --digest
EXPECTED = "726716590082707dd7c32497823a624475d3a85834215c6588b691ffe9b1ec16"
# The bytes also depend on numpy's floating-point kernels (exp, log, sums) and on cramjam's
# LZ4 output: the digest holds for these versions, and is recorded again after an upgrade.
RECORDED_WITH = {"numpy": "2.4.6", "cramjam": "2.14.0"}


def test_a_mixed_workload_gives_the_same_outputs_bit_for_bit() -> None:
    installed = {name: version(name) for name in RECORDED_WITH}
    if installed != RECORDED_WITH:
        pytest.skip(f"digest recorded with {RECORDED_WITH}, installed {installed}: record it again")
    digest = engine_digest(mixed_rounds())
    assert digest == EXPECTED, (
        f"the engine's outputs changed (digest {digest}). If that is intended (a change of "
        "scores, alerts or checkpoints, said in the commit message), set EXPECTED in "
        "tests/unit/stream/worker/test_engine_digest.py to the value printed by "
        "`.venv/bin/python benchmarks/engine.py --digest`; if not, the change broke "
        "bit-identical scoring."
    )
