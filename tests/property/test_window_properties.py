"""Windows read from the running aggregates the fold keeps (the window index) equal the same
windows recomputed over the supplier's kept history, for every window kind, and a snapshot
written before the index existed reads back with the index its lists give.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from sqm.domain import evolve, history
from sqm.domain.decide import decide, fold
from sqm.domain.errors import DomainError
from sqm.domain.events import (
    BreachDetected,
    Event,
    InspectionRecorded,
    MeasurementRecorded,
    SatisfactionSurveyRecorded,
    SupplierRegistered,
)
from sqm.domain.model import Breach, Measurement, Observation, Severity, SupplierState, WindowIndex
from sqm.domain.serialization import state_from_dict, state_to_dict
from sqm.domain.windows import indexed
from sqm.rules.pack_catalogue import default_catalogue
from tests.fakes import FakePolicy
from tests.strategies import EARLIEST, command_sequences

DAYS = st.sampled_from([0.5, 1.0, 7.0, 30.0, 90.0, 365.0])
OBJECTIVES = ("availability", "restore", "")
START = EARLIEST.replace(tzinfo=UTC)


@attrs.frozen
class Probe:
    """One reading of every window kind: at ``now`` (days after the last event), over ``days``."""

    days: float
    after: float
    severity: Severity
    objective: str


probes = st.builds(
    Probe, DAYS, st.floats(-30.0, 400.0), st.sampled_from(Severity), st.sampled_from(OBJECTIVES)
)


PROBES = [Probe(days, 1.0, Severity.MINOR, "") for days in (1.0, 30.0, 365.0)]


def unindexed(state: SupplierState) -> SupplierState:
    """The same supplier with no index kept: every window is recomputed over its lists."""
    return attrs.evolve(state, windows=WindowIndex(kept=(-1, -1, -1, -1)))


def readings(state: SupplierState, probe: Probe) -> tuple[object, ...]:
    """Every window kind's value for ``state`` under ``probe``."""
    last = state.updated_at or START
    now = last + timedelta(days=probe.after)
    return (
        history.breaches_within(state, now, probe.days, probe.severity, probe.objective),
        tuple(
            history.consecutive_misses(state, metric) for metric in default_catalogue().metric_ids
        ),
        history.mean_survey_score(state, now, probe.days),
        len(history.surveys_within(state, now, probe.days)),
        history.failed_inspections_within(state, now, probe.days),
    )


def assert_same_windows(state: SupplierState, probe: Probe) -> None:
    """The incremental reading equals the recomputed one."""
    assert readings(state, probe) == readings(unindexed(state), probe)
    for metric in default_catalogue().metric_ids:
        assert history.consecutive_misses(state, metric) == history.consecutive_misses_recomputed(
            state, metric
        )


def assert_old_snapshot_reads_the_same(state: SupplierState) -> None:
    """A snapshot without the index (written before it existed) reads back as ``state``."""
    old_snapshot = {k: v for k, v in state_to_dict(state).items() if k != "windows"}
    read = state_from_dict(old_snapshot)
    assert attrs.evolve(read, windows=state.windows) == state
    assert indexed(read) or not indexed(state)
    for probe in PROBES:
        assert readings(read, probe) == readings(state, probe)


# Each example folds and reads a whole story: fewer of them keep the file under a minute.
@settings(max_examples=60)
@given(command_sequences(), probes)
def test_windows_of_generated_command_histories_equal_their_recomputation(
    sequence: list[object], probe: Probe
) -> None:
    """After every command of a random story, each window read from the index is the
    window recomputed over the history.
    """
    policy, state = FakePolicy(), None
    for command in sequence:
        try:
            state = fold(decide(command, state, policy), state)  # type: ignore[arg-type]
        except DomainError:
            continue
        if state is not None:
            assert_same_windows(state, probe)
    if state is not None:
        assert_old_snapshot_reads_the_same(state)
    if state is not None:
        assert_old_snapshot_reads_the_same(state)


@st.composite
def monitoring_histories(draw: st.DrawFn) -> list[Event]:
    """A registration, then measurements, breaches, surveys and inspections in time order
    (now and then a measurement whose period ends before the last one's).
    """
    at = START
    events: list[Event] = [SupplierRegistered("acme", "ACME", "software", at)]
    for _ in range(draw(st.integers(0, 40))):
        at += timedelta(hours=draw(st.integers(0, 24 * 20)))
        events.append(draw(_records(at)))
    return events


def _records(at: datetime) -> st.SearchStrategy[Event]:
    metric = st.sampled_from(["availability", "mean_time_to_restore"])
    objective = st.sampled_from(OBJECTIVES[:2])
    period_end = st.sampled_from([at, at - timedelta(days=40)])
    return st.one_of(
        st.builds(
            lambda m, o, met, end: MeasurementRecorded(
                at, Measurement(o, m, 1.0, end - timedelta(days=30), end, met, at)
            ),
            metric, objective, st.booleans(), period_end,
        ),
        st.builds(
            lambda m, o, s: BreachDetected(at, Breach(o, m, s, 1.0, 2.0, 1.0, at, at)),
            metric, objective, st.sampled_from(Severity),
        ),
        st.builds(
            lambda v: SatisfactionSurveyRecorded(at, Observation(at, v), 10),
            st.floats(0.0, 100.0),
        ),
        st.builds(
            lambda ok: InspectionRecorded(at, Observation(at, 1.0 if ok else 0.0, ok)),
            st.booleans(),
        ),
    )  # fmt: skip


@contextmanager
def history_limit(limit: int) -> Iterator[None]:
    """Keep only ``limit`` records of each kind, so the oldest are dropped within a test."""
    kept = evolve.HISTORY_LIMIT
    evolve.HISTORY_LIMIT = limit
    try:
        yield
    finally:
        evolve.HISTORY_LIMIT = kept


@settings(max_examples=60)
@given(monitoring_histories(), st.integers(3, 80), probes)
def test_windows_kept_while_records_are_dropped_equal_their_recomputation(
    events: Sequence[Event], limit: int, probe: Probe
) -> None:
    """With the oldest records dropped past the history limit, every window read from the
    index still equals its recomputation over what is kept.
    """
    with history_limit(limit):
        state: SupplierState | None = None
        for event in events:
            state = evolve.apply(state, event)
            assert_same_windows(state, probe)
        assert state is not None
        assert_old_snapshot_reads_the_same(state)
        assert state is not None
        assert_old_snapshot_reads_the_same(state)


def test_a_folded_history_in_time_order_is_read_from_its_index() -> None:
    """The fast path is the one taken for a history that arrived in order."""
    at = START
    events: list[Event] = [SupplierRegistered("acme", "ACME", "software", at)]
    for day in range(1, 5):
        end = at + timedelta(days=day)
        measured = Measurement("availability", "availability", 1.0, end, end, False, end)
        events.append(MeasurementRecorded(end, measured))
    state = fold(events)
    assert state is not None
    assert indexed(state)
    assert state.windows.miss_streaks == {"availability": 4}


@contextmanager
def scan_whole_below(length: int) -> Iterator[None]:
    """Scan whole only the history lists shorter than ``length`` (0: read every window
    through the index, by bisection, however short its list).
    """
    kept = history.SCAN_WHOLE_BELOW
    history.SCAN_WHOLE_BELOW = length
    try:
        yield
    finally:
        history.SCAN_WHOLE_BELOW = kept


@settings(max_examples=60)
@given(monitoring_histories(), st.integers(3, 80), probes)
def test_windows_bisected_on_short_lists_equal_their_recomputation(
    events: Sequence[Event], limit: int, probe: Probe
) -> None:
    """Short lists are scanned whole; read through the index instead (bisection), every
    window of the same histories still equals its recomputation.
    """
    inner = test_windows_kept_while_records_are_dropped_equal_their_recomputation.hypothesis
    with scan_whole_below(0):
        inner.inner_test(events, limit, probe)  # type: ignore[attr-defined]
