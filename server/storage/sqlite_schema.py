"""The SQLite store's schema: migrations by ``PRAGMA user_version``, and the connection's
durability settings.

Events and request records are append-only (triggers refuse UPDATE and DELETE). Later
versions add steps to ``MIGRATIONS``; a released entry is never edited.
"""

from __future__ import annotations

import sqlite3

from sqm.server.storage.errors import StoreUnavailable, UnsupportedSchemaVersion

_APPEND_ONLY = "SELECT RAISE(ABORT, '{table} is append-only: rows are never changed or deleted')"

# One entry per schema version: entry N (1-based) takes a file from version N - 1 to N.
# Never edit a released entry; add a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            global_seq INTEGER PRIMARY KEY CHECK (global_seq >= 1),
            stream_id TEXT NOT NULL CHECK (stream_id <> ''),
            version INTEGER NOT NULL CHECK (version >= 1),
            event_type TEXT NOT NULL,
            payload TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            request_id TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            UNIQUE (stream_id, version)
        )""",
        """CREATE TABLE requests (
            request_id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            first_version INTEGER NOT NULL,
            last_version INTEGER NOT NULL,
            first_seq INTEGER NOT NULL REFERENCES events (global_seq),
            last_seq INTEGER NOT NULL REFERENCES events (global_seq)
        )""",
        """CREATE TABLE snapshots (
            stream_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            state TEXT NOT NULL
        )""",
        *(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN {_APPEND_ONLY.format(table=table)}; END"
            for table in ("events", "requests")
            for verb in ("UPDATE", "DELETE")
        ),
    ),
    # 2: the policy archive. A version's files are kept once, by content hash; activations
    # are an append-only history whose latest row is the active version.
    (
        """CREATE TABLE policy_versions (
            version TEXT PRIMARY KEY CHECK (version <> ''),
            name TEXT NOT NULL CHECK (name <> ''),
            files TEXT NOT NULL,
            saved_at TEXT NOT NULL
        )""",
        """CREATE TABLE policy_activations (
            sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
            version TEXT NOT NULL REFERENCES policy_versions (version),
            actor TEXT NOT NULL,
            request_id TEXT NOT NULL UNIQUE,
            activated_at TEXT NOT NULL
        )""",
        *(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN {_APPEND_ONLY.format(table=table)}; END"
            for table in ("policy_versions", "policy_activations")
            for verb in ("UPDATE", "DELETE")
        ),
    ),
    # 3: the store's identity (resume tokens name the database they came from) and the
    # archive of documents, kept with the SHA-256 of their bytes.
    (
        """CREATE TABLE store_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        "INSERT INTO store_meta (key, value) VALUES ('identity', lower(hex(randomblob(16))))",
        """CREATE TABLE documents (
            seq INTEGER PRIMARY KEY CHECK (seq >= 1),
            document_id TEXT NOT NULL UNIQUE CHECK (document_id <> ''),
            supplier_id TEXT NOT NULL CHECK (supplier_id <> ''),
            filename TEXT NOT NULL CHECK (filename <> ''),
            media_type TEXT NOT NULL CHECK (media_type <> ''),
            content BLOB NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL CHECK (size >= 0),
            actor TEXT NOT NULL,
            request_id TEXT NOT NULL UNIQUE CHECK (request_id <> ''),
            archived_at TEXT NOT NULL
        )""",
        "CREATE INDEX documents_by_supplier ON documents (supplier_id, seq)",
        *(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN {_APPEND_ONLY.format(table=table)}; END"
            for table in ("store_meta", "documents")
            for verb in ("UPDATE", "DELETE")
        ),
    ),
    # 4: the notification outbox, written in the same transaction as the events it comes
    # from; its delivery columns change as the worker goes (a claim's lease, attempts).
    (
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY CHECK (seq >= 1),
            notification_id TEXT NOT NULL UNIQUE CHECK (notification_id <> ''),
            global_seq INTEGER NOT NULL REFERENCES events (global_seq),
            stream_id TEXT NOT NULL,
            supplier_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            recipient TEXT NOT NULL,
            body TEXT NOT NULL,
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            next_attempt_at TEXT NOT NULL,
            claimed_until TEXT,
            delivered_at TEXT,
            undeliverable INTEGER NOT NULL CHECK (undeliverable IN (0, 1)),
            last_error TEXT NOT NULL
        )""",
        # The worker's question: what is due and not delivered, oldest first.
        "CREATE INDEX outbox_due ON outbox (next_attempt_at, seq)"
        " WHERE delivered_at IS NULL AND undeliverable = 0",
        "CREATE INDEX outbox_by_event ON outbox (global_seq)",
        "CREATE TRIGGER outbox_body_fixed BEFORE UPDATE OF notification_id, global_seq, body"
        " ON outbox BEGIN SELECT RAISE(ABORT, 'a notification is never changed'); END",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
ARCHIVE_SCHEMA = 2  # the schema version that added the policy archive


class NotAnSqmDatabase(StoreUnavailable):
    """A file opened read-only holds no SQM schema (it was never served, or is not ours)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is not an SQM database (no schema version recorded)")


def configure(conn: sqlite3.Connection, path: str, busy_timeout_ms: int) -> None:
    """WAL, a full fsync per commit, foreign keys and the busy timeout, or an error."""
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode != "wal":
        raise sqlite3.OperationalError(f"{path}: WAL mode unavailable (got {mode!r})")
    # FULL: a commit reaches the disk before append() returns, so an answer is durable.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`; run it inside a write transaction, so two
    processes opening a new file at once do not both create the tables.
    """
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(path, found, SCHEMA_VERSION)
    for statements in MIGRATIONS[found:]:
        for statement in statements:
            conn.execute(statement)
    if found < SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")


def check_readable(conn: sqlite3.Connection, path: str) -> int:
    """The schema version of a file opened read-only, which must be one this code reads."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(path, found, SCHEMA_VERSION)
    if found < 1:
        raise NotAnSqmDatabase(path)
    return int(found)
