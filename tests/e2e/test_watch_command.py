"""End to end: `sqm watch` follows the record and resumes after its last token."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqm.client import SqmClient
from tests.e2e.evidence import DECISION_TIME
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose scheduler is off, so only the test writes events."""
    server = ServerProcess(tmp_path / "sqm.sqlite3", "--tick-seconds", "0").start()
    try:
        yield server
    finally:
        server.kill()


def _watch(server: ServerProcess, *args: str) -> list[dict[str, object]]:
    command = [sys.executable, "-m", "sqm.server", "watch", "--server", server.address]
    result = subprocess.run(
        [*command, "--output", "json", *args],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_sqm_watch_prints_events_and_resumes_after_the_last_token(
    quiet_server: ServerProcess,
) -> None:
    """Two runs, the second resuming from the first's last token, see every event once."""
    with SqmClient(quiet_server.address) as client:
        for name in ("acme", "globex", "initech"):
            client.register_supplier(name, name, "software", occur_time=DECISION_TIME)

    first = _watch(quiet_server, "--max-events", "2")
    second = _watch(
        quiet_server, "--max-events", "1", "--resume-token", str(first[-1]["resumeToken"])
    )

    sequences = [int(item["event"]["sequence"]) for item in first + second]  # type: ignore[index]
    assert sequences == [1, 2, 3]
    assert second[0]["event"]["supplier"] == "suppliers/initech"  # type: ignore[index]
