"""Backup and restore: an online copy of the SQLite store, taken while a server writes to it.

Another process opens the live file read-only and copies it with SQLite's online backup
(``SqliteEventStore.backup``) while a client keeps registering suppliers through the
server. A server started on the copy must verify the hash chain, hold every supplier
acknowledged before the backup began, and hold exactly the live record's first events
(the copy is a consistent moment of it); the live server must not have noticed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient
from sqm.v1 import audit_service_pb2, audit_service_pb2_grpc
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget
from tests.reliability.ledger import chain_problem

BACKUP = """
import sys
from sqm.server.storage.sqlite import SqliteEventStore
with SqliteEventStore(sys.argv[1], read_only=True) as live:
    live.backup(sys.argv[2])
"""


class Registrar(threading.Thread):
    """Registers suppliers one after another until told to stop; notes each acknowledged."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self.going = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        """Register ``backup-0``, ``backup-1``, ... (any failure is kept for the test)."""
        with SqmClient(self.address, timeout=30, attempts=1) as client:
            number = 0
            while not self.stop.is_set():
                supplier = f"backup-{number}"
                try:
                    client.register_supplier(supplier, supplier, "software")
                except Exception as error:  # whatever it was, the test reports it
                    self.failures.append(f"{supplier}: {error}")
                    return
                self.acknowledged.append(supplier)
                number += 1
                if number == 100:  # some record to copy before the backup starts
                    self.going.set()


def _events(address: str, up_to: int) -> list[tuple[int, str]]:
    """The first ``up_to`` events of the record, as (sequence, hash)."""
    request = audit_service_pb2.WatchRequest()
    with grpc.insecure_channel(address) as channel:
        stream = audit_service_pb2_grpc.AuditServiceStub(channel).Watch(request, timeout=60)
        found = []
        for response in stream:
            found.append((response.event.sequence, response.event.hash))
            if len(found) == up_to:
                stream.cancel()  # type: ignore[attr-defined]
                break
    return found


def _head(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        verdict = stub.VerifyAuditChain(audit_service_pb2.VerifyAuditChainRequest(), timeout=60)
    return int(verdict.events_checked)


@pytest.mark.timeout(budget.timeout())
def test_an_online_backup_taken_while_serving_restores_to_a_verified_record(
    database: Path, tmp_path: Path
) -> None:
    """The copy verifies, holds everything acknowledged before it began, and is a prefix."""
    copy = tmp_path / "backup.sqlite3"
    live = ServerProcess(database, "--tick-seconds", "0").start()
    registrar = Registrar(live.address)
    try:
        registrar.start()
        assert registrar.going.wait(30), registrar.failures
        before = list(registrar.acknowledged)  # acknowledged before the backup began
        child = subprocess.run(
            [sys.executable, "-c", BACKUP, str(database), str(copy)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert child.returncode == 0, child.stderr
        registrar.stop.set()
        registrar.join(30)
        assert registrar.failures == []
        assert len(registrar.acknowledged) > len(before)  # the server wrote during the copy
        assert chain_problem(live.address) == ""
        restored = ServerProcess(copy, "--tick-seconds", "0").start()
        try:
            assert chain_problem(restored.address) == ""
            with SqmClient(restored.address, timeout=30) as client:
                present = {s.supplier_id for s in client.list_suppliers(page_size=1000)}
            assert set(before) <= present
            assert present <= set(registrar.acknowledged)
            copied = _head(restored.address)
            assert _events(restored.address, copied) == _events(live.address, copied)
        finally:
            restored.kill()
    finally:
        registrar.stop.set()
        live.kill()
    budget.add("events in the online backup, verified", copied)
