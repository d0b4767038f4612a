"""Suppliers by the standing of their latest scorecard, a page at a time, and the check that
the standing asked for is one the active policy declares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqm.domain.errors import FieldViolation, InvalidCommand
from sqm.domain.model import SupplierState
from sqm.domain.ports import Policy
from sqm.domain.scorecard_records import Standing

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


def require_standing(policy: Policy, standing: str) -> None:
    """Refuse a standing ``policy``'s scorecard does not declare: a typo would list nobody."""
    spec = policy.scorecard
    if spec is not None and spec.standing(standing) is not None:
        return
    if spec is None:
        why = "the active policy declares no scorecard standings"
    else:
        why = f"not a standing of the active policy; expected one of: {_ids(spec.standings)}"
    raise InvalidCommand([FieldViolation("standing", why)])


def _ids(standings: Sequence[Standing]) -> str:
    return ", ".join(s.id for s in standings)
