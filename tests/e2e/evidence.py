"""Evidence that does, or does not, satisfy the default telecom pack's qualification rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqm.client import certificate
from sqm.v1 import resources_pb2 as pb

DECISION_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

GOOD_SCORES = {
    "capability": 85.0,
    "price": 78.0,
    "delivery_lead_time": 80.0,
    "quality_management": 90.0,
    "past_performance": 75.0,
}
POOR_SCORES = dict.fromkeys(GOOD_SCORES, 40.0)


def certificates_for_network_equipment(valid_until: datetime | None = None) -> list[pb.Certificate]:
    """Business licence, ISO 9001 and TL 9000, valid around the decision time."""
    start = DECISION_TIME - timedelta(days=365)
    end = valid_until or DECISION_TIME + timedelta(days=365)
    kinds = {
        "business_licence": "SAMR",
        "iso_9001": "BSI",
        "tl_9000": "QuEST Forum",
    }
    return [certificate(kind, f"CERT-{kind}", issuer, start, end) for kind, issuer in kinds.items()]
