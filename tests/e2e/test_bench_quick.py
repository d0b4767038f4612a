"""The benchmark suite's quick mode runs end to end, so the bench code cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import require_postgres

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MEASURED = (
    "2 streaming", "3 unary", "4 replay", "5 start-up", "5 GetSupplier", "6 sqm simulate",
    "3 unary ingestion, 8 connections, 2 workers", "4 replay, --jobs 2",
    "6 sqm simulate run --jobs 2", "6 sqm simulate check --jobs 2", "8 policy loop",
)  # fmt: skip
ON_POSTGRES = (
    "2 streaming ingestion on PostgreSQL, one instance",
    "2 streaming ingestion on PostgreSQL, two instances",
    "3 unary ingestion on PostgreSQL, one instance",
    "3 unary ingestion on PostgreSQL, 8 connections, one instance",
    "3 unary ingestion on PostgreSQL, 8 connections, two instances",
)


def test_the_quick_benchmark_prints_every_figure_with_its_ceiling(tmp_path: Path) -> None:
    """`python -m bench --quick` measures every figure, each with a ceiling and a ratio."""
    require_postgres()  # the ingestion figures on PostgreSQL are part of the run
    target = tmp_path / "quick.json"
    # Run from tmp_path: the bench keeps its stores and scratch files under ./var/bench, which
    # must not be the checkout's (a developer's cache, or another run of the suite, shares it).
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)

    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(target)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": path},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(target.read_text())["figures"]
    names = [f["name"] for f in figures]
    for prefix in MEASURED + ON_POSTGRES:
        assert any(name.startswith(prefix) for name in names), prefix
    for figure in figures:
        if not figure["name"].startswith("ceiling"):
            assert figure["ceiling"], figure
            assert figure["ratio"] is not None, figure
            assert figure["name"] in finished.stdout
