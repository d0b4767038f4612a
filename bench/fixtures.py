"""Stores for the benchmarks, built in bulk through the domain and cached under ``var/bench``.

Going through gRPC one command at a time would take longer than the benchmarks themselves.
Instead a few *template* suppliers are decided for real (``decide`` then ``fold`` under the
default pack, the simulation's own path), and their histories are copied under new supplier
ids (every string holding the template's id gets the copy's) and appended with
:meth:`~sqm.server.storage.sqlite.SqliteEventStore.append_batch`: numbered, timestamped and
hash-chained by the store exactly as a served command's events are, one request per command,
with its fingerprint. Decisions do not depend on a supplier's id, so a copy's history is the
history the domain would record for it.

A built store is kept as ``var/bench/<name>-<key>.sqlite3``; the key covers
:data:`FIXTURE_VERSION`, the parameters and the pack's version, so a change rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from sqm.domain.commands import (
    Command,
    RecordMeasurement,
    RegisterSupplier,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.decide import decide, fold
from sqm.domain.events import Event, event_type
from sqm.domain.model import Money, SlaObjective, SupplierState
from sqm.domain.ports import CommandMeta, NewEvent, PendingAppend
from sqm.domain.serialization import canonical_json, converter, event_to_payload, state_to_dict
from sqm.rules import CompiledPolicy, PolicyPack
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.storage.sqlite import SqliteEventStore
from sqm.simulation import impact
from sqm.simulation import scenarios as sc
from sqm.simulation.runner import certificates

FIXTURE_VERSION = "1"
"""Bump when what a fixture holds changes: cached stores with another version are rebuilt."""
CACHE = Path("var/bench")
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
CATEGORY = "network_equipment"
BATCH_REQUESTS = 5_000
"""Requests appended per transaction while building."""
ACTOR = "bench"
TERM_AFTER_RECORDS = timedelta(days=365)
"""How long a steady supplier's contract runs past its last record (the default contract's
term is a year from signing: a year of records would reach its end)."""


@attrs.frozen
class Request:
    """One command as a served request would record it: its content and its events."""

    command_fields: Mapping[str, Any]
    command_type: str
    events: tuple[Mapping[str, Any], ...]
    event_types: tuple[str, ...]
    occurred_at: tuple[datetime, ...]


@attrs.frozen
class Template:
    """A supplier's history decided for real, to be copied under other ids."""

    supplier_id: str
    requests: tuple[Request, ...]
    snapshot: Mapping[str, Any]

    @property
    def events(self) -> int:
        """Events the history holds."""
        return sum(len(r.events) for r in self.requests)


def template_from(supplier_id: str, entries: Sequence[tuple[Command, Sequence[Event]]]) -> Template:
    """A template from commands and the events each recorded (commands that recorded nothing,
    quiet ticks, are left out as the server leaves them out).
    """
    state: SupplierState | None = None
    requests = []
    for command, events in entries:
        if not events:
            continue
        state = fold(events, state)
        requests.append(
            Request(
                converter.unstructure(command),
                type(command).__name__,
                tuple(event_to_payload(e) for e in events),
                tuple(event_type(e) for e in events),
                tuple(e.occurred_at for e in events),
            )
        )
    if state is None:
        raise ValueError(f"template {supplier_id} recorded nothing")
    return Template(supplier_id, tuple(requests), state_to_dict(state))


def onboarded(policy: CompiledPolicy, supplier_id: str, at: datetime = START) -> Template:
    """A network-equipment supplier registered, qualified and under the default contract."""
    return template_from(supplier_id, _decided(policy, _onboarding(policy, supplier_id, at)))


def steady(policy: CompiledPolicy, supplier_id: str, days: int, at: datetime = START) -> Template:
    """:func:`onboarded`, then ``days`` days of records: each day one measurement of every
    objective of the default contract, meeting it (:func:`measured_at` says when), all
    decided by the default pack. The contract runs :data:`TERM_AFTER_RECORDS` past the last
    day, so the supplier is still under it when the benchmark's rows arrive.
    """
    ends_at = at + timedelta(days=days) + TERM_AFTER_RECORDS
    commands = _onboarding(policy, supplier_id, at, ends_at)
    goals = objectives(policy)
    commands += [
        measurement(objective, supplier_id, measured_at(day, number, at))
        for day in range(1, days + 1)
        for number, objective in enumerate(goals)
    ]
    return template_from(supplier_id, _decided(policy, commands))


def measured_at(day: int, number: int, start: datetime = START) -> datetime:
    """When a steady supplier's record of objective ``number`` on ``day`` (from 1) falls."""
    return start + timedelta(days=day, minutes=number)


def _onboarding(
    policy: CompiledPolicy, supplier_id: str, at: datetime, ends_at: datetime | None = None
) -> list[Command]:
    """Register, qualify and sign the default contract (to ``ends_at``; default: its term)."""
    profile = sc.SupplierProfile(supplier_id, CATEGORY)
    pack = policy.pack
    return [
        RegisterSupplier(supplier_id, supplier_id.title(), CATEGORY, at),
        SubmitQualificationEvidence(
            supplier_id,
            at,
            scores=dict.fromkeys(pack.criterion_ids, 85.0),
            certificates=certificates(profile, at, policy.catalogue.certificate_kind_ids),
            site_audit_passed=True,
        ),
        SignContract(
            supplier_id,
            f"CT-{supplier_id}",
            at,
            Money(profile.monthly_fee, profile.currency),
            Money(profile.liability_limit, profile.currency),
            ends_at=ends_at,
        ),
    ]


def _decided(
    policy: CompiledPolicy, commands: Sequence[Command]
) -> list[tuple[Command, Sequence[Event]]]:
    state: SupplierState | None = None
    entries: list[tuple[Command, Sequence[Event]]] = []
    for command in commands:
        events = decide(command, state, policy)
        state = fold(events, state)
        entries.append((command, events))
    return entries


def simulated(pack: PolicyPack, policy: CompiledPolicy, number: int, months: int) -> Template:
    """Supplier ``number`` of a baseline ``sqm simulate run`` (seed 1) over ``months``."""
    start = START.replace(day=1, hour=0)
    tally = impact.Tally(impact.month_labels(start, months))
    life = impact.SupplierLife(
        policy, pack, impact.Rates(), generator=random.Random(f"1:{number}"),  # noqa: S311
        number=number, start=start, tally=tally,
    )  # fmt: skip
    life.live()
    entries = [(entry.command, entry.events) for entry in life.timeline]
    return template_from(f"sim-{number:06d}", entries)


def renamed(data: Any, old: str, new: str) -> Any:
    """``data`` with ``old`` replaced by ``new`` in every string it holds."""
    if isinstance(data, str):
        return data.replace(old, new) if old in data else data
    if isinstance(data, dict):
        return {key: renamed(value, old, new) for key, value in data.items()}
    if isinstance(data, list):
        return [renamed(item, old, new) for item in data]
    return data


def copy_appends(template: Template, supplier_id: str) -> Iterator[PendingAppend]:
    """The appends that record ``template``'s history as supplier ``supplier_id``'s."""
    old = template.supplier_id
    version = 0
    last = len(template.requests) - 1
    for number, request in enumerate(template.requests):
        fields = renamed(dict(request.command_fields), old, supplier_id)
        digest = hashlib.sha256(
            canonical_json({"type": request.command_type, "fields": fields})
        ).hexdigest()
        meta = CommandMeta(f"bench:{supplier_id}:{number}", ACTOR, "", digest)
        events = [
            NewEvent(kind, renamed(dict(payload), old, supplier_id), at)
            for kind, payload, at in zip(
                request.event_types, request.events, request.occurred_at, strict=True
            )
        ]
        snapshot = renamed(dict(template.snapshot), old, supplier_id) if number == last else None
        yield PendingAppend(supplier_id, version, events, meta, snapshot)
        version += len(events)


def append_copies(
    store: SqliteEventStore,
    copies: Iterator[tuple[Template, str]],
    policy_version: str,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Append every ``(template, supplier_id)`` copy in batches; the events written."""
    written = 0
    batch: list[PendingAppend] = []
    for template, supplier_id in copies:
        for pending in copy_appends(template, supplier_id):
            meta = attrs.evolve(pending.meta, policy_version=policy_version)
            batch.append(attrs.evolve(pending, meta=meta))
        written += template.events
        if len(batch) >= BATCH_REQUESTS:
            _flush(store, batch)
            progress(written)
    _flush(store, batch)
    return written


def _flush(store: SqliteEventStore, batch: list[PendingAppend]) -> None:
    if not batch:
        return
    for outcome in store.append_batch(batch):
        if isinstance(outcome, Exception):
            raise outcome
    batch.clear()


def cached(name: str, parameters: Mapping[str, Any], build: Callable[[Path], object]) -> Path:
    """The fixture ``name`` for ``parameters``, built by ``build(path)`` when not cached."""
    key = hashlib.sha256(
        json.dumps({"version": FIXTURE_VERSION, **parameters}, sort_keys=True).encode()
    ).hexdigest()[:12]
    path = CACHE / f"{name}-{key}.sqlite3"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    for leftover in CACHE.glob(f"{partial.name}*"):
        leftover.unlink()
    build(partial)
    os.replace(partial, path)
    return path


# --- the stores ----------------------------------------------------------------------------


def contracted_store(path: Path, policy: CompiledPolicy, suppliers: int) -> list[str]:
    """Build ``suppliers`` network-equipment suppliers under contract at ``path``; their ids."""
    return copied_store(path, policy, onboarded(policy, "zz-template"), suppliers)


def steady_store(path: Path, policy: CompiledPolicy, suppliers: int, days: int) -> list[str]:
    """Build ``suppliers`` suppliers under contract with ``days`` days of records each
    (:func:`steady`) at ``path``; their ids.
    """
    return copied_store(path, policy, steady(policy, "zz-template", days), suppliers)


def copied_store(
    path: Path, policy: CompiledPolicy, template: Template, suppliers: int
) -> list[str]:
    """Build ``suppliers`` copies of ``template`` at ``path``; their ids."""
    ids = [supplier_name(n) for n in range(suppliers)]
    with SqliteEventStore(path) as store:
        append_copies(store, ((template, i) for i in ids), policy.version)
    return ids


def supplier_name(number: int) -> str:
    """The id of contracted supplier ``number`` in the benchmark stores."""
    return f"bench-{number:06d}"


def history_store(
    path: Path,
    pack: PolicyPack,
    policy: CompiledPolicy,
    *,
    events: int,
    templates: int,
    months: int,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Build a recorded history of at least ``events`` events: ``templates`` simulated
    suppliers over ``months``, copied until there are enough. Returns the events written.
    """
    simulated_ones = [simulated(pack, policy, n, months) for n in range(templates)]

    def copies() -> Iterator[tuple[Template, str]]:
        total, copy = 0, 0
        while total < events:
            for template in simulated_ones:
                yield template, f"c{copy:04d}-{template.supplier_id}"
                total += template.events
                if total >= events:
                    return
            copy += 1

    with SqliteEventStore(path) as store:
        return append_copies(store, copies(), policy.version, progress)


def objectives(policy: CompiledPolicy) -> tuple[SlaObjective, ...]:
    """The default contract's objectives (what the benchmark suppliers are measured on)."""
    return policy.default_objectives(CATEGORY)


def measurement(objective: SlaObjective, supplier_id: str, at: datetime) -> RecordMeasurement:
    """A measurement that meets ``objective`` exactly, over the period ending at ``at``."""
    return RecordMeasurement(
        supplier_id, objective.objective_id, objective.target, _unit(objective),
        at - timedelta(days=objective.period_days), at, at,
    )  # fmt: skip


def _unit(objective: SlaObjective) -> str:
    """The unit of ``objective``'s metric by the default pack's catalogue."""
    spec = default_catalogue().metric(objective.metric)
    return spec.unit if spec is not None else ""
