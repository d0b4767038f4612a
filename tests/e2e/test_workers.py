"""``sqm serve --workers 2``: two server processes on one port and one SQLite file.

Both workers listen on the announced port (each holds a listening socket of its own there,
read from /proc), writes sent over many connections are all recorded in one intact hash
chain, and SIGTERM to the parent stops both cleanly. The metrics endpoint counts the calls
both workers served, and merges each gauge as its mode says.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sqm.client import SqmClient
from sqm.client.audit_client import AuditClient
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

CONNECTIONS = 24
REGISTER = "sqm.v1.SupplierService/RegisterSupplier"
WATCHERS = 4


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
        _register_over_connections(server.address, "w")
        with SqmClient(server.address) as client, AuditClient(server.address) as audit:
            listed = {s.supplier_id for s in client.list_suppliers()}
            verdict = audit.verify_chain()
    finally:
        code = server.stop()
    assert listed == {f"w-{number}" for number in range(CONNECTIONS)}
    assert verdict.intact, verdict.problem
    assert code == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _register_over_connections(address: str, prefix: str) -> None:
    for number in range(CONNECTIONS):  # a channel each: a connection each
        with grpc.insecure_channel(address) as channel:
            api_grpc.SupplierServiceStub(channel).RegisterSupplier(
                api.RegisterSupplierRequest(
                    supplier_id=f"{prefix}-{number}", display_name="Worker test",
                    category="software", request_id=f"{prefix}-{number}",
                ),
                timeout=30,
            )  # fmt: skip


def _metrics_url(server: ServerProcess) -> str:
    for line in server.output:  # the parent says it before the serving line
        found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", line)
        if found:
            return found[1]
    raise AssertionError("\n".join(server.output))


def _scraped(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _sample(url: str, name: str, **labels: str) -> float | None:
    return _scraped(url).get((name, frozenset(labels.items())))


def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError("not within the time")
        time.sleep(0.05)


def _access_pids(output: list[str], method: str) -> list[int]:
    """The pid of each access line of ``method`` (the JSON log lines carry the pid)."""
    pids = []
    for line in output:
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger") == "sqm.access" and record.get("method") == f"/{method}":
            pids.append(int(record["pid"]))
    return pids


def test_the_metrics_endpoint_counts_the_calls_every_worker_served(tmp_path: Path) -> None:
    """24 calls over 24 connections, served by both workers: the scraped counters say 24,
    and the gauges are merged (watchers summed, drill mode once, not once per worker); the
    garbage collector's pause histogram is there too.
    """
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--workers", "2", "--tick-seconds", "0", "--drill",
        "--metrics-port", "0", "--log-format", "json", "--gc-metrics",
    )  # fmt: skip
    server.start()
    try:
        assert server.process is not None
        workers = set(_workers(server.process.pid))
        url = _metrics_url(server)
        _register_over_connections(server.address, "m")
        ok = {"method": REGISTER, "code": "OK"}
        _eventually(lambda: _sample(url, "sqm_grpc_calls_total", **ok) == CONNECTIONS)
        scraped = _scraped(url)
        service, _, method = REGISTER.rpartition("/")
        grpc_labels = {"grpc_type": "unary", "grpc_service": service, "grpc_method": method}
        handled = {**grpc_labels, "grpc_code": "OK"}
        assert scraped[("grpc_server_handled_total", frozenset(handled.items()))] == CONNECTIONS
        assert scraped[("grpc_server_started_total", frozenset(grpc_labels.items()))] == (
            CONNECTIONS
        )
        latency = {"method": REGISTER}
        assert (
            scraped[("sqm_grpc_call_duration_seconds_count", frozenset(latency.items()))]
            == CONNECTIONS
        )
        # --gc-metrics: the histogram is there, each generation's series (tuned, the
        # collector seldom runs in so short a test: tests/integration/test_worker_metrics.py
        # sees pauses reach it).
        for generation in "012":
            assert ("sqm_gc_pause_seconds_count", frozenset({("generation", generation)})) in (
                scraped
            )
        # Drill mode is on in each worker: one series at 1 (a sum would say 2).
        assert [v for (name, _), v in scraped.items() if name == "sqm_drill_mode"] == [1]
        # Watch streams over connections of their own: the gauge is their sum, one series.
        audits = [AuditClient(server.address) for _ in range(WATCHERS)]
        streams = [audit.watch(start_from_now=True) for audit in audits]
        try:
            _eventually(lambda: _sample(url, "sqm_active_watchers") == WATCHERS)
            watchers = [n for (n, _) in _scraped(url) if n == "sqm_active_watchers"]
            assert len(watchers) == 1
        finally:
            for stream in streams:
                stream.cancel()
            for audit in audits:
                audit.close()
        _eventually(lambda: _sample(url, "sqm_active_watchers") == 0)
    finally:
        code = server.stop()
    pids = _access_pids(server.output, REGISTER)
    assert len(pids) == CONNECTIONS
    assert set(pids) == workers  # both workers served some of the calls
    assert code == 0
