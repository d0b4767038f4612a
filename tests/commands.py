"""The ``sqm`` command as tests run it: ``python -m sqm.server ARGS`` in a process of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sqm.rules import default_pack_dir


def sqm(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``sqm ARGS`` as a person would, capturing its output (never raising on failure)."""
    return subprocess.run(
        [sys.executable, "-m", "sqm.server", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def default_pack_variant(folder: Path, file: str, old: str, new: str) -> Path:
    """A copy of the default pack in ``folder`` with ``old`` replaced by ``new`` in ``file``."""
    shutil.copytree(default_pack_dir(), folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    edited = text.replace(old, new)
    if edited == text:
        raise ValueError(f"{old!r} is not in {file}: the variant would equal the default pack")
    path.write_text(edited, encoding="utf-8")
    return folder
