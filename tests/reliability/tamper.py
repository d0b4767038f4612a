"""Edits an attacker with write access to the SQLite file can make, each as a function.

Each takes an open connection to a copy of a served database (the server stopped) and
returns the words the verifiers must name. The append-only triggers are dropped first where
an edit needs them gone: they stop mistakes, not someone who owns the file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqm.domain.audit import event_hash
from sqm.server.storage.records import EVENT_COLUMNS, event_from_row

Tamper = Callable[[Path], str]


def _connect(path: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(path, isolation_level=None))


def _drop_guards(conn: sqlite3.Connection, *tables: str) -> None:
    for table in tables:
        for verb in ("update", "delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def penalty_amount_in_snapshot(path: Path) -> str:
    """A penalty's amount changed in the supplier's snapshot only."""
    with _connect(path) as conn:
        stream, text = conn.execute(
            "SELECT stream_id, state FROM snapshots WHERE state LIKE '%\"penalties\":[{%' LIMIT 1"
        ).fetchone()
        state = json.loads(text)
        state["penalties"][0]["amount"]["amount"] = "1.00"
        conn.execute(
            "UPDATE snapshots SET state = ? WHERE stream_id = ?", (json.dumps(state), stream)
        )
    return f"supplier '{stream}'"


def tail_truncated(path: Path) -> str:
    """The newest events removed, with their requests and documents."""
    with _connect(path) as conn:
        _drop_guards(conn, "events", "requests", "documents")
        (head,) = conn.execute("SELECT max(global_seq) FROM events").fetchone()
        keep = head - 5
        conn.execute("DELETE FROM requests WHERE last_seq > ?", (keep,))
        conn.execute("DELETE FROM events WHERE global_seq > ?", (keep,))
        conn.execute("DELETE FROM documents")
    return "events after it were removed"


def chain_recomputed(path: Path) -> str:
    """One event's payload edited and every later hash recomputed."""
    with _connect(path) as conn:
        _drop_guards(conn, "events")
        query = f"SELECT {EVENT_COLUMNS} FROM events ORDER BY global_seq"  # noqa: S608 - constant
        rows = conn.execute(query).fetchall()
        events = [event_from_row(row) for row in rows]
        target = next(e for e in events if e.event_type == "MeasurementRecorded")
        prev = target.prev_hash
        for event in events[target.global_seq - 1 :]:
            payload = dict(event.payload)
            if event.global_seq == target.global_seq:
                payload["tampered"] = True
            fields = {
                "global_seq": event.global_seq, "stream_id": event.stream_id,
                "version": event.version, "event_type": event.event_type, "payload": payload,
                "occurred_at": event.occurred_at, "recorded_at": event.recorded_at,
                "actor": event.actor, "request_id": event.request_id,
                "policy_version": event.policy_version,
            }  # fmt: skip
            new_hash = event_hash(prev_hash=prev, **fields)
            conn.execute(
                "UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE global_seq = ?",
                (json.dumps(payload, sort_keys=True), prev, new_hash, event.global_seq),
            )
            prev = new_hash
    return "the log was rewritten"


def request_record_deleted(path: Path) -> str:
    """An acknowledged request's idempotency record deleted."""
    with _connect(path) as conn:
        _drop_guards(conn, "requests")
        (request_id,) = conn.execute(
            "SELECT request_id FROM requests ORDER BY first_seq LIMIT 1 OFFSET 3"
        ).fetchone()
        conn.execute("DELETE FROM requests WHERE request_id = ?", (request_id,))
    return f"request '{request_id}'"


def _edit_version(path: Path, *, active: bool) -> str:
    with _connect(path) as conn:
        _drop_guards(conn, "policy_versions")
        (current,) = conn.execute(
            "SELECT version FROM policy_activations ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
        query = (
            "SELECT version, files FROM policy_versions WHERE version = ?"
            if active
            else "SELECT version, files FROM policy_versions WHERE version <> ?"
        )
        version, text = conn.execute(query, (current,)).fetchone()
        files = json.loads(text)
        name = sorted(files)[-1]
        files[name] = files[name].replace("0", "9", 1)
        conn.execute(
            "UPDATE policy_versions SET files = ? WHERE version = ?", (json.dumps(files), version)
        )
    return f"policy version {version}"


def archived_policy_files(path: Path) -> str:
    """The files of an archived (not active) policy version edited."""
    return _edit_version(path, active=False)


def active_policy_files(path: Path) -> str:
    """The files of the active policy version edited."""
    return _edit_version(path, active=True)


def bytes_flipped_mid_file(path: Path) -> str:
    """A run of bytes flipped in the middle of the file, inside stored text."""
    data = bytearray(path.read_bytes())
    at = data.find(b"severity", len(data) // 2)
    assert at > 0, "no stored text past the middle of the file"
    for index in range(at, at + 8):
        data[index] ^= 0x20  # the case of letters: still valid UTF-8 and JSON
    path.write_bytes(bytes(data))
    return ""


def events_page_corrupted(path: Path) -> str:
    """A page of the events table overwritten with garbage."""
    with _connect(path) as conn:
        (page, size) = conn.execute(
            "SELECT pageno, pgsize FROM dbstat WHERE name = 'events' ORDER BY pageno LIMIT 1"
        ).fetchone()
    data = bytearray(path.read_bytes())
    start = (page - 1) * size
    data[start : start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    return "database file"


EDITS: dict[str, Tamper] = {
    "snapshot penalty": penalty_amount_in_snapshot,
    "tail truncated": tail_truncated,
    "chain recomputed": chain_recomputed,
    "request record deleted": request_record_deleted,
    "archived policy files": archived_policy_files,
    "active policy files": active_policy_files,
    "bytes flipped": bytes_flipped_mid_file,
    "events page corrupted": events_page_corrupted,
}
