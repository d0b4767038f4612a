"""End to end: move a served SQLite database to PostgreSQL with ``sqm db export`` and
``sqm db import``; a server on either answers the same for every supplier.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqm.client import SqmClient
from sqm.client.audit_client import AuditClient
from sqm.client.policy_client import PolicyClient
from sqm.v1 import resources_pb2 as pb
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, availability_row, contracted, qualified
from tests.e2e.server_process import ServerProcess
from tests.postgres import fresh_schema

pytestmark = pytest.mark.e2e

MAJOR_MISS = 99.6


def populate(address: str) -> None:
    """Suppliers at several points of the process, with penalties, a review and a document."""
    timeline = Timeline()
    with SqmClient(address) as client, AuditClient(address) as audit:
        qualified(client, "candidate-ok", timeline)
        contracted(client, "acme-net", timeline)
        contracted(client, "globex-net", timeline)
        timeline.step(2)
        for _ in range(3):  # three major breaches open a review by rule
            client.record_measurement(availability_row("acme-net", MAJOR_MISS, timeline))
        client.record_measurement(availability_row("globex-net", 99.99, timeline))
        audit.archive_document(
            "acme-net", "合同.pdf", "application/pdf", b"%PDF-1.7\n\x00\xff",
            occur_time=timeline.step(),
        )  # fmt: skip


def served(address: str) -> dict[str, object]:
    """What a server answers about every supplier, its record and its policies."""
    with (
        SqmClient(address) as client,
        AuditClient(address) as audit,
        PolicyClient(address) as policies,
    ):
        suppliers = list(client.list_suppliers())
        exports = {s.supplier_id: audit.export_supplier(s.supplier_id) for s in suppliers}
        documents = {
            d.name: audit.get_document(d.name)
            for export in exports.values()
            for d in export.documents
        }
        return {
            "suppliers": suppliers,
            "states": {s.supplier_id: client.get_supplier(s.supplier_id) for s in suppliers},
            "exports": exports,
            "documents": documents,
            "chain": audit.verify_chain(),
            "policies": list(policies.list_versions()),
        }


def test_a_sqlite_database_moves_to_postgresql_and_serves_the_same(tmp_path: Path) -> None:
    """Export from SQLite, import into PostgreSQL: both servers report the same everywhere."""
    sqlite_file = tmp_path / "sqm.sqlite3"
    dump = tmp_path / "sqm.jsonl"
    original = ServerProcess(sqlite_file, "--tick-seconds", "0").start()
    try:
        populate(original.address)
    finally:
        assert original.stop() == 0

    exported = sqm("db", "export", "--database", str(sqlite_file), str(dump))
    assert exported.returncode == 0, exported.stderr
    with fresh_schema() as url:
        imported = sqm("db", "import", "--database", url, "--migrate", str(dump))
        assert imported.returncode == 0, imported.stderr
        assert "hash chain verified" in imported.stdout
        # The same records, the notification outbox too (acme's penalties), in and out.
        moved = exported.stdout.split(" from ")[0].removeprefix("exported ")
        assert moved in imported.stdout
        assert re.search(r" [1-9]\d* notifications,", moved), moved
        again = sqm("db", "import", "--database", url, str(dump))
        assert again.returncode == 2
        assert "already holds" in again.stderr
        assert "Traceback" not in again.stderr

        servers = [
            ServerProcess(database, "--tick-seconds", "0").start()
            for database in (sqlite_file, url)
        ]
        try:
            on_sqlite, on_postgres = (served(server.address) for server in servers)
            assert on_postgres == on_sqlite
            assert len(on_sqlite["suppliers"]) == 3  # type: ignore[arg-type]
            states = on_postgres["states"]
            assert states["acme-net"].state == pb.LIFECYCLE_STATE_UNDER_REVIEW  # type: ignore[index]
            _carries_on(servers[1].address)
        finally:
            for server in servers:
                server.kill()


def _carries_on(address: str) -> None:
    with SqmClient(address) as client, AuditClient(address) as audit:
        before = audit.verify_chain().events_checked
        client.register_supplier("initech-net", "Initech", "it_services")
        after = audit.verify_chain()
    assert after.intact
    assert after.events_checked == before + 1
