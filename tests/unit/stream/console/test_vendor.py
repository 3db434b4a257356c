"""The vendored uPlot is the version ./dev pins, with its licence, and the note says so.

``./dev vendor --check`` compares the files with the npm registry's tarball (network);
this offline check keeps the pin, the files and the note from drifting apart.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
VENDOR = ROOT / "stream/console/static/vendor/uplot"


def test_the_vendored_uplot_is_the_pinned_version() -> None:
    dev = (ROOT / "dev").read_text()
    version = re.search(r"^UPLOT_VERSION=(\S+)$", dev, re.M)
    integrity = re.search(r"^UPLOT_INTEGRITY=(sha512-\S+)$", dev, re.M)
    assert version and integrity
    script = (VENDOR / "uPlot.iife.min.js").read_text()
    assert script.startswith(f"/*! https://github.com/leeoniya/uPlot (v{version.group(1)}) */")
    assert (VENDOR / "LICENSE").read_text().startswith("The MIT License (MIT)")
    assert (VENDOR / "uPlot.min.css").stat().st_size > 0
    note = (VENDOR / "README.md").read_text()
    assert f"version {version.group(1)}" in note and integrity.group(1) in note
