"""Supplier segmentation (供应商分级): the pack's classes of suppliers, and which one a supplier
falls in.

A pack lists its segments in order; a supplier is in the first whose every condition it meets:
its service category is one listed, its contract's monthly fee reaches the minimum (in the
same currency), and its latest scorecard's standing is one listed. A condition left out holds
for every supplier. The class is the fact ``segment`` rules use.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from sqm.domain.model import Money, SupplierState

NO_STANDING = "none"
"""The standing a segment lists to take suppliers with no rated scorecard yet."""

NO_SEGMENT = "none"
"""The segment of a supplier no segment takes (a pack should end with a catch-all)."""


@attrs.frozen
class Segment:
    """One class of suppliers and the conditions a supplier meets to be in it."""

    id: str
    title: str
    categories: tuple[str, ...] = ()
    """Service categories taken (every category when empty)."""
    min_monthly_fee: Money | None = None
    """The least monthly fee of the supplier's contract (any supplier, even without a
    contract, when None)."""
    standings: tuple[str, ...] = ()
    """Standings of the latest scorecard taken (every standing when empty); ``none`` takes
    a supplier not rated yet."""

    def takes(self, supplier: SupplierState) -> bool:
        """Whether ``supplier`` meets every condition of this segment."""
        return (
            (not self.categories or str(supplier.category) in self.categories)
            and (self.min_monthly_fee is None or _fee_reaches(supplier, self.min_monthly_fee))
            and (not self.standings or _standing(supplier) in self.standings)
        )


def segment_of(segments: Sequence[Segment], supplier: SupplierState) -> str:
    """The id of the first of ``segments`` that takes ``supplier``; ``none`` if none does."""
    return next((s.id for s in segments if s.takes(supplier)), NO_SEGMENT)


def _fee_reaches(supplier: SupplierState, minimum: Money) -> bool:
    contract = supplier.contract
    if contract is None:
        return False
    fee = contract.monthly_fee
    return fee.currency == minimum.currency and fee.amount >= minimum.amount


def _standing(supplier: SupplierState) -> str:
    latest = supplier.scorecards[-1] if supplier.scorecards else None
    return latest.standing if latest is not None and latest.standing else NO_STANDING
