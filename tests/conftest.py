"""Hypothesis profiles for the whole suite; pick one with ``HYPOTHESIS_PROFILE`` (default ``dev``).

- ``ci``: deterministic (same examples on every run, no example database), about 200 examples
  per property, no deadline: shared CI machines have noisy timings, and a flaky deadline is
  worse than none.
- ``dev``: Hypothesis's defaults, for quick local runs that still explore.
- ``thorough``: 2,000 examples per property, for a longer hunt before a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
