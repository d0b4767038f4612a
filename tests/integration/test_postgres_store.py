"""What only the PostgreSQL store promises: migrations, append-only tables, clear refusals,
and several instances (each a store with its own pool) on one database.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import attrs
import psycopg
import pytest

from sqm.domain.commands import Command, ConcludeReview, OpenReview, RegisterSupplier, ReviewOutcome
from sqm.domain.documents import NewDocument
from sqm.domain.errors import ConcurrencyConflict
from sqm.domain.ports import AppendResult, CommandMeta, NewEvent
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage import postgres_schema
from sqm.server.storage.errors import SchemaNotMigrated, StoreUnavailable, UnsupportedSchemaVersion
from sqm.server.storage.postgres import PostgresEventStore
from sqm.server.storage.urls import redact_url
from tests.fakes import T0, FakePolicy, passing_evidence, sign
from tests.postgres import ThrowawayPostgresStore, fresh_schema, schema_url

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def store() -> Iterator[ThrowawayPostgresStore]:
    """A migrated store in a schema of its own."""
    opened = ThrowawayPostgresStore()
    yield opened
    opened.close()


@pytest.fixture
def second(store: ThrowawayPostgresStore) -> Iterator[PostgresEventStore]:
    """Another instance's store on the same database and schema."""
    with PostgresEventStore(store.url) as other:
        yield other


def append(
    store: PostgresEventStore, stream: str, expected: int, request_id: str = ""
) -> AppendResult:
    """Append one event to ``stream`` decided at version ``expected``."""
    rid = request_id or f"{stream}@{expected}"
    event = NewEvent("Measured", {"n": expected + 1}, START + timedelta(minutes=expected))
    return store.append(
        stream, expected, [event], CommandMeta(rid, "ops", "v1", rid), {"v": expected + 1}
    )


def raw(url: str) -> psycopg.Connection:
    """A plain connection to the store's schema, as an administrator would open one."""
    return psycopg.connect(url, autocommit=True)


# --- migrations ---------------------------------------------------------------------------


def test_an_unmigrated_schema_is_refused_with_the_command_that_fixes_it() -> None:
    """Without --migrate, an empty schema is not silently created: the message says how."""
    with fresh_schema() as url, pytest.raises(SchemaNotMigrated) as raised:
        PostgresEventStore(url)

    message = str(raised.value)
    assert "schema version 0" in message
    assert f"needs version {postgres_schema.SCHEMA_VERSION}" in message
    assert "sqm db migrate --database URL" in message
    assert "--migrate" in message


def test_migrations_are_recorded_in_order_and_applied_once() -> None:
    """Each migration is a numbered row; migrating an up-to-date schema applies nothing."""
    with fresh_schema() as url, raw(url) as conn:
        applied = postgres_schema.migrate(conn, url)
        again = postgres_schema.migrate(conn, url)
        rows = conn.execute("SELECT version, description FROM schema_migrations").fetchall()

    expected = [
        (number, migration.description)
        for number, migration in enumerate(postgres_schema.MIGRATIONS, start=1)
    ]
    assert applied == expected
    assert again == []
    assert rows == expected


def test_instances_migrating_at_once_take_turns() -> None:
    """Several servers started with --migrate together: one migrates, the others find it done."""
    with fresh_schema() as url:

        def migrate() -> int:
            with raw(url) as conn:
                return len(postgres_schema.migrate(conn, url))

        with ThreadPoolExecutor(4) as pool:
            applied = sorted(pool.map(lambda _: migrate(), range(4)))

        assert applied == [0, 0, 0, postgres_schema.SCHEMA_VERSION]
        with PostgresEventStore(url) as opened:
            assert opened.last_sequence() == 0


def test_a_schema_from_a_newer_sqm_is_refused(store: ThrowawayPostgresStore) -> None:
    """A database migrated by a later version is not touched by this one."""
    with raw(store.url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, description) VALUES (%s, 'from the future')",
            (postgres_schema.SCHEMA_VERSION + 1,),
        )

    with pytest.raises(UnsupportedSchemaVersion, match="upgrade SQM"):
        PostgresEventStore(store.url)
    with pytest.raises(UnsupportedSchemaVersion):
        PostgresEventStore(store.url, migrate=True)


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:1/test", "cannot connect to PostgreSQL"),
        ("postgresql://bad host/test", "not a valid PostgreSQL URL"),
        (schema_url("sqm_no_such_schema"), "no schema on the search_path exists"),
    ],
    ids=["unreachable", "malformed", "missing-schema"],
)
def test_a_database_that_cannot_be_used_is_refused_in_one_line(url: str, expected: str) -> None:
    """Unreachable, malformed or empty: one line that says which, no traceback needed."""
    with fresh_schema():  # only to skip loudly when no PostgreSQL is reachable
        pass
    with pytest.raises(StoreUnavailable, match=expected) as raised:
        PostgresEventStore(url, migrate=True)

    assert "\n" not in str(raised.value)


def test_passwords_never_appear_in_messages() -> None:
    """A URL's password is masked wherever the store names the database."""
    assert redact_url("postgresql://sqm:s3cret@db:5432/sqm") == "postgresql://sqm:***@db:5432/sqm"
    assert redact_url("postgresql://db/sqm") == "postgresql://db/sqm"
    with pytest.raises(StoreUnavailable) as raised:
        PostgresEventStore("postgresql://sqm:s3cret@127.0.0.1:1/sqm")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET actor = 'mallory'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
        "UPDATE requests SET fingerprint = 'x'",
        "DELETE FROM store_meta",
        "UPDATE documents SET filename = 'x'",
        "DELETE FROM policy_activations",
        "UPDATE policy_versions SET files = '{}'",
    ],
)
def test_records_refuse_update_delete_and_truncate(
    store: ThrowawayPostgresStore, statement: str
) -> None:
    """The record is append-only in the database itself, not only in our code."""
    append(store, "a", 0)
    store.save_version("v" * 64, "pack", {"manifest.yaml": "name: pack\n"}, START)
    store.record_activation("v" * 64, "alice", "activate-1", START)
    store.archive_document(
        NewDocument("a", "contract.pdf", "application/pdf", b"%PDF", "bob", "d1")
    )

    with raw(store.url) as conn, pytest.raises(psycopg.errors.RestrictViolation, match="append"):
        conn.execute(statement)  # type: ignore[arg-type]


def test_a_tampered_event_is_found_at_its_sequence(store: ThrowawayPostgresStore) -> None:
    """An administrator who bypasses the triggers still cannot hide an edit from verification."""
    for version in range(3):
        append(store, "a", version)
    with raw(store.url) as conn:
        conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        conn.execute("UPDATE events SET payload = '{\"n\":99}' WHERE global_seq = 2")

    verdict = store.verify_chain()

    assert (verdict.first_broken_seq, verdict.events_checked) == (2, 1)
    assert "hash" in verdict.problem


# --- several instances on one database ---------------------------------------------------


def test_racing_instances_on_one_stream_have_exactly_one_winner(
    store: ThrowawayPostgresStore, second: PostgresEventStore
) -> None:
    """Two instances decide on the same version: one appends, the other gets a conflict."""
    append(store, "a", 0)
    barrier = threading.Barrier(2)

    def attempt(target: PostgresEventStore, name: str) -> str:
        barrier.wait()
        try:
            append(target, "a", 1, request_id=name)
        except ConcurrencyConflict as conflict:
            return f"conflict at {conflict.actual}"
        return "won"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, [store, second], ["one", "two"]))

    assert outcomes == ["conflict at 2", "won"]
    assert [e.version for e in second.read_stream("a")] == [1, 2]


def test_appends_from_two_instances_keep_one_gapless_chain(
    store: ThrowawayPostgresStore, second: PostgresEventStore
) -> None:
    """Writers on two instances, some on shared streams, lose nothing and break no link."""
    appended: list[AppendResult] = []
    lock = threading.Lock()

    def writer(target: PostgresEventStore, stream: str, count: int) -> None:
        for _ in range(count):
            while True:
                version = len(target.read_stream(stream))
                try:
                    result = append(target, stream, version, f"{id(target)}:{stream}@{version}")
                except ConcurrencyConflict:
                    continue  # lost the race: read again and decide again
                with lock:
                    appended.append(result)
                break

    jobs = [(target, stream) for target in (store, second) for stream in ("shared", "x", "y")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(lambda job: writer(*job, count=10), jobs))

    events = store.read_all()
    assert [e.global_seq for e in events] == list(range(1, 61))
    assert sorted(r.last_seq for r in appended) == list(range(1, 61))
    assert [e.version for e in events if e.stream_id == "shared"] == list(range(1, 21))
    assert second.verify_chain().intact
    assert store.last_sequence() == second.last_sequence() == 60


def test_one_instance_at_a_time_holds_the_tick_lock(
    store: ThrowawayPostgresStore, second: PostgresEventStore
) -> None:
    """While one instance ticks, another is told to skip; afterwards it may tick."""
    with store.tick_lock() as first_held, second.tick_lock() as second_held:
        assert (first_held, second_held) == (True, False)
    with second.tick_lock() as later:
        assert later is True


def test_tick_locks_of_stores_in_other_schemas_do_not_contend(
    store: ThrowawayPostgresStore,
) -> None:
    """Advisory locks are database-wide; each store's are keyed by its own identity."""
    with (
        ThrowawayPostgresStore() as elsewhere,
        store.tick_lock() as held,
        elsewhere.tick_lock() as also,
    ):
        assert (held, also) == (True, True)


def test_an_append_on_one_instance_wakes_subscribers_on_another(
    store: ThrowawayPostgresStore, second: PostgresEventStore
) -> None:
    """NOTIFY carries the new last sequence to every listening instance, after commit."""
    woken: list[int] = []
    arrived = threading.Event()

    def on_append(sequence: int) -> None:
        woken.append(sequence)
        if sequence == 2:
            arrived.set()

    unsubscribe = second.subscribe_appends(on_append)
    _wait_until(lambda: 0 in woken)  # the listener is connected
    append(store, "a", 0)
    append(store, "b", 0)

    assert arrived.wait(5), woken
    assert woken[-2:] == [1, 2]
    unsubscribe()
    append(store, "a", 1)
    time.sleep(0.3)
    assert 3 not in woken


def test_each_deadline_fires_once_when_two_instances_tick_at_once(
    store: ThrowawayPostgresStore, second: PostgresEventStore
) -> None:
    """Without any tick lock, optimistic concurrency alone records each missed plan once."""
    policy = FakePolicy()
    services = [SupplierService(target, lambda: policy) for target in (store, second)]
    suppliers = [f"sup-{n}" for n in range(4)]
    for supplier in suppliers:
        for number, command in enumerate(_into_remediation(supplier)):
            services[0].execute(command, RequestContext(f"{supplier}:{number}", "test"))
    moments = [T0 + (40 + n) * DAY for n in range(3)]
    barrier = threading.Barrier(len(services) * len(moments))

    def tick(service: SupplierService, moment: datetime) -> int:
        barrier.wait()
        return service.advance_time(moment, "scheduler").suppliers_changed

    runs = list(itertools.product(services, moments))
    with ThreadPoolExecutor(len(runs)) as pool:
        changed = sum(pool.map(lambda job: tick(*job), runs))

    assert changed >= len(suppliers)  # a tick replayed at the same moment reports it too
    for supplier in suppliers:
        types = [e.event_type for e in store.read_stream(supplier)]
        assert types.count("ImprovementDeadlineMissed") == 1, types
    assert store.verify_chain().intact


def _into_remediation(supplier: str) -> list[Command]:
    review = OpenReview(supplier, "three SLA breaches in 30 days", T0 + 2 * DAY)
    commands: list[Command] = [
        RegisterSupplier(supplier, supplier.upper(), "software", T0),
        attrs.evolve(passing_evidence(), supplier_id=supplier),
        attrs.evolve(sign(), supplier_id=supplier),
        review,
        ConcludeReview(supplier, ReviewOutcome.REMEDIATION_REQUIRED, T0 + 3 * DAY),
    ]
    return commands


def _wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_connections_the_server_dropped_are_replaced_unnoticed(
    store: ThrowawayPostgresStore,
) -> None:
    """After a database restart or failover kills every connection, the next call just works."""
    name = f"sqm-drop-{store.identity()[:8]}"
    with PostgresEventStore(f"{store.url}&application_name={name}") as instance:
        append(instance, "a", 0)
        with raw(store.url) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (name,),
            ).fetchall()
        assert killed
        assert all(ok for (ok,) in killed)

        assert append(instance, "a", 1).last_seq == 2
        assert instance.verify_chain().intact
