"""What the stores share about the notification outbox: its rows, and the reads that run
alike on SQLite and PostgreSQL.

An append's notifications (``PendingAppend.notifications``) become rows in the append's own
transaction, so a notification exists exactly when its event does: a crash before the
commit leaves neither, a crash after it leaves both, and the delivery worker finds the row
after a restart. Rows are the one mutable part of a store besides snapshots: delivery
state (attempts, the next attempt's time, a claim's lease, delivered or given up) changes
as the worker goes; the notification itself (``body``) never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqm.domain.notifications import notification_body, notification_id
from sqm.domain.ports import AppendResult, OutboxCounts, OutboxEntry, PendingAppend
from sqm.domain.serialization import parse_time
from sqm.server.storage.records import TimeColumn, check_limit, to_json

OUTBOX_INSERT_COLUMNS = (
    "notification_id, global_seq, stream_id, supplier_id, kind, recipient, body,"
    " attempts, next_attempt_at, undeliverable, last_error"
)
OUTBOX_COLUMNS = (
    "seq, notification_id, kind, recipient, supplier_id, global_seq, body, attempts,"
    " next_attempt_at, delivered_at, undeliverable, last_error"
)
OUTBOX_RESTORE_COLUMNS = (
    "seq, notification_id, global_seq, stream_id, supplier_id, kind, recipient, body,"
    " attempts, next_attempt_at, delivered_at, undeliverable, last_error"
)
"""What an import writes of an entry: all but a claim's lease (``claimed_until``)."""
MAX_ERROR_CHARS = 500
"""A failed attempt's reason is kept this long at most (a receiver's whole error page is not)."""


def outbox_rows(
    written: Sequence[tuple[PendingAppend, AppendResult]], time_column: TimeColumn
) -> list[tuple[Any, ...]]:
    """The outbox rows of appends just sealed, in :data:`OUTBOX_INSERT_COLUMNS` order.

    Each is due at once: its first attempt's time is the time its events were recorded.
    """
    rows: list[tuple[Any, ...]] = []
    for pending, result in written:
        for notification in pending.notifications:
            record = result.events[notification.event_index]
            body = notification_body(
                notification,
                stream_id=record.stream_id,
                version=record.version,
                global_seq=record.global_seq,
                event_type=record.event_type,
                occurred_at=record.occurred_at,
            )
            rows.append(
                (
                    notification_id(record.stream_id, record.version, notification.index),
                    record.global_seq,
                    record.stream_id,
                    notification.supplier_id,
                    notification.kind,
                    notification.recipient,
                    to_json(body),
                    0,
                    time_column(record.recorded_at),
                    False,
                    "",
                )
            )
    return rows


def outbox_restore_row(
    entry: OutboxEntry, stream_id: str, time_column: TimeColumn
) -> tuple[Any, ...]:
    """An imported entry's row, in :data:`OUTBOX_RESTORE_COLUMNS` order."""
    return (
        entry.seq,
        entry.notification_id,
        entry.global_seq,
        stream_id,
        entry.supplier_id,
        entry.kind,
        entry.recipient,
        entry.body,
        entry.attempts,
        time_column(entry.next_attempt_at),
        None if entry.delivered_at is None else time_column(entry.delivered_at),
        entry.undeliverable,
        entry.last_error,
    )


def entry_from_row(row: Sequence[Any]) -> OutboxEntry:
    """An entry from a row of :data:`OUTBOX_COLUMNS` (times as SQLite's text or PostgreSQL's)."""
    return OutboxEntry(
        seq=int(row[0]),
        notification_id=str(row[1]),
        kind=str(row[2]),
        recipient=str(row[3]),
        supplier_id=str(row[4]),
        global_seq=int(row[5]),
        body=str(row[6]),
        attempts=int(row[7]),
        next_attempt_at=_instant(row[8]),
        delivered_at=None if row[9] is None else _instant(row[9]),
        undeliverable=bool(row[10]),
        last_error=str(row[11]),
    )


def short_error(error: str) -> str:
    """A failed attempt's reason as kept: one line, at most :data:`MAX_ERROR_CHARS`."""
    line = " ".join(error.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 3] + "..."


def _instant(value: Any) -> datetime:
    return parse_time(value) if isinstance(value, str) else value


class SqlOutboxReads:
    """The outbox's reads, alike on SQLite and PostgreSQL but for how a query runs."""

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - each store runs its own queries

    def list_notifications(
        self, *, undeliverable: bool, after_seq: int = 0, limit: int = 100
    ) -> list[OutboxEntry]:
        """Undeliverable (or still pending) notifications in outbox order after ``after_seq``."""
        check_limit(limit)
        rows = self._rows(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox"  # noqa: S608 - column names are constants
            " WHERE delivered_at IS NULL AND undeliverable = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (undeliverable, after_seq, limit),
        )
        return [entry_from_row(row) for row in rows]

    def event_notifications(self, first_seq: int, last_seq: int) -> list[OutboxEntry]:
        """The notifications of the events ``first_seq`` to ``last_seq``, in outbox order."""
        rows = self._rows(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox"  # noqa: S608 - column names are constants
            " WHERE global_seq >= ? AND global_seq <= ? ORDER BY seq",
            (first_seq, last_seq),
        )
        return [entry_from_row(row) for row in rows]

    def outbox_counts(self) -> OutboxCounts:
        """How many notifications are pending, delivered and undeliverable."""
        rows = self._rows(
            "SELECT"
            " COUNT(*) FILTER (WHERE delivered_at IS NULL AND NOT undeliverable),"
            " COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),"
            " COUNT(*) FILTER (WHERE undeliverable)"
            " FROM outbox"
        )
        pending, delivered, undeliverable = rows[0]
        return OutboxCounts(int(pending), int(delivered), int(undeliverable))
