"""Hypothesis profiles for the whole suite; pick one with ``HYPOTHESIS_PROFILE`` (default ``dev``).

- ``ci``: deterministic (same examples on every run, no example database), about 200 examples
  per property, no deadline: shared CI machines have noisy timings, and a flaky deadline is
  worse than none.
- ``dev``: Hypothesis's defaults, for quick local runs that still explore.
- ``thorough``: 2,000 examples per property, for a longer hunt before a release.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests import postgres

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", deadline=None)
settings.register_profile(
    "thorough",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in capitals when PostgreSQL tests were skipped: a skip is not a pass."""
    reason = postgres.skipped_reason()
    if reason:
        terminalreporter.section("PostgreSQL", sep="!", red=True, bold=True)
        terminalreporter.line(f"POSTGRESQL TESTS WERE SKIPPED: {reason}", red=True, bold=True)
