"""The document archive on every store: kept with its SHA-256, checked on read, append-only."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from sqm.domain.documents import DocumentCorrupted, DocumentNotFound, DocumentStore, NewDocument
from sqm.domain.errors import RequestIdReused
from sqm.server.storage.memory import MemoryEventStore
from sqm.server.storage.postgres import PostgresEventStore
from sqm.server.storage.sqlite import SqliteEventStore
from tests.postgres import ThrowawayPostgresStore

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONTENT = b"%PDF-1.7 contract between the operator and acme\n"

Store = MemoryEventStore | SqliteEventStore | PostgresEventStore
STORES: dict[str, Callable[[Path], Store]] = {
    "memory": lambda _tmp: MemoryEventStore(clock=lambda: NOW),
    "sqlite": lambda tmp: SqliteEventStore(tmp / "docs.sqlite3", clock=lambda: NOW),
    "postgresql": lambda _tmp: ThrowawayPostgresStore(clock=lambda: NOW),
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each kind."""
    opened = STORES[request.param](tmp_path)
    yield opened
    opened.close()


def new_document(
    request_id: str = "req-1", content: bytes = CONTENT, supplier_id: str = "acme"
) -> NewDocument:
    """A contract PDF to archive."""
    return NewDocument(supplier_id, "contract.pdf", "application/pdf", content, "alice", request_id)


def test_every_store_is_a_document_store(store: Store) -> None:
    """Every store implements the DocumentStore port."""
    assert isinstance(store, DocumentStore)


def test_archived_document_reads_back_with_its_sha256(store: Store) -> None:
    """The bytes read back are the bytes given, recorded with their SHA-256 and size."""
    kept = store.archive_document(new_document()).document

    record, content = store.get_document(kept.document_id)

    assert content == CONTENT
    assert record == kept
    assert record.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert record.size == len(CONTENT)
    assert (record.supplier_id, record.actor, record.archived_at) == ("acme", "alice", NOW)


def test_repeated_request_id_returns_the_first_document_and_stores_nothing(store: Store) -> None:
    """A retry with the same request id is answered with the first document, replayed."""
    first = store.archive_document(new_document())
    again = store.archive_document(new_document())

    assert again.replayed
    assert not first.replayed
    assert again.document == first.document
    assert store.list_documents("acme") == [first.document]


def test_request_id_reused_for_other_content_is_refused(store: Store) -> None:
    """The same request id with different bytes is a different request: refused."""
    store.archive_document(new_document())

    with pytest.raises(RequestIdReused):
        store.archive_document(new_document(content=b"something else"))


def test_documents_are_listed_per_supplier_in_archive_order_with_paging(store: Store) -> None:
    """Listing returns one supplier's documents in the order archived, page by page."""
    ids = [
        store.archive_document(new_document(f"req-{i}", bytes([i]))).document.document_id
        for i in range(5)
    ]
    store.archive_document(new_document("other", supplier_id="globex"))

    first = store.list_documents("acme", "", 3)
    rest = store.list_documents("acme", first[-1].document_id, 3)

    assert [d.document_id for d in first + rest] == ids
    assert [d.supplier_id for d in store.list_documents("globex")] == ["globex"]


def test_unknown_document_is_not_found(store: Store) -> None:
    """Reading a document id nobody archived raises DocumentNotFound."""
    with pytest.raises(DocumentNotFound):
        store.get_document("0" * 32)


def test_stores_have_distinct_identities(tmp_path: Path) -> None:
    """Two databases never share an identity; a reopened SQLite file keeps its own."""
    path = tmp_path / "one.sqlite3"
    with SqliteEventStore(path) as first:
        identity = first.identity()
    with SqliteEventStore(path) as reopened, SqliteEventStore(tmp_path / "two.sqlite3") as other:
        assert reopened.identity() == identity
        assert other.identity() != identity
    assert MemoryEventStore().identity() != MemoryEventStore().identity()


def test_tampered_sqlite_document_is_detected_on_read(tmp_path: Path) -> None:
    """Bytes changed behind the store's back fail the SHA-256 check as DocumentCorrupted."""
    path = tmp_path / "docs.sqlite3"
    with SqliteEventStore(path) as store:
        kept = store.archive_document(new_document()).document
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER documents_no_update")
        conn.execute(
            "UPDATE documents SET content = ? WHERE document_id = ?", (b"forged", kept.document_id)
        )
    conn.close()

    with SqliteEventStore(path) as store, pytest.raises(DocumentCorrupted) as raised:
        store.get_document(kept.document_id)
    assert raised.value.expected_sha256 == kept.sha256


def test_tampered_memory_document_is_detected_on_read() -> None:
    """A memory store checks the SHA-256 on read just as SQLite does."""
    store = MemoryEventStore()
    kept = store.archive_document(new_document()).document
    store._documents[kept.document_id] = (kept, b"forged")  # the tamperer

    with pytest.raises(DocumentCorrupted):
        store.get_document(kept.document_id)


def test_sqlite_documents_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    """The documents table is append-only: UPDATE and DELETE are refused by triggers."""
    path = tmp_path / "docs.sqlite3"
    with SqliteEventStore(path) as store:
        kept = store.archive_document(new_document()).document
    conn = sqlite3.connect(path)
    try:
        for statement in ("UPDATE documents SET filename = 'x'", "DELETE FROM documents"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()
    with SqliteEventStore(path) as store:
        assert store.get_document(kept.document_id)[1] == CONTENT


def test_document_records_are_frozen() -> None:
    """An archived document's record cannot be changed in place."""
    kept = MemoryEventStore().archive_document(new_document()).document

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        kept.sha256 = "0" * 64  # type: ignore[misc]
