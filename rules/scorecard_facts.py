"""The deadlines facts of a supplier's latest scorecard: its score, its standing, and whether
the tick being decided closed it. Facts never hold None: before the first scorecard they take
the catalogue's neutral values.
"""

from __future__ import annotations

from datetime import datetime

from sqm.domain.model import FactValue, SupplierState
from sqm.rules.catalogue import NO_SCORECARD_SCORE, NONE_TEXT


def scorecard_facts(supplier: SupplierState, now: datetime) -> dict[str, FactValue]:
    """``scorecard_score``, ``standing`` and ``scorecard_closed_now`` at ``now``."""
    latest = supplier.scorecards[-1] if supplier.scorecards else None
    if latest is None or not latest.standing:
        return {
            "scorecard_score": NO_SCORECARD_SCORE,
            "standing": NONE_TEXT,
            "scorecard_closed_now": latest is not None and latest.closed_at == now,
        }
    return {
        "scorecard_score": latest.score,
        "standing": latest.standing,
        "scorecard_closed_now": latest.closed_at == now,
    }
