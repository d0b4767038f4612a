"""The running aggregates behind a supplier's windows (:class:`~sqm.domain.model.WindowIndex`).

The fold keeps them as each record arrives; :mod:`sqm.domain.history` reads a window from
them, or, for a state the fold did not build, recomputes it over the lists as it always did.
Both give the same value (``tests/property/test_window_properties.py`` holds them to it).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqm.domain.model import Measurement, SupplierState, WindowIndex

T = TypeVar("T")

MEASUREMENTS, BREACHES, SURVEYS, INSPECTIONS = range(4)


def indexed(state: SupplierState) -> bool:
    """True when ``state``'s index was kept for its lists and they are in time order."""
    index = state.windows
    return index.in_order and index.kept == (
        len(state.measurements),
        len(state.breaches),
        len(state.surveys),
        len(state.inspections),
    )


def _kept(index: WindowIndex, which: int, length: int) -> tuple[int, int, int, int]:
    m, b, s, i = index.kept
    if which == MEASUREMENTS:
        return (length, b, s, i)
    if which == BREACHES:
        return (m, length, s, i)
    if which == SURVEYS:
        return (m, b, length, i)
    return (m, b, s, length)


def after_measurement(
    index: WindowIndex, before: Sequence[Measurement], added: Measurement, length: int
) -> WindowIndex:
    """The index once ``added`` joins measurements ``before`` (kept: ``length`` of them;
    the oldest is dropped when the list was full).
    """
    in_order = index.in_order and (not before or before[-1].period_end <= added.period_end)
    counts = dict(index.metric_counts)
    streaks = dict(index.miss_streaks)
    metric = added.metric
    counts[metric] = counts.get(metric, 0) + 1
    streaks[metric] = 0 if added.met else streaks.get(metric, 0) + 1
    if length == len(before):  # full: the oldest measurement was dropped
        dropped = before[0].metric
        counts[dropped] -= 1
        streaks[dropped] = min(streaks.get(dropped, 0), counts[dropped])
        if not counts[dropped]:
            del counts[dropped], streaks[dropped]
    # Built directly: ``attrs.evolve`` looks the class's fields up on every call, and the
    # fold runs this for every measurement.
    return WindowIndex(_kept(index, MEASUREMENTS, length), in_order, streaks, counts)


def after_record(
    index: WindowIndex, which: int, before: Sequence[T], added: T, length: int, *,
    at: Callable[[T], datetime],
) -> WindowIndex:  # fmt: skip
    """The index once ``added`` joins the breaches, surveys or inspections ``before``."""
    in_order = index.in_order and (not before or at(before[-1]) <= at(added))
    return WindowIndex(
        _kept(index, which, length), in_order, index.miss_streaks, index.metric_counts
    )


def index_of(state: SupplierState) -> WindowIndex:
    """The index of ``state``'s kept lists, for a snapshot written before the index existed.

    It gives the windows the fold's own index gives; it can differ from that index only in
    ``in_order`` (a record out of order that has since been dropped), which costs speed,
    never a value.
    """
    index = WindowIndex()
    measurements = state.measurements
    for n, measurement in enumerate(measurements):
        index = after_measurement(index, measurements[:n], measurement, n + 1)
    index = _records(index, BREACHES, state.breaches, lambda b: b.detected_at)
    index = _records(index, SURVEYS, state.surveys, lambda s: s.at)
    return _records(index, INSPECTIONS, state.inspections, lambda i: i.at)


def _records(
    index: WindowIndex, which: int, items: Sequence[T], at: Callable[[T], datetime]
) -> WindowIndex:
    for n, item in enumerate(items):
        index = after_record(index, which, items[max(n - 1, 0) : n], item, n + 1, at=at)
    return index


def in_window(items: Sequence[T], since: datetime, at: Callable[[T], datetime]) -> Sequence[T]:
    """The items after ``since`` of a list in time order: a suffix, found by bisection."""
    return items[bisect_right(items, since, key=at) :]
