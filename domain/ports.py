"""The ports the domain's application service depends on: the event store and the policy.

Adapters live elsewhere: memory and SQLite stores in ``server.storage``, the compiled policy
in ``rules``. One contract test suite (``tests/integration/test_store_contract.py``) holds
every store to this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from domain.model import Decision, Stage, SupplierState


@attrs.frozen
class NewEvent:
    """An event ready to be appended: its type name, JSON-ready payload and domain time."""

    event_type: str
    payload: Mapping[str, Any]
    occurred_at: datetime


@attrs.frozen
class CommandMeta:
    """Who asked, under which request id, decided by which policy version.

    ``fingerprint`` identifies the request's content, so a request id reused for a
    different request is refused instead of silently answered with the first result.
    """

    request_id: str
    actor: str
    policy_version: str
    fingerprint: str


@attrs.frozen
class RecordedEvent:
    """An event as stored: immutable, sequenced, attributed and hash-chained."""

    global_seq: int
    stream_id: str
    version: int
    event_type: str
    payload: Mapping[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    request_id: str
    policy_version: str
    prev_hash: str
    hash: str


@attrs.frozen
class AppendResult:
    """Where a request's events landed. ``replayed`` is True when the request id was already
    recorded and nothing was written this time.
    """

    stream_id: str
    first_version: int
    last_version: int
    first_seq: int
    last_seq: int
    replayed: bool = False


@attrs.frozen
class StreamSnapshot:
    """The projected state of one stream at ``version`` (kept in the append's transaction)."""

    stream_id: str
    version: int
    state: Mapping[str, Any]


@attrs.frozen
class ChainVerification:
    """The outcome of checking the hash chain; ``first_broken_seq`` is None when intact."""

    events_checked: int
    first_broken_seq: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        """True when every link checked out."""
        return self.first_broken_seq is None


class EventStore(Protocol):
    """Append-only streams with a global sequence, optimistic concurrency and idempotency."""

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        meta: CommandMeta,
        snapshot: Mapping[str, Any],
    ) -> AppendResult:
        """Atomically append ``events`` to the stream and store ``snapshot`` as its state.

        ``expected_version`` is the stream's version the events were decided on (0 for a new
        stream); a mismatch raises ``ConcurrencyConflict`` and writes nothing. If
        ``meta.request_id`` was already recorded with the same fingerprint for the same
        stream, nothing is written and the first result is returned with ``replayed=True``;
        with a different fingerprint or stream, ``RequestIdReused`` is raised. Payloads are
        stored as canonical JSON and hashed as they read back.
        """
        ...

    def find_request(self, request_id: str) -> tuple[str, AppendResult] | None:
        """The fingerprint and result recorded for ``request_id``, if any."""
        ...

    def load_snapshot(self, stream_id: str) -> StreamSnapshot | None:
        """The stream's latest projected state, without reading its events."""
        ...

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with version > ``after_version``, oldest first.

        ``limit`` None means all; a negative limit is a ``ValueError``. Payloads returned are
        the caller's own copies.
        """
        ...

    def read_all(self, after_seq: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        """Events of every stream with global sequence > ``after_seq``, in sequence order."""
        ...

    def list_snapshots(self, after_stream_id: str = "", limit: int = 100) -> list[StreamSnapshot]:
        """Snapshots ordered by stream id in code-point order, after ``after_stream_id``."""
        ...

    def verify_chain(self) -> ChainVerification:
        """Recompute every hash from the first event; report the first broken link."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


@attrs.frozen
class DecisionContext:
    """What a policy is asked to judge: a supplier, the moment, and the stage of the process."""

    stage: Stage
    supplier: SupplierState
    now: datetime


@attrs.frozen
class Evaluation:
    """A policy's answer: the rules that fired, and explanations for those that did not."""

    policy_version: str
    fired: tuple[Decision, ...] = ()
    not_fired: tuple[Decision, ...] = ()


class Policy(Protocol):
    """A compiled policy pack; ``version`` is the pack's content hash."""

    @property
    def version(self) -> str:
        """The content hash of the pack this policy was compiled from."""
        ...

    def evaluate(self, context: DecisionContext) -> Evaluation:
        """Evaluate every rule of ``context.stage``.

        Raises ``InvalidCommand`` when the supplier's data cannot be turned into valid facts
        (for instance a score for a criterion the policy does not know) and ``PolicyError``
        when the engine fails.
        """
        ...
