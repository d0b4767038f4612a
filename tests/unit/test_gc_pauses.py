"""The opt-in garbage collection metric: each collection's pause, by generation."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from sqm.server.config import settings_from
from sqm.server.observability.gc_pauses import GC_LOGGER, GcPauses


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    """A registry of its own, with automatic collections off so only forced ones count."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield CollectorRegistry()
    finally:
        if enabled:
            gc.enable()


def _count(registry: CollectorRegistry, generation: int) -> float:
    value = registry.get_sample_value("sqm_gc_pause_seconds_count", {"generation": str(generation)})
    return value or 0.0


def test_a_forced_full_collection_is_recorded_and_logged(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """gc.collect() shows as one generation-2 pause in the histogram and one log line."""
    pauses = GcPauses(registry)
    try:
        with caplog.at_level(logging.INFO, logger=GC_LOGGER):
            gc.collect()
    finally:
        pauses.close()

    assert _count(registry, 2) == 1
    assert (registry.get_sample_value("sqm_gc_pause_seconds_sum", {"generation": "2"}) or 0) > 0
    messages = [record.getMessage() for record in caplog.records if record.name == GC_LOGGER]
    assert len(messages) == 1
    assert messages[0].startswith("garbage collection of generation 2: ")


def test_a_young_collection_counts_under_its_own_generation(registry: CollectorRegistry) -> None:
    """gc.collect(0) is counted for generation 0, not as a full collection."""
    pauses = GcPauses(registry)
    try:
        gc.collect(0)
    finally:
        pauses.close()

    assert _count(registry, 0) == 1
    assert _count(registry, 2) == 0


def test_closing_stops_recording(registry: CollectorRegistry) -> None:
    """After close() the hook is gone from gc.callbacks and collections are not counted."""
    GcPauses(registry).close()

    gc.collect()

    assert _count(registry, 2) == 0


def test_the_setting_is_off_unless_asked_for() -> None:
    """gc_metrics defaults to off; SQM_GC_METRICS=true turns it on, a flag overrides it."""
    assert settings_from({}, {}).gc_metrics is False
    assert settings_from({}, {"SQM_GC_METRICS": "true"}).gc_metrics is True
    assert settings_from({"gc_metrics": False}, {"SQM_GC_METRICS": "true"}).gc_metrics is False


def test_deferred_pauses_reach_the_histogram_when_flushed(registry: CollectorRegistry) -> None:
    """Deferred (multiprocess mode), the hook only queues: flush and close record the pauses."""
    pauses = GcPauses(registry, deferred=True)
    try:
        gc.collect()
        pauses.flush()
        assert _count(registry, 2) == 1
        gc.collect()
    finally:
        pauses.close()
    assert _count(registry, 2) == 2
