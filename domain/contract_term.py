"""The contract's term: when it ends, what ends with it, and what may no longer be recorded.

A contract runs on ``[starts_at, ends_at)``. Its end is a fact of the contract, not a policy
choice: no pack can keep a supplier contracted past it, so the domain ends it on the first
tick at or after ``ends_at`` whatever the pack says (a pack only reminds of it beforehand).
"""

from __future__ import annotations

from datetime import datetime

from sqm.domain import lifecycle
from sqm.domain.errors import ContractExpired
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
