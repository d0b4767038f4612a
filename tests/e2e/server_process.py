"""A real ``sqm serve`` process on a loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING_LINE = re.compile(r"^sqm: serving on (?P<address>\S+)$")
START_TIMEOUT_SECONDS = 30.0


class ServerProcess:
    """Start, stop and kill ``sqm serve`` on a SQLite file or a PostgreSQL URL, on a free
    loopback port.
    """

    def __init__(
        self,
        database: Path | str,
        *extra_args: str,
        sqm: Sequence[str] = (sys.executable, "-m", "sqm.server"),
        cwd: Path | None = None,
    ) -> None:
        self.database = database
        self.extra_args = extra_args
        self.sqm = tuple(sqm)
        """The ``sqm`` command: this interpreter's by default, an installed one for a wheel."""
        self.cwd = cwd
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self.output: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self) -> ServerProcess:
        """Start the server and wait until it prints the address it serves on."""
        command = [
            *self.sqm, "serve",
            "--address", "127.0.0.1:0",
            "--database", str(self.database),
            *self.extra_args,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=self.cwd,
        )  # fmt: skip
        self.address = self._wait_for_address()
        return self

    def _wait_for_address(self) -> str:
        assert self.process is not None
        assert self.process.stdout is not None
        found = threading.Event()
        result: list[str] = []

        def read() -> None:
            assert self.process is not None
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                match = SERVING_LINE.match(line.strip())
                if match and not found.is_set():
                    result.append(match["address"])
                    found.set()
            found.set()  # the process ended: stop waiting

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not found.wait(START_TIMEOUT_SECONDS) or not result:
            self.kill()
            raise RuntimeError("sqm serve did not start:\n" + "\n".join(self.output))
        return result[0]

    def health(self, service: str = "") -> int:
        """The health status the server reports (``HealthCheckResponse.ServingStatus``)."""
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            return int(response.status)

    def stop(self) -> int:
        """Stop gracefully (SIGTERM) and return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._release()
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._release()

    def _release(self) -> None:
        # The reader thread ends at EOF once the process is gone; then the pipe can close.
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


def running_server(database: Path, *extra_args: str) -> Iterator[ServerProcess]:
    """Yield a started server (``sqm serve`` with ``extra_args``) and make sure it is gone
    afterwards.
    """
    server = ServerProcess(database, *extra_args).start()
    try:
        yield server
    finally:
        server.kill()
