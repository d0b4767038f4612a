"""Turning events and state into plain JSON-ready data and back (cattrs), and canonical bytes.

Canonical JSON (sorted keys, no insignificant white space, UTF-8) is what the hash chain
covers, so the same event always hashes the same on every machine and in every store.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from sqm.domain.events import EVENT_TYPES, DecisionRecorded, Event, event_type
from sqm.domain.model import (
    Contract,
    FactValue,
    ImprovementPlan,
    Milestone,
    ProblemTicket,
    Review,
    SupplierState,
)
from sqm.domain.needs import NEED_EVENT_TYPES, NeedEvent, NeedOpened, NeedState
from sqm.domain.policy_changes import (
    POLICY_CHANGE_EVENT_TYPES,
    PolicyChangeEvent,
    PolicyChanges,
)
from sqm.domain.windows import index_of

converter = cattrs.Converter()


# Cached: a snapshot holds hundreds of times, the same ones command after command, and
# formatting or parsing them was most of a snapshot's (de)serialisation. Both are pure.
TIME_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=TIME_CACHE_SIZE)
def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``: one spelling per instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not allowed in the domain; give a timezone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=TIME_CACHE_SIZE)
def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time` (accepts any RFC 3339 offset, refuses none)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        # Reading it in the machine's zone would make replay depend on where it runs.
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment.astimezone(UTC)


def _structure_fact_value(value: Any, _: Any) -> FactValue:
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a fact value must be a bool, number or string, not {type(value).__name__}")


def _structure_decimal(value: Any, _: Any) -> Decimal:
    # Money travels as a string: a float would already have lost the exact amount.
    if not isinstance(value, str | int):
        raise TypeError(f"a decimal amount must be a string, not {type(value).__name__}")
    return Decimal(value)


converter.register_unstructure_hook(datetime, format_time)
converter.register_structure_hook(datetime, lambda value, _: parse_time(value))
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, _structure_decimal)


# Sets are sorted: the same state must always serialise (and hash) to the same bytes.
def _is_frozenset(cls: Any) -> bool:
    return bool(cls is frozenset or typing.get_origin(cls) is frozenset)


converter.register_unstructure_hook_func(_is_frozenset, sorted)
converter.register_structure_hook(FactValue, _structure_fact_value)


def _written_as_before(cls: type[Any], *added: str) -> None:
    """Write ``cls`` leaving out the fields ``added`` after it was first recorded, while they
    hold their default: a record without them keeps the same bytes, and so the same hash,
    whichever version of SQM wrote it.
    """
    fields = {name: override(omit_if_default=True) for name in added}
    # mypy matches the unpacked overrides against cattrs' own keyword flags as well.
    hook = make_dict_unstructure_fn(cls, converter, **fields)  # type: ignore[arg-type]
    converter.register_unstructure_hook(cls, hook)


# Fields added after their records were first written: whether a decision took effect, the
# need's terms and the contract's need, a milestone's kind, the ticket a review names (carried
# on to its plan) and the review a ticket led to.
_written_as_before(DecisionRecorded, "no_effect")
_written_as_before(NeedOpened, "objectives", "quantity", "budget", "required_by")
_written_as_before(Contract, "need_id")
_written_as_before(Milestone, "kind")
_written_as_before(Review, "ticket_id")
_written_as_before(ImprovementPlan, "ticket_id")
_written_as_before(ProblemTicket, "review_opened_at")


def event_to_payload(event: Event | NeedEvent | PolicyChangeEvent) -> dict[str, Any]:
    """The event's fields as JSON-ready data (the type name is kept beside it, not inside)."""
    payload: dict[str, Any] = converter.unstructure(event)
    return payload


def event_from_payload(type_name: str, payload: Mapping[str, Any]) -> Event:
    """Rebuild a supplier's event from its stored type name and payload."""
    try:
        cls = EVENT_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
    return converter.structure(dict(payload), cls)


def need_event_from_payload(type_name: str, payload: Mapping[str, Any]) -> NeedEvent:
    """Rebuild a need's event from its stored type name and payload."""
    try:
        cls = NEED_EVENT_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown need event type {type_name!r}") from None
    return converter.structure(dict(payload), cls)


def need_to_dict(need: NeedState) -> dict[str, Any]:
    """The need's state as JSON-ready data (its stream's snapshot)."""
    data: dict[str, Any] = converter.unstructure(need)
    return data


def need_from_dict(data: Mapping[str, Any]) -> NeedState:
    """Rebuild a need's state from :func:`need_to_dict` output."""
    return converter.structure(dict(data), NeedState)


def policy_change_from_payload(type_name: str, payload: Mapping[str, Any]) -> PolicyChangeEvent:
    """Rebuild an event of the policy changes' stream from its type name and payload."""
    try:
        cls = POLICY_CHANGE_EVENT_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown policy change event type {type_name!r}") from None
    return converter.structure(dict(payload), cls)


def policy_changes_to_dict(changes: PolicyChanges) -> dict[str, Any]:
    """The policy changes' state as JSON-ready data (its stream's snapshot)."""
    data: dict[str, Any] = converter.unstructure(changes)
    return data


def policy_changes_from_dict(data: Mapping[str, Any]) -> PolicyChanges:
    """Rebuild the policy changes' state from :func:`policy_changes_to_dict` output."""
    return converter.structure(dict(data), PolicyChanges)


def state_to_dict(state: SupplierState) -> dict[str, Any]:
    """The supplier's state as JSON-ready data (for snapshots and projections)."""
    data: dict[str, Any] = converter.unstructure(state)
    return data


def state_from_dict(data: Mapping[str, Any]) -> SupplierState:
    """Rebuild a supplier's state from :func:`state_to_dict` output; a snapshot written
    before the state kept its window index gets the index its lists give.
    """
    state = converter.structure(dict(data), SupplierState)
    if "windows" not in data:
        state = attrs.evolve(state, windows=index_of(state))
    return state


def canonical_json(data: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, compact separators, UTF-8, NaN refused."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


__all__ = [
    "canonical_json",
    "converter",
    "event_from_payload",
    "event_to_payload",
    "event_type",
    "format_time",
    "need_event_from_payload",
    "need_from_dict",
    "need_to_dict",
    "parse_time",
    "policy_change_from_payload",
    "policy_changes_from_dict",
    "policy_changes_to_dict",
    "state_from_dict",
    "state_to_dict",
]
