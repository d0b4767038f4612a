"""Suppliers by the standing of their latest scorecard, a page at a time."""

from __future__ import annotations

from collections.abc import Callable

from sqm.domain.model import SupplierState

STANDING_SCAN_BATCH = 200
"""Suppliers read per step while looking for those in a standing."""

ListPage = Callable[[str, int], list[SupplierState]]
"""``SupplierService.list_suppliers``: up to ``limit`` suppliers after an id, in id order."""


def latest_standing(state: SupplierState) -> str:
    """The standing of the supplier's latest scorecard; empty before its first."""
    return state.scorecards[-1].standing if state.scorecards else ""


def suppliers_in_standing(
    list_page: ListPage, standing: str, after_supplier_id: str, limit: int
) -> list[SupplierState]:
    """Up to ``limit`` suppliers after ``after_supplier_id``, in id order, whose latest
    scorecard is in ``standing``.
    """
    found: list[SupplierState] = []
    after = after_supplier_id
    while len(found) < limit:
        batch = list_page(after, STANDING_SCAN_BATCH)
        found.extend(s for s in batch if latest_standing(s) == standing)
        if len(batch) < STANDING_SCAN_BATCH:
            break  # the last suppliers were read
        after = batch[-1].supplier_id
    return found[:limit]
