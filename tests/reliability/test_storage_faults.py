"""A full disk, or PostgreSQL gone away, is answered cleanly, reported by health, and
recovered from by itself.

The database lives on a small tmpfs (mounting one needs root: skipped otherwise). A filler
file takes the free space while a client keeps registering suppliers: the refused writes
are ``RESOURCE_EXHAUSTED`` saying the disk is full, health turns ``NOT_SERVING``, the log
has one line about it and no traceback. The filler is removed: health is ``SERVING`` again,
writes go through, and every write acknowledged before, during and after is on the record.
On PostgreSQL, a proxy between the server and the database cuts every connection for a
while (the database itself is shared by the suite and stays up): the same, with
``UNAVAILABLE`` saying it cannot be reached.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest
from grpc_health.v1 import health_pb2

from sqm.client import SqmClient
from sqm.client.errors import SqmError
from tests.e2e.server_process import ServerProcess
from tests.postgres import fresh_schema
from tests.reliability import budget
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = pytest.mark.reliability

DISK = "12m"
SERVING, NOT_SERVING = (
    health_pb2.HealthCheckResponse.SERVING,
    health_pb2.HealthCheckResponse.NOT_SERVING,
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of :data:`DISK` mounted for the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Take every free byte of the file system ``path`` is on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1024 * 1024, 64 * 1024, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)


def _health(server: ServerProcess, wanted: int, within: float) -> bool:
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        if server.health() == wanted:
            return True
        time.sleep(0.1)
    return False


def test_a_full_disk_is_refused_cleanly_and_service_resumes_when_space_returns(
    small_disk: Path,
) -> None:
    """RESOURCE_EXHAUSTED naming a full disk, NOT_SERVING, no traceback, nothing lost."""
    server = ServerProcess(small_disk / "sqm.sqlite3", "--tick-seconds", "0").start()
    acknowledged: list[str] = []
    refused: list[SqmError] = []
    filler = small_disk / "filler"
    try:
        with SqmClient(server.address, attempts=1, timeout=10) as client:

            def register(number: int) -> None:
                supplier = f"full-{number}"
                try:
                    client.register_supplier(supplier, "x" * 200, "software")
                except SqmError as error:
                    refused.append(error)
                else:
                    acknowledged.append(supplier)

            for number in range(20):
                register(number)
            _fill(filler)
            number = 20
            while len(refused) < budget.scaled(5) and number < 5_000:
                register(number)
                number += 1
            assert refused, "no write was refused on a full disk"
            assert _health(server, NOT_SERVING, within=5)
            filler.unlink()
            assert _health(server, SERVING, within=10)
            register(number + 1)
            stored = {s.supplier_id for s in client.list_suppliers()}
    finally:
        server.stop()
    log = "\n".join(server.output)
    budget.add("writes refused on a full disk", len(refused))
    assert {e.code for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert all("disk is full" in e.message for e in refused)
    assert acknowledged[-1] == f"full-{number + 1}"
    assert set(acknowledged) <= stored
    assert "Traceback" not in log
    assert log.count("writes refused, health NOT_SERVING") == 1
    assert os.path.exists(small_disk / "sqm.sqlite3")


def test_a_postgresql_outage_is_refused_cleanly_and_service_resumes_when_it_returns() -> None:
    """The database unreachable: UNAVAILABLE saying so, NOT_SERVING, one log line, nothing
    lost; reachable again: SERVING and writes go through, without a restart.
    """
    with fresh_schema() as url:
        parts = urlsplit(url)
        proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        server = ServerProcess(proxied, "--tick-seconds", "0", "--migrate").start()
        acknowledged: list[str] = []
        refused: list[SqmError] = []
        try:
            with SqmClient(server.address, attempts=1, timeout=30) as client:

                def register(supplier: str) -> None:
                    try:
                        client.register_supplier(supplier, "Outage", "software")
                    except SqmError as error:
                        refused.append(error)
                    else:
                        acknowledged.append(supplier)

                register("before")
                proxy.cut()
                for number in range(budget.scaled(3)):
                    register(f"during-{number}")
                assert _health(server, NOT_SERVING, within=15)
                proxy.restore()
                assert _health(server, SERVING, within=30)
                register("after")
                stored = {s.supplier_id for s in client.list_suppliers()}
        finally:
            server.stop()
            proxy.close()
    log = "\n".join(server.output)
    budget.add("writes refused with PostgreSQL unreachable", len(refused))
    assert refused, "no write was refused while PostgreSQL was unreachable"
    assert {e.code for e in refused} == {grpc.StatusCode.UNAVAILABLE}
    assert all("cannot be reached" in e.message for e in refused), refused[0].message
    assert acknowledged[0] == "before"
    assert acknowledged[-1] == "after"
    assert set(acknowledged) <= stored
    assert "Traceback" not in log
    assert log.count("writes refused, health NOT_SERVING") == 1
    assert "psycopg.pool" not in log  # its reconnect warnings, several lines each
