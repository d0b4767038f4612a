"""The contract's term: when it ends, what ends with it, and what may no longer be recorded.

A contract runs on ``[starts_at, ends_at)``. Its end is a fact of the contract, not a policy
choice: no pack can keep a supplier contracted past it, so the domain ends it on the first
tick at or after ``ends_at`` whatever the pack says (a pack only reminds of it beforehand).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqm.domain import lifecycle
from sqm.domain.errors import ClaimOutsideWindow, ContractExpired, IllegalTransition
from sqm.domain.events import ContractEnded, Event, LifecycleTransitioned
from sqm.domain.lifecycle import Trigger
from sqm.domain.model import Contract, SupplierState


def has_ended(contract: Contract | None, now: datetime) -> bool:
    """True when ``contract`` exists and its end date is at or before ``now``."""
    return contract is not None and contract.ends_at <= now


def ended_events(state: SupplierState, now: datetime) -> list[Event]:
    """The events that end ``state``'s contract at ``now``: none while it runs, or once the
    supplier has left it (a terminated supplier's contract already ended with it).
    """
    contract = state.contract
    if contract is None or not has_ended(contract, now):
        return []
    if state.lifecycle not in lifecycle.UNDER_CONTRACT:
        return []
    to_state = lifecycle.fire(state.lifecycle, Trigger.EXPIRE_CONTRACT)
    cause = f"contract {contract.contract_id} ended at {contract.ends_at.isoformat()}"
    return [
        ContractEnded(now, contract.contract_id, contract.ends_at),
        LifecycleTransitioned(now, Trigger.EXPIRE_CONTRACT.value, state.lifecycle, to_state, cause),
    ]


def require_within_term(state: SupplierState, at: datetime, what: str) -> None:
    """Raise :class:`ContractExpired` when ``at`` (the moment a record is about) lies after
    the end of the supplier's contract, or the supplier left a contract that has ended.

    A terminated supplier is left to the lifecycle guard: its contract ended by termination.
    Any other supplier with a contract on file but not under it saw that contract expire.
    """
    contract = state.contract
    if contract is None or state.lifecycle in lifecycle.TERMINAL_STATES:
        return
    if at > contract.ends_at or state.lifecycle not in lifecycle.UNDER_CONTRACT:
        raise ContractExpired(contract.contract_id, contract.ends_at.isoformat(), what)


def require_in_force(state: SupplierState, at: datetime, action: str) -> None:
    """A command that acts on a contract in force (a review, an improvement plan) needs the
    contract's term still running at ``at``: :class:`ContractExpired` when the supplier is
    still under a contract whose end lies before ``at`` but no tick has ended it yet. Once
    ended, the lifecycle guard answers, as it does for a supplier never under contract.
    """
    contract = state.contract
    under = state.lifecycle in lifecycle.UNDER_CONTRACT
    if under and contract is not None and at > contract.ends_at:
        raise ContractExpired(contract.contract_id, contract.ends_at.isoformat(), action)


def past_term(state: SupplierState, at: datetime) -> bool:
    """True when ``at`` lies after the end of the contract on file."""
    return state.contract is not None and at > state.contract.ends_at


def require_running(state: SupplierState, at: datetime, action: str) -> None:
    """A record about the contract's delivery needs the contract in force when it happened:
    :class:`ContractExpired` after its end, ``IllegalTransition`` outside a contract.
    """
    require_within_term(state, at, action)
    if state.lifecycle not in lifecycle.UNDER_CONTRACT:
        raise IllegalTransition(state.lifecycle.value, action)


def check_claim_window(
    contract: Contract, loss_at: datetime, filed_at: datetime, window_days: int | None
) -> None:
    """Raise :class:`ClaimOutsideWindow` unless a loss at ``loss_at`` claimed at ``filed_at``
    may be compensated under ``contract``: the loss within the contract's term, the claim
    within ``window_days`` of the loss and of the contract's end (no window: only the term).
    """
    if not contract.starts_at <= loss_at <= contract.ends_at:
        raise ClaimOutsideWindow(
            "loss_at",
            f"{contract.starts_at.isoformat()}/{contract.ends_at.isoformat()}",
            f"the loss at {loss_at.isoformat()} lies outside contract {contract.contract_id!r}'s"
            f" term ({contract.starts_at.isoformat()} to {contract.ends_at.isoformat()})",
        )
    if window_days is None:
        return
    # The loss lies within the term, so a claim in time after the loss is also in time
    # after the contract's end.
    deadline = loss_at + timedelta(days=window_days)
    if filed_at > deadline:
        raise ClaimOutsideWindow(
            "occurred_at",
            deadline.isoformat(),
            f"the claim filed at {filed_at.isoformat()} comes after {deadline.isoformat()}:"
            f" claims must be filed within {window_days} days of the loss and of the"
            " contract's end",
        )
