"""How much the reliability suite does, and the figures it reports.

CI runs every test at scale 1 (about three minutes on two cores): 20 kills, 10,000 fuzzed
requests, a few hundred mutated packs. ``SQM_RELIABILITY_SCALE=10`` multiplies every count
(and the per-test timeout) by ten for a longer hunt. The figures each test reaches are
collected here and printed at the end of the session (see ``tests/conftest.py``), so the CI
log shows what was actually done, not only that it passed.

Under pytest-xdist the tests run in worker processes, so these module-level counts live in the
workers: each test's share is attached to its report (``user_properties``, see
``conftest.py``) and the session's figures are summed from the reports the controller
receives (:func:`merge`), in a serial run and a parallel one alike.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable

SCALE_VARIABLE = "SQM_RELIABILITY_SCALE"
BASE_TIMEOUT_SECONDS = 300

_figures: dict[str, int] = {}
_kinds: dict[str, str] = {}
"""How each figure combines across tests: ``"sum"`` (:func:`add`) or ``"max"`` (:func:`highest`)."""
_lock = threading.Lock()
REPORT_PROPERTY = "reliability figures"
"""The ``user_properties`` name under which a test's share of the figures travels."""


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
        _kinds[figure] = "sum"


def highest(figure: str, value: int) -> None:
    """Keep the largest ``value`` seen for ``figure`` (``"slowest ... (ms)"``); thread-safe."""
    with _lock:
        _figures[figure] = max(_figures.get(figure, value), value)
        _kinds[figure] = "max"


def figures() -> dict[str, int]:
    """Every figure counted so far in this session."""
    with _lock:
        return dict(_figures)


def share_since(before: dict[str, int]) -> dict[str, tuple[str, int]]:
    """What changed since ``before`` (a :func:`figures` copy): each figure's kind and, for a
    sum, the amount added since, for a maximum, the value now.
    """
    with _lock:
        share = {}
        for name, value in _figures.items():
            if value == before.get(name):
                continue
            kind = _kinds.get(name, "sum")
            share[name] = (kind, value - before.get(name, 0) if kind == "sum" else value)
        return share


def merge(shares: Iterable[dict[str, tuple[str, int]]]) -> dict[str, int]:
    """The session's figures from every test's :func:`share_since`."""
    total: dict[str, int] = {}
    for share in shares:
        for name, (kind, value) in share.items():
            if kind == "max":
                total[name] = max(total.get(name, value), value)
            else:
                total[name] = total.get(name, 0) + value
    return total
