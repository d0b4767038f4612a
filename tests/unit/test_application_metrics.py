"""The application feeds the Prometheus metrics: events appended and decisions by rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqm.domain.commands import RegisterSupplier, SubmitQualificationEvidence
from sqm.domain.model import Certificate
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.observability.calls import default_metrics
from sqm.server.storage.memory import MemoryEventStore
from tests.fakes import QUALIFY_RULE_ID, FakePolicy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _sample(name: str, **labels: str) -> float:
    value = default_metrics().registry.get_sample_value(name, labels or None)
    return value or 0.0


def test_appended_events_and_fired_decisions_are_counted() -> None:
    """Each recorded event and each fired decision moves its counter, once."""
    policy = FakePolicy()
    service = SupplierService(MemoryEventStore(), lambda: policy)
    events_before = _sample("sqm_events_appended_total")
    decisions_before = _sample("sqm_decisions_total", rule_id=QUALIFY_RULE_ID, action="qualify")
    licence = Certificate(
        "business_licence",
        "BL-1",
        "SAMR",
        T0 - timedelta(days=1),
        T0 + timedelta(days=365),
    )

    service.execute(
        RegisterSupplier("metrics-co", "Metrics", "software", T0),
        RequestContext("r-1", "test"),
    )
    evidence = SubmitQualificationEvidence(
        "metrics-co", T0, scores={"capability": 90.0}, certificates=(licence,)
    )
    result = service.execute(evidence, RequestContext("r-2", "test"))
    service.execute(evidence, RequestContext("r-2", "test"))  # a replay counts nothing

    assert _sample("sqm_events_appended_total") - events_before == 1 + len(result.events)
    assert (
        _sample("sqm_decisions_total", rule_id=QUALIFY_RULE_ID, action="qualify") - decisions_before
        == 1
    )
