"""``sqm serve --workers 2``: two server processes on one port and one SQLite file.

Both workers listen on the announced port (each holds a listening socket of its own there,
read from /proc), writes sent over many connections are all recorded in one intact hash
chain, and SIGTERM to the parent stops both cleanly.
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient
from sqm.client.audit_client import AuditClient
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

CONNECTIONS = 24


def _workers(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                found.add(fields[9])
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_two_workers_share_the_port_the_record_and_a_clean_stop(tmp_path: Path) -> None:
    """Each worker listens on the port; every write over 24 connections is recorded."""
    server = ServerProcess(tmp_path / "sqm.sqlite3", "--workers", "2", "--tick-seconds", "0")
    server.start()
    try:
        assert server.process is not None
        workers = _workers(server.process.pid)
        port = int(server.address.rsplit(":", 1)[1])
        listening = _listening_inodes(port)
        assert len(workers) == 2
        assert all(_socket_inodes(pid) & listening for pid in workers)
        for number in range(CONNECTIONS):  # a channel each: a connection each
            with grpc.insecure_channel(server.address) as channel:
                api_grpc.SupplierServiceStub(channel).RegisterSupplier(
                    api.RegisterSupplierRequest(
                        supplier_id=f"w-{number}", display_name="Worker test",
                        category="software", request_id=f"w-{number}",
                    ),
                    timeout=30,
                )  # fmt: skip
        with SqmClient(server.address) as client, AuditClient(server.address) as audit:
            listed = {s.supplier_id for s in client.list_suppliers()}
            verdict = audit.verify_chain()
    finally:
        code = server.stop()
    assert listed == {f"w-{number}" for number in range(CONNECTIONS)}
    assert verdict.intact, verdict.problem
    assert code == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
