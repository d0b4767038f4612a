"""``sqm simulate run`` as a user runs it: the command, timed from start to exit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqm.rules import default_pack_dir


def supplier_months_per_second(suppliers: int, months: int, folder: Path, jobs: int = 1) -> float:
    """Supplier-months a second of ``sqm simulate run --jobs JOBS`` (baseline scenario,
    seed 1).
    """
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "sqm.server", "simulate", "run", str(default_pack_dir()),
        "--suppliers", str(suppliers), "--months", str(months), "--seed", "1",
        "--jobs", str(jobs), "--json", str(folder / f"simulation-{jobs}.json"),
    ]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own command
    return suppliers * months / (time.perf_counter() - began)


def scenarios_per_second(examples: int, folder: Path, jobs: int = 1) -> float:
    """Scenarios a second of ``sqm simulate check --jobs JOBS`` on the default pack (seed 0),
    a search in which every invariant holds, so every scenario is tried.
    """
    command = [
        sys.executable, "-m", "sqm.server", "simulate", "check", str(default_pack_dir()),
        "--max-examples", str(examples), "--seed", "0", "--jobs", str(jobs),
        "--out", str(folder / f"check-{jobs}"),
    ]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own command
    return examples / (time.perf_counter() - began)
