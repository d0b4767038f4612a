"""AuditService end to end: a real ``sqm serve``, real channels, the record watched and checked."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient, SqmError
from sqm.client.audit_client import AuditClient
from sqm.v1 import audit_service_pb2 as api
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

WATCH_TIMEOUT = 20.0


def start_server(database: Path) -> ServerProcess:
    """``sqm serve`` on ``database`` with the deadline scheduler off (no tick events)."""
    return ServerProcess(database, "--tick-seconds", "0").start()


@pytest.fixture
def audit_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A running server on a fresh database."""
    server = start_server(tmp_path / "sqm.sqlite3")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def suppliers(audit_server: ServerProcess) -> Iterator[SqmClient]:
    """A SupplierService client on the running server."""
    with SqmClient(audit_server.address, timeout=10) as connected:
        yield connected


@pytest.fixture
def audit(audit_server: ServerProcess) -> Iterator[AuditClient]:
    """An AuditService client on the running server."""
    with AuditClient(audit_server.address, timeout=10, actor="auditor") as connected:
        yield connected


def register(client: SqmClient, *supplier_ids: str) -> None:
    """Register each supplier as a candidate (one event each)."""
    for supplier_id in supplier_ids:
        client.register_supplier(supplier_id, supplier_id.title(), "software")


def read(items: Iterator[api.WatchResponse], count: int) -> list[api.WatchResponse]:
    """The next ``count`` items of a watch."""
    return [next(items) for _ in range(count)]


def test_audit_chain_is_intact_after_writes(suppliers: SqmClient, audit: AuditClient) -> None:
    """VerifyAuditChain checks every event written and finds the chain intact."""
    register(suppliers, "acme", "globex", "initech")

    verdict = audit.verify_chain()

    assert verdict.intact
    assert verdict.events_checked >= 3
    assert verdict.first_broken_sequence == 0
    assert verdict.problem == ""


def test_export_supplier_returns_every_event(suppliers: SqmClient, audit: AuditClient) -> None:
    """ExportSupplier returns the supplier, all its events in order, and its documents."""
    register(suppliers, "acme", "globex")
    suppliers.blacklist_supplier("acme", "fraud")
    audit.archive_document("acme", "audit.txt", "text/plain", b"site audit notes")

    export = audit.export_supplier("acme")

    assert export.supplier.supplier_id == "acme"
    assert [e.version for e in export.events] == list(range(1, len(export.events) + 1))
    assert len(export.events) >= 2
    assert export.events[-1].type != export.events[0].type
    assert {e.supplier for e in export.events} == {"suppliers/acme"}
    assert [d.filename for d in export.documents] == ["audit.txt"]


def test_export_of_unknown_supplier_is_not_found(audit: AuditClient) -> None:
    """ExportSupplier for a supplier nobody registered fails with NOT_FOUND."""
    with pytest.raises(SqmError) as raised:
        audit.export_supplier("nobody")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


def test_archived_document_round_trips_with_its_sha256(
    suppliers: SqmClient, audit: AuditClient
) -> None:
    """ArchiveDocument keeps the bytes; GetDocument returns them, SHA-256 and all."""
    register(suppliers, "acme")
    content = bytes(range(256)) * 1000

    archived = audit.archive_document(
        "acme", "contract.pdf", "application/pdf", content, request_id="doc-1"
    )
    again = audit.archive_document(
        "acme", "contract.pdf", "application/pdf", content, request_id="doc-1"
    )
    fetched = audit.get_document(archived.name)

    assert archived.sha256 == hashlib.sha256(content).hexdigest()
    assert archived.size == len(content)
    assert again.document_id == archived.document_id
    assert fetched.content == content
    assert fetched.document.sha256 == archived.sha256
    assert [d.document_id for d in audit.list_documents("acme")] == [archived.document_id]


def test_tampered_document_is_data_loss(
    audit_server: ServerProcess, suppliers: SqmClient, audit: AuditClient
) -> None:
    """Bytes changed in the file behind the server's back fail GetDocument with DATA_LOSS."""
    register(suppliers, "acme")
    archived = audit.archive_document("acme", "report.txt", "text/plain", b"inspection passed")
    conn = sqlite3.connect(audit_server.database)
    try:
        conn.execute("DROP TRIGGER documents_no_update")
        conn.execute("UPDATE documents SET content = ?", (b"inspection failed",))
        conn.commit()
    finally:
        conn.close()

    with pytest.raises(SqmError) as raised:
        audit.get_document(archived.name)

    assert raised.value.code == grpc.StatusCode.DATA_LOSS
    assert raised.value.reason == "DOCUMENT_CORRUPTED"


def test_document_for_unknown_supplier_is_not_found(audit: AuditClient) -> None:
    """Archiving for a supplier nobody registered fails with NOT_FOUND and keeps nothing."""
    with pytest.raises(SqmError) as raised:
        audit.archive_document("nobody", "a.txt", "text/plain", b"x")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


def test_watch_resumes_after_disconnect_with_no_gap_and_no_duplicate(
    suppliers: SqmClient, audit: AuditClient
) -> None:
    """A watcher cancelled after k events resumes from its k-th token with exactly the rest."""
    register(suppliers, *(f"first-{i}" for i in range(6)))
    k = 4
    with audit.watch(timeout=WATCH_TIMEOUT) as stream:
        seen = read(iter(stream), k)
    token = seen[-1].resume_token

    register(suppliers, *(f"later-{i}" for i in range(5)))
    end = audit.verify_chain().events_checked
    with audit.watch(resume_token=token, timeout=WATCH_TIMEOUT) as stream:
        rest = read(iter(stream), end - k)

    assert [item.event.sequence for item in seen] == list(range(1, k + 1))
    assert [item.event.sequence for item in rest] == list(range(k + 1, end + 1))
    assert {item.event.supplier for item in rest} >= {f"suppliers/later-{i}" for i in range(5)}


def test_watch_follows_new_events_live(suppliers: SqmClient, audit: AuditClient) -> None:
    """After catching up, a watch delivers events written while it is open."""
    register(suppliers, "acme")
    with audit.watch(timeout=WATCH_TIMEOUT) as stream:
        items = iter(stream)
        caught_up = read(items, 1)
        register(suppliers, "globex")
        live = read(items, 1)

    assert caught_up[0].event.supplier == "suppliers/acme"
    assert live[0].event.supplier == "suppliers/globex"


def test_watch_filtered_by_supplier_sends_only_its_events(
    suppliers: SqmClient, audit: AuditClient
) -> None:
    """A watch for one supplier skips every other supplier's events."""
    register(suppliers, "acme", "globex", "initech")
    suppliers.blacklist_supplier("globex", "fraud")

    expected = [e.sequence for e in audit.export_supplier("globex").events]

    with audit.watch(supplier_id="globex", timeout=WATCH_TIMEOUT) as stream:
        items = read(iter(stream), len(expected))

    assert [item.event.sequence for item in items] == expected
    assert {item.event.supplier for item in items} == {"suppliers/globex"}


def test_malformed_resume_token_is_invalid_argument(audit: AuditClient) -> None:
    """A token Watch never issued fails with INVALID_ARGUMENT naming resume_token."""
    with (
        pytest.raises(SqmError) as raised,
        audit.watch(resume_token="not a token", timeout=WATCH_TIMEOUT) as stream,
    ):
        read(iter(stream), 1)

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f.field for f in raised.value.bad_fields] == ["resume_token"]


def test_resume_token_from_another_database_is_expired(
    tmp_path: Path, suppliers: SqmClient, audit: AuditClient
) -> None:
    """A token issued by another database fails with FAILED_PRECONDITION, RESUME_TOKEN_EXPIRED."""
    register(suppliers, "acme", "globex")
    other = start_server(tmp_path / "other.sqlite3")
    try:
        with SqmClient(other.address, timeout=10) as other_suppliers:
            register(other_suppliers, "acme")
        with (
            AuditClient(other.address, timeout=10) as other_audit,
            other_audit.watch(timeout=WATCH_TIMEOUT) as stream,
        ):
            foreign = read(iter(stream), 1)[0].resume_token
    finally:
        other.kill()

    with (
        pytest.raises(SqmError) as raised,
        audit.watch(resume_token=foreign, timeout=WATCH_TIMEOUT) as stream,
    ):
        read(iter(stream), 1)

    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.reason == "RESUME_TOKEN_EXPIRED"


def test_server_shutdown_ends_an_open_watch(audit_server: ServerProcess) -> None:
    """SIGTERM with a watch open still stops the server cleanly, ending the stream."""
    with SqmClient(audit_server.address, timeout=10) as client:
        register(client, "acme")
    with AuditClient(audit_server.address) as audit, audit.watch(timeout=WATCH_TIMEOUT) as stream:
        items = iter(stream)
        read(items, 1)

        assert audit_server.stop() == 0
        with pytest.raises(SqmError) as raised:
            read(items, 1)
    assert raised.value.code in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


def test_an_archived_document_is_on_the_record_once(
    suppliers: SqmClient, audit: AuditClient
) -> None:
    """Archiving puts a DocumentArchived event with the SHA-256 in the chain; a retry adds none."""
    register(suppliers, "acme")
    content = b"kick-off minutes"

    archived = audit.archive_document("acme", "minutes.txt", "text/plain", content, request_id="d")
    audit.archive_document("acme", "minutes.txt", "text/plain", content, request_id="d")

    recorded = [e for e in suppliers.list_supplier_events("acme") if e.type == "DocumentArchived"]
    assert len(recorded) == 1
    assert recorded[0].payload["document_id"] == archived.document_id
    assert recorded[0].payload["sha256"] == hashlib.sha256(content).hexdigest()
    assert recorded[0].request_id == "d"
    assert audit.verify_chain().documents_checked == 1


def test_a_document_altered_with_its_archived_hash_breaks_verification(
    audit_server: ServerProcess, suppliers: SqmClient, audit: AuditClient
) -> None:
    """Bytes and archived hash changed together still differ from the hash in the chain."""
    register(suppliers, "acme", "globex")
    archived = audit.archive_document("acme", "report.txt", "text/plain", b"inspection passed")
    forged = b"inspection failed"
    conn = sqlite3.connect(audit_server.database)
    try:
        conn.execute("DROP TRIGGER documents_no_update")
        conn.execute(
            "UPDATE documents SET content = ?, sha256 = ?",
            (forged, hashlib.sha256(forged).hexdigest()),
        )
        conn.commit()
    finally:
        conn.close()

    assert audit.get_document(archived.name).content == forged  # self-consistent row
    verdict = audit.verify_chain()

    recorded = next(
        e for e in suppliers.list_supplier_events("acme") if e.type == "DocumentArchived"
    )
    assert not verdict.intact
    assert verdict.first_broken_sequence == recorded.sequence
    assert archived.document_id in verdict.problem


def test_a_backdated_document_is_refused_and_nothing_is_kept(
    suppliers: SqmClient, audit: AuditClient
) -> None:
    """A document dated before the supplier's last event names occur_time and keeps no bytes."""
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    suppliers.register_supplier("acme", "Acme", "software", occur_time=moment)

    with pytest.raises(SqmError) as raised:
        audit.archive_document(
            "acme", "a.txt", "text/plain", b"x", occur_time=moment - timedelta(days=1)
        )

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f.field for f in raised.value.bad_fields] == ["occur_time"]
    assert list(audit.list_documents("acme")) == []
