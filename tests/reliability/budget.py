"""How much the reliability suite does, and the figures it reports.

CI runs every test at scale 1 (about three minutes on two cores): 20 kills, 10,000 fuzzed
requests, a few hundred mutated packs. ``SQM_RELIABILITY_SCALE=10`` multiplies every count
(and the per-test timeout) by ten for a longer hunt. The figures each test reaches are
collected here and printed at the end of the session (see ``conftest.py``), so the CI log
shows what was actually done, not only that it passed.
"""

from __future__ import annotations

import math
import os
import threading

SCALE_VARIABLE = "SQM_RELIABILITY_SCALE"
BASE_TIMEOUT_SECONDS = 300

_figures: dict[str, int] = {}
_lock = threading.Lock()


def scale() -> float:
    """The multiplier from ``SQM_RELIABILITY_SCALE`` (1 when unset); it must be positive."""
    text = os.environ.get(SCALE_VARIABLE, "").strip() or "1"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{SCALE_VARIABLE} must be a number, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{SCALE_VARIABLE} must be positive, got {text!r}")
    return value


def scaled(count: int) -> int:
    """``count`` times the scale, at least 1."""
    return max(1, math.ceil(count * scale()))


def timeout(seconds: int = BASE_TIMEOUT_SECONDS) -> int:
    """A per-test timeout that grows with the scale (pytest-timeout's default is 300 s)."""
    return scaled(seconds)


def add(figure: str, amount: int = 1) -> None:
    """Count ``amount`` more of ``figure`` (``"requests fuzzed"``); thread-safe."""
    with _lock:
        _figures[figure] = _figures.get(figure, 0) + amount


def highest(figure: str, value: int) -> None:
    """Keep the largest ``value`` seen for ``figure`` (``"slowest ... (ms)"``); thread-safe."""
    with _lock:
        _figures[figure] = max(_figures.get(figure, value), value)


def figures() -> dict[str, int]:
    """Every figure counted so far in this session."""
    with _lock:
        return dict(_figures)
