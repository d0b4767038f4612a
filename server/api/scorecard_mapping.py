"""Closed scorecards to API resources, latest first with each one's change of score."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sqm.domain.scorecard_records import KpiResult, Scorecard
from sqm.server.api.proto_values import set_time
from sqm.v1 import resources_pb2 as pb


def scorecards(kept: Sequence[Scorecard]) -> list[pb.Scorecard]:
    """``kept`` (oldest first, as the state keeps them) latest first, each with its change
    from the period before it (0 for the oldest kept).
    """
    if not kept:
        return []
    changes = [0.0, *(card.score - before.score for before, card in itertools.pairwise(kept))]
    return [
        scorecard(card, change) for card, change in reversed(list(zip(kept, changes, strict=True)))
    ]


def scorecard(card: Scorecard, score_change: float = 0.0) -> pb.Scorecard:
    """The API view of one closed scorecard."""
    message = pb.Scorecard(
        period=card.period,
        score=card.score,
        standing=card.standing,
        standing_title=card.standing_title,
        kpis=[_kpi(k) for k in card.kpis],
        weights_note=card.weights_note,
        policy_version=card.policy_version,
        blocks_shortlisting=card.blocks_shortlisting,
        score_change=round(score_change, 2),
        blocks_award=card.blocks_award,
        warns_shortlisting=card.warns_shortlisting,
        warns_award=card.warns_award,
        review_every_days=card.review_every_days,
    )
    set_time(message.start_time, card.period_start)
    set_time(message.end_time, card.period_end)
    return message


def _kpi(kpi: KpiResult) -> pb.ScorecardKpi:
    return pb.ScorecardKpi(
        kpi_id=kpi.kpi_id,
        title=kpi.title,
        measure=kpi.measure,
        value=kpi.value,
        score=kpi.score,
        weight=kpi.weight,
        weight_used=kpi.weight_used,
        has_data=kpi.has_data,
        basis=kpi.basis,
    )
