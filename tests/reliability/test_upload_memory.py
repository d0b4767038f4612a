"""One upload stream cannot make the server buffer whatever it is sent.

A client offers 1 GiB in 1 MiB rows to ``UploadMeasurements``, far past
:data:`~sqm.server.api.measurement_upload.MAX_UPLOAD_BYTES`: the call is
``RESOURCE_EXHAUSTED`` once the limit is passed, nothing is stored, and the server's
resident memory grew by less than the documented bound (the limit, about four times over as
Python objects, plus slack for the allocator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sqm.server.api.measurement_upload import MAX_UPLOAD_BYTES
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.server_process import ServerProcess
from tests.reliability import budget

pytestmark = pytest.mark.reliability

ROW_BYTES = 1024 * 1024
MIB = 1024 * 1024
BOUND = 4 * MAX_UPLOAD_BYTES + 32 * MIB


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _rows(count: int) -> Iterator[api.UploadMeasurementsRequest]:
    for number in range(count):
        row = api.UploadMeasurementsRequest()
        row.measurement.request_id = f"{number:08d}" + "x" * ROW_BYTES
        yield row


def test_a_1_gib_upload_is_refused_within_the_memory_bound(tmp_path: Path) -> None:
    """1 GiB offered in one upload: RESOURCE_EXHAUSTED, memory within the bound, still serving.

    The server stops reading at the limit, so the client sends little more than 16 MiB of
    the 1 GiB it offers (grpc stops pulling rows from the iterator once the call ends).
    """
    rows = budget.scaled(1024)
    server = ServerProcess(tmp_path / "sqm.sqlite3", "--tick-seconds", "0").start()
    try:
        assert server.process is not None
        before = _rss(server.process.pid)
        with grpc.insecure_channel(server.address) as channel:
            stub = api_grpc.SupplierServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.UploadMeasurements(_rows(rows), timeout=budget.timeout(60))
        after = _rss(server.process.pid)
        serving = server.health()
    finally:
        with contextlib.suppress(Exception):
            server.stop()
    budget.add("upload bytes offered and refused", rows * ROW_BYTES)
    budget.highest("server memory growth under one upload (MiB)", round((after - before) / MIB))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "bytes" in (refused.value.details() or "")
    assert after - before < BOUND, f"grew {(after - before) / MIB:.1f} MiB"
    assert serving == 1  # SERVING
