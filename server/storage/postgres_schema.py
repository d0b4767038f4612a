"""The PostgreSQL store's schema: versioned migrations, applied in order and recorded.

``sqm db migrate`` (or ``sqm serve --migrate``) applies what is missing; a server started
without ``--migrate`` only checks, and refuses a database whose schema is older or newer
than this code's. Tables live in the connection's current schema (the first existing one
on its ``search_path``), so one database can hold several SQM stores side by side.

Events, requests, documents, policy versions and activations are append-only: triggers
refuse UPDATE, DELETE and TRUNCATE. The one mutable row is ``log_head``, the global
sequence's last number and hash: an append locks it, which serialises appends across
every instance so the sequence is gap-free in commit order and each ``prev_hash`` is the
hash committed just before.
"""

from __future__ import annotations

import attrs
import psycopg

from sqm.server.storage.errors import SchemaNotMigrated, StoreUnavailable, UnsupportedSchemaVersion
from sqm.server.storage.records import identifier


@attrs.frozen
class Migration:
    """One step of the schema: what it adds, and its statements, run in one transaction."""

    description: str
    statements: tuple[str, ...]


def _append_only(*tables: str) -> tuple[str, ...]:
    return tuple(
        f"CREATE TRIGGER {identifier(table + '_append_only')} BEFORE UPDATE OR DELETE"
        f" ON {identifier(table)} FOR EACH ROW EXECUTE FUNCTION sqm_refuse_change()"
        for table in tables
    ) + tuple(
        f"CREATE TRIGGER {identifier(table + '_no_truncate')} BEFORE TRUNCATE"
        f" ON {identifier(table)} FOR EACH STATEMENT EXECUTE FUNCTION sqm_refuse_change()"
        for table in tables
    )


# Stream, supplier and request ids sort by code point ("C" collation), as in every store.
_EVENTS = (
    """CREATE FUNCTION sqm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: rows are never changed or deleted', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END
    $$""",
    """CREATE TABLE store_meta (
        key text PRIMARY KEY,
        value text NOT NULL
    )""",
    "INSERT INTO store_meta (key, value)"
    " VALUES ('identity', replace(gen_random_uuid()::text, '-', ''))",
    """CREATE TABLE events (
        global_seq bigint PRIMARY KEY CHECK (global_seq >= 1),
        stream_id text COLLATE "C" NOT NULL CHECK (stream_id <> ''),
        version integer NOT NULL CHECK (version >= 1),
        event_type text NOT NULL,
        payload text NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        actor text NOT NULL,
        request_id text NOT NULL,
        policy_version text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        CONSTRAINT events_stream_version UNIQUE (stream_id, version)
    )""",
    """CREATE TABLE log_head (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        last_seq bigint NOT NULL,
        last_hash text NOT NULL
    )""",
    # Nothing appended yet: the next event links to the genesis hash (sqm.domain.audit), 64 zeros;
    # the contract suite checks the first event's prev_hash against it.
    "INSERT INTO log_head (last_seq, last_hash) VALUES (0, repeat('0', 64))",
    """CREATE TABLE requests (
        request_id text PRIMARY KEY,
        fingerprint text NOT NULL,
        stream_id text COLLATE "C" NOT NULL,
        first_version integer NOT NULL,
        last_version integer NOT NULL,
        first_seq bigint NOT NULL REFERENCES events (global_seq),
        last_seq bigint NOT NULL REFERENCES events (global_seq)
    )""",
    """CREATE TABLE snapshots (
        stream_id text COLLATE "C" PRIMARY KEY,
        version integer NOT NULL,
        state text NOT NULL
    )""",
    *_append_only("store_meta", "events", "requests"),
)

_ARCHIVES = (
    """CREATE TABLE policy_versions (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        version text PRIMARY KEY CHECK (version <> ''),
        name text NOT NULL CHECK (name <> ''),
        files text NOT NULL,
        saved_at timestamptz NOT NULL
    )""",
    """CREATE TABLE policy_activations (
        sequence bigint PRIMARY KEY CHECK (sequence >= 1),
        version text NOT NULL REFERENCES policy_versions (version),
        actor text NOT NULL,
        request_id text NOT NULL UNIQUE,
        activated_at timestamptz NOT NULL
    )""",
    """CREATE TABLE documents (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        document_id text NOT NULL UNIQUE CHECK (document_id <> ''),
        supplier_id text COLLATE "C" NOT NULL CHECK (supplier_id <> ''),
        filename text NOT NULL CHECK (filename <> ''),
        media_type text NOT NULL CHECK (media_type <> ''),
        content bytea NOT NULL,
        sha256 text NOT NULL,
        size integer NOT NULL CHECK (size >= 0),
        actor text NOT NULL,
        request_id text NOT NULL UNIQUE CHECK (request_id <> ''),
        archived_at timestamptz NOT NULL
    )""",
    "CREATE INDEX documents_by_supplier ON documents (supplier_id, seq)",
    *_append_only("policy_versions", "policy_activations", "documents"),
)

# The notification outbox, written in the same transaction as the events it comes from. Its
# delivery columns change as workers go (a claim's lease, attempts, delivered or given up);
# the notification itself does not.
_OUTBOX = (
    """CREATE TABLE outbox (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        notification_id text COLLATE "C" NOT NULL UNIQUE CHECK (notification_id <> ''),
        global_seq bigint NOT NULL REFERENCES events (global_seq),
        stream_id text COLLATE "C" NOT NULL,
        supplier_id text COLLATE "C" NOT NULL,
        kind text NOT NULL,
        recipient text NOT NULL,
        body text NOT NULL,
        attempts integer NOT NULL CHECK (attempts >= 0),
        next_attempt_at timestamptz NOT NULL,
        claimed_until timestamptz,
        delivered_at timestamptz,
        undeliverable boolean NOT NULL,
        last_error text NOT NULL
    )""",
    # The workers' question: what is due and not delivered, oldest first.
    "CREATE INDEX outbox_due ON outbox (next_attempt_at, seq)"
    " WHERE delivered_at IS NULL AND NOT undeliverable",
    # Watch's notification filters: an event's notifications.
    "CREATE INDEX outbox_by_event ON outbox (global_seq)",
)

# Migration N (1-based) takes a schema from version N - 1 to N. Never edit a released
# entry; add a new one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("events, requests, snapshots and the log head", _EVENTS),
    Migration("the policy archive and archived documents", _ARCHIVES),
    Migration("the notification outbox", _OUTBOX),
)
SCHEMA_VERSION = len(MIGRATIONS)

_HISTORY = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def current_schema(conn: psycopg.Connection, where: str) -> str:
    """The schema the store's tables live in; refuses a search_path naming none that exists."""
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise StoreUnavailable(
            f"{where}: no schema on the search_path exists; create it or name another"
        )
    return str(row[0])


def schema_version(conn: psycopg.Connection) -> int:
    """The highest migration recorded in the current schema (0 for an empty one)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: psycopg.Connection, where: str) -> list[tuple[int, str]]:
    """Apply every missing migration in one transaction; returns the number and description
    of each one applied.

    Instances starting together take turns (a transaction-scoped advisory lock keyed by the
    schema), so the second finds the work done instead of failing halfway.
    """
    schema = current_schema(conn, where)
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"sqm.migrate:{schema}",)
        )
        conn.execute(_HISTORY)
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise UnsupportedSchemaVersion(where, found, SCHEMA_VERSION)
        applied: list[tuple[int, str]] = []
        for number, migration in enumerate(MIGRATIONS[found:], start=found + 1):
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                (number, migration.description),
            )
            applied.append((number, migration.description))
    return applied


def require_current(conn: psycopg.Connection, where: str) -> None:
    """Refuse a schema older or newer than this code's, naming the command that fixes it."""
    current_schema(conn, where)
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(where, found, SCHEMA_VERSION)
    if found < SCHEMA_VERSION:
        raise SchemaNotMigrated(where, found, SCHEMA_VERSION)
