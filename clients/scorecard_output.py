"""``sqm supplier scorecard ID`` for people: the scorecards, latest first, with the trend, and
the latest one's KPIs with how each was computed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from sqm.v1 import resources_pb2 as pb

TREND_STEP = 0.5
"""A change of score smaller than this reads as steady."""


def trend(change: float) -> str:
    """An arrow and the change of score from the period before: ``↑ +4.5``, ``→ 0``."""
    if change >= TREND_STEP:
        return f"↑ +{change:g}"
    if change <= -TREND_STEP:
        return f"↓ {change:g}"
    return f"→ {change:+g}" if change else "→ 0"


def scorecards_text(supplier: pb.Supplier) -> str:
    """Every kept scorecard in a table, then the latest one's KPIs."""
    if not supplier.scorecards:
        return f"{supplier.supplier_id}: no closed scorecard yet"
    oldest = len(supplier.scorecards) - 1
    rows = [
        (card.period, f"{card.score:g}", trend(card.score_change) if i < oldest else "-",
         _standing(card))
        for i, card in enumerate(supplier.scorecards)
    ]  # fmt: skip
    latest = supplier.scorecards[0]
    parts = [
        f"{supplier.supplier_id} ({supplier.display_name}): scorecards, latest first",
        table(("PERIOD", "SCORE", "TREND", "STANDING"), rows),
        "",
        f"{latest.period}: KPIs",
        table(("KPI", "VALUE", "SCORE", "WEIGHT USED", "BASIS"), [_kpi(k) for k in latest.kpis]),
    ]
    if latest.weights_note:
        parts.append(latest.weights_note)
    return "\n".join(parts)


def _standing(card: pb.Scorecard) -> str:
    if not card.standing:
        return "not rated"
    blocked = [
        name
        for name, applies in (
            ("shortlisting", card.blocks_shortlisting),
            ("award", card.blocks_award),
        )
        if applies
    ]
    warned = [
        name
        for name, applies in (
            ("shortlisting", card.warns_shortlisting),
            ("award", card.warns_award),
        )
        if applies
    ]
    effect = f" (blocks {' and '.join(blocked)})" if blocked else ""
    effect += f" (warns on {' and '.join(warned)})" if warned else ""
    if card.review_every_days:
        effect += f" (business review every {card.review_every_days} days)"
    return f"{card.standing_title}{effect}"


def _kpi(kpi: pb.ScorecardKpi) -> tuple[str, str, str, str, str]:
    if not kpi.has_data:
        return (kpi.title, "-", "-", "0", kpi.basis)
    used = f"{kpi.weight_used:.4g}"
    return (kpi.title, f"{kpi.value:g}", f"{kpi.score:g}", used, kpi.basis)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell as a terminal shows it (a Chinese character takes
    two columns, so KPI titles line up), two spaces apart; the last is not padded.
    """
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(_width(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(_padded(cell, width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _padded(cell: str, width: int) -> str:
    return cell + " " * (width - _width(cell))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
