"""The policy archive contract: every store (memory, SQLite, PostgreSQL) passes this suite."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sqm.domain.errors import RequestIdReused
from sqm.domain.policy_archive import (
    ArchivedVersion,
    PolicyArchive,
    PolicyVersionConflict,
    PolicyVersionNotFound,
)
from sqm.server.storage.errors import StorageFault
from sqm.server.storage.memory import MemoryEventStore
from sqm.server.storage.sqlite import SqliteEventStore
from tests.postgres import ThrowawayPostgresStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
V1, V2 = "a" * 64, "b" * 64
FILES_1 = {
    "manifest.yaml": "format: sqm.policy/v1\nname: p\n",
    "qualification.yaml": "# 资格审查\r\nrules: []\n",  # CRLF and Chinese kept exactly
}
FILES_2 = {"manifest.yaml": "format: sqm.policy/v1\nname: p\ntitle: two\n"}

ArchiveFactory = Callable[[Path], PolicyArchive]

# One line per store.
ARCHIVES: dict[str, ArchiveFactory] = {
    "memory": lambda _tmp_path: MemoryEventStore(),
    "sqlite": lambda tmp_path: SqliteEventStore(tmp_path / "archive.sqlite3"),
    "postgresql": lambda _tmp_path: ThrowawayPostgresStore(),
}


@pytest.fixture(params=list(ARCHIVES))
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PolicyArchive]:
    """A fresh, empty archive of each kind."""
    opened = ARCHIVES[request.param](tmp_path)
    yield opened
    opened.close()  # type: ignore[attr-defined]


def at(minutes: int) -> datetime:
    """``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


def test_a_new_archive_has_no_versions_and_nothing_active(archive: PolicyArchive) -> None:
    """Before anything is saved there is no active version, no history, no versions."""
    assert archive.active_version() is None
    assert archive.activations() == []
    assert archive.list_versions() == []


def test_saved_files_read_back_exactly(archive: PolicyArchive) -> None:
    """Files come back byte for byte: line endings and Chinese text are part of the hash."""
    assert archive.save_version(V1, "telecom-default", FILES_1, T0) is True

    assert archive.load_version(V1) == FILES_1


def test_saving_the_same_version_again_is_a_no_op(archive: PolicyArchive) -> None:
    """save_version is idempotent by version: the second save writes nothing."""
    archive.save_version(V1, "p", FILES_1, T0)

    assert archive.save_version(V1, "p", FILES_1, at(5)) is False
    assert archive.get_version(V1).saved_at == T0


def test_the_same_version_with_other_files_is_a_conflict(archive: PolicyArchive) -> None:
    """A version is its content: other files under a known hash are refused."""
    archive.save_version(V1, "p", FILES_1, T0)

    with pytest.raises(PolicyVersionConflict):
        archive.save_version(V1, "p", FILES_2, at(1))
    assert archive.load_version(V1) == FILES_1


def test_an_activation_makes_its_version_active(archive: PolicyArchive) -> None:
    """The latest activation names the active version; the history keeps every one."""
    archive.save_version(V1, "p", FILES_1, T0)
    archive.save_version(V2, "p", FILES_2, T0)

    first = archive.record_activation(V1, "serve", "r1", at(1))
    second = archive.record_activation(V2, "王芳", "r2", at(2))

    assert archive.active_version() == V2
    assert [(a.sequence, a.version, a.actor) for a in archive.activations()] == [
        (1, V1, "serve"),
        (2, V2, "王芳"),
    ]
    assert (first.sequence, second.sequence) == (1, 2)
    assert second.activated_at == at(2)


def test_times_read_back_in_utc(archive: PolicyArchive) -> None:
    """An activation time given in Beijing time reads back as the same instant in UTC."""
    beijing = timezone(timedelta(hours=8))
    archive.save_version(V1, "p", FILES_1, T0.astimezone(beijing))
    activation = archive.record_activation(V1, "serve", "r1", at(3).astimezone(beijing))

    assert activation.activated_at == at(3)
    assert activation.activated_at.tzinfo == UTC
    assert archive.get_version(V1).saved_at.tzinfo == UTC


def test_versions_list_in_save_order_with_first_and_last_activation(
    archive: PolicyArchive,
) -> None:
    """Each version shows when it was first and last active, and how often."""
    archive.save_version(V2, "p2", FILES_2, T0)
    archive.save_version(V1, "p1", FILES_1, at(1))
    archive.record_activation(V1, "a", "r1", at(2))
    archive.record_activation(V2, "a", "r2", at(3))
    archive.record_activation(V1, "a", "r3", at(4))

    assert archive.list_versions() == [
        ArchivedVersion(V2, "p2", T0, at(3), at(3), 1),
        ArchivedVersion(V1, "p1", at(1), at(2), at(4), 2),
    ]
    assert archive.active_version() == V1


def test_a_version_never_activated_is_listed_without_times(archive: PolicyArchive) -> None:
    """A saved but never activated version has no activation times."""
    archive.save_version(V1, "p", FILES_1, T0)

    assert archive.get_version(V1) == ArchivedVersion(V1, "p", T0)


def test_a_retried_activation_is_replayed_not_recorded_twice(archive: PolicyArchive) -> None:
    """The same request id for the same version returns the first activation."""
    archive.save_version(V1, "p", FILES_1, T0)
    first = archive.record_activation(V1, "a", "r1", at(1))

    again = archive.record_activation(V1, "a", "r1", at(9))

    assert again == first
    assert again.replayed
    assert not first.replayed
    assert len(archive.activations()) == 1


def test_a_request_id_reused_for_another_version_is_refused(archive: PolicyArchive) -> None:
    """A request id names one activation; another version under it is a client bug."""
    archive.save_version(V1, "p", FILES_1, T0)
    archive.save_version(V2, "p", FILES_2, T0)
    archive.record_activation(V1, "a", "r1", at(1))

    with pytest.raises(RequestIdReused):
        archive.record_activation(V2, "a", "r1", at(2))
    assert archive.active_version() == V1


def test_activating_an_unknown_version_is_refused(archive: PolicyArchive) -> None:
    """Only archived versions can be activated: the files must be kept first."""
    with pytest.raises(PolicyVersionNotFound):
        archive.record_activation(V1, "a", "r1", T0)
    assert archive.activations() == []


def test_reading_an_unknown_version_is_not_found(archive: PolicyArchive) -> None:
    """Unknown versions raise PolicyVersionNotFound naming the version."""
    with pytest.raises(PolicyVersionNotFound, match=V2):
        archive.load_version(V2)
    with pytest.raises(PolicyVersionNotFound):
        archive.get_version(V2)


@pytest.mark.parametrize(
    ("version", "name", "files"),
    [("", "p", FILES_1), (V1, "", FILES_1), (V1, "p", {})],
)
def test_a_version_without_hash_name_or_files_is_refused(
    archive: PolicyArchive, version: str, name: str, files: dict[str, str]
) -> None:
    """Empty arguments are a caller's bug, not something to store."""
    with pytest.raises(ValueError, match=r"must not be empty|at least one file"):
        archive.save_version(version, name, files, T0)


# --- SQLite only: durability and append-only -------------------------------------------


def test_sqlite_archive_survives_reopening(tmp_path: Path) -> None:
    """Versions and activations are in the file: a restarted server finds them."""
    path = tmp_path / "archive.sqlite3"
    with SqliteEventStore(path) as store:
        store.save_version(V1, "p", FILES_1, T0)
        store.record_activation(V1, "serve", "r1", at(1))

    with SqliteEventStore(path) as reopened:
        assert reopened.active_version() == V1
        assert reopened.load_version(V1) == FILES_1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE policy_versions SET files = '{}'",
        "DELETE FROM policy_versions",
        "UPDATE policy_activations SET version = 'x'",
        "DELETE FROM policy_activations",
    ],
)
def test_sqlite_archive_tables_refuse_update_and_delete(tmp_path: Path, statement: str) -> None:
    """Triggers keep the archive append-only, even for a raw connection."""
    path = tmp_path / "archive.sqlite3"
    with SqliteEventStore(path) as store:
        store.save_version(V1, "p", FILES_1, T0)
        store.record_activation(V1, "serve", "r1", at(1))

    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    finally:
        conn.close()


def test_a_read_only_store_reads_the_archive_and_writes_nothing(tmp_path: Path) -> None:
    """Tools open a server's file read-only: they see the archive and cannot change it."""
    path = tmp_path / "archive.sqlite3"
    with SqliteEventStore(path) as store:
        store.save_version(V1, "p", FILES_1, T0)
        store.record_activation(V1, "serve", "r1", at(1))

    with SqliteEventStore(path, read_only=True) as reader:
        assert reader.active_version() == V1
        assert [v.version for v in reader.list_versions()] == [V1]
        with pytest.raises(StorageFault, match="read-only"):
            reader.save_version(V2, "p", FILES_2, at(2))
