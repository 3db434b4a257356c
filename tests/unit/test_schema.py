"""The generated protobuf modules in aidevops/pb are what proto/ generates today."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            "proto",
            f"--python_out={tmp_path}",
            f"--mypy_out=quiet:{tmp_path}",
            *protos,
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    generated = sorted(tmp_path.rglob("*_pb2.py*"))
    assert generated, "protoc generated nothing"
    stale = [
        str(path.relative_to(tmp_path))
        for path in generated
        if (ROOT / path.relative_to(tmp_path)).read_bytes() != path.read_bytes()
    ]
    assert stale == [], "run ./dev proto and commit the result"
