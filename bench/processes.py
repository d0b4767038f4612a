"""Real processes for the benchmarks: ``sqm serve``, the echo server, and work in a fresh
interpreter (so one measurement's engine, caches and memory never leak into the next).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING_LINE = re.compile(r"^(?:sqm|echo): serving on (?P<address>\S+)$")
# What ``sqm serve --gc-metrics`` logs for each collection (server/observability/gc_pauses.py).
GC_LINE = re.compile(r"^garbage collection of generation (?P<generation>\d): (?P<ms>[\d.]+) ms")
START_TIMEOUT_SECONDS = 60.0
T = TypeVar("T")

_SPAWN = multiprocessing.get_context("spawn")


def in_fresh_process(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` run in a new interpreter (spawned), its result returned.

    An executor's worker, not a ``multiprocessing.Pool``'s: those are daemons, which may
    not start processes of their own (``sqm backtest --jobs`` does).
    """
    with ProcessPoolExecutor(1, mp_context=_SPAWN) as pool:
        return pool.submit(function, *args).result()


class Served:
    """A server process on a free loopback port: ``sqm serve`` or the echo server.

    ``started_in`` is the time from spawning the process to its first useful answer (a
    health check reporting SERVING, or an echo).
    """

    def __init__(self, command: list[str], log: Path, ready: Callable[[str], bool]) -> None:
        self._log = log
        self._output = log.open("w", encoding="utf-8")
        began = time.perf_counter()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, stdout=self._output, stderr=subprocess.STDOUT, env=env
        )
        self.address = self._wait_for_address()
        while not ready(self.address):
            if time.perf_counter() - began > START_TIMEOUT_SECONDS:
                self.stop()
                raise RuntimeError(f"{command[3]} did not answer; see {log}")
            time.sleep(0.005)
        self.started_in = time.perf_counter() - began

    def _wait_for_address(self) -> str:
        deadline = time.perf_counter() + START_TIMEOUT_SECONDS
        while time.perf_counter() < deadline:
            for line in self._log.read_text(encoding="utf-8").splitlines():
                match = SERVING_LINE.match(line.strip())
                if match:
                    return match["address"]
            if self.process.poll() is not None:
                break
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"the server did not start; see {self._log}")

    def log_length(self) -> int:
        """Lines the server has written so far (to read only what a later phase logs)."""
        return len(self._log.read_text(encoding="utf-8").splitlines())

    def call_latencies_ms(self, method: str, after_line: int = 0) -> list[float]:
        """The latencies the server's access log gives for ``method`` (inside the server)."""
        lines = self._log.read_text(encoding="utf-8").splitlines()[after_line:]
        found = []
        for line in lines:
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if record.get("logger") == "sqm.access" and method in str(record.get("method", "")):
                found.append(float(record["latency_ms"]))
        return found

    def gc_pauses_ms(self, after_line: int = 0) -> dict[int, list[float]]:
        """The garbage collection pauses the server logged (``--gc-metrics``), by generation."""
        found: dict[int, list[float]] = {}
        for record in self._records(after_line, "sqm.gc"):
            match = GC_LINE.match(str(record.get("message", "")))
            if match:
                found.setdefault(int(match["generation"]), []).append(float(match["ms"]))
        return found

    def _records(self, after_line: int, logger: str) -> list[dict[str, Any]]:
        lines = self._log.read_text(encoding="utf-8").splitlines()[after_line:]
        records = (json.loads(line) for line in lines if line.startswith("{"))
        return [record for record in records if record.get("logger") == logger]

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far, every thread."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime: fields 14 and 15 of proc(5), counted after the command's ")".
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the server now, in MB."""
        return _status_kb(self.process.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """The server's peak resident memory so far, in MB."""
        return _status_kb(self.process.pid, "VmHWM") / 1024

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not gone in 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._output.close()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def sqm_server(database: str | Path, log: Path, workers: int = 1) -> Served:
    """``sqm serve`` on ``database``, as shipped, with the scheduler's tick off (a tick
    over every supplier in the middle of a measurement would measure the tick instead).
    """
    command = [
        sys.executable, "-m", "sqm.server", "serve",
        "--address", "127.0.0.1:0", "--database", str(database), "--tick-seconds", "0",
        "--log-format", "json", "--workers", str(workers),
    ]  # fmt: skip
    return Served(command, log, _health_serving)


def echo_server(log: Path) -> Served:
    """The trivial grpc.aio echo server (:mod:`bench.echo`)."""
    command = [sys.executable, "-m", "bench.echo", "--address", "127.0.0.1:0"]
    return Served(command, log, _echoes)


def _health_serving(address: str) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            response = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
    except grpc.RpcError:
        return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


def _echoes(address: str) -> bool:
    from bench.echo import METHOD  # noqa: PLC0415 - avoid a cycle at import

    try:
        with grpc.insecure_channel(address) as channel:
            channel.unary_unary(METHOD, None, None)(b"ping", timeout=1)
    except grpc.RpcError:
        return False
    return True
