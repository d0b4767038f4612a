"""Fixtures for end-to-end tests: a real server process and a real gRPC client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sqm.client import SqmClient
from tests.e2e.server_process import ServerProcess, running_server


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A fresh SQLite file for the server."""
    return tmp_path / "sqm.sqlite3"


@pytest.fixture
def server(database: Path) -> Iterator[ServerProcess]:
    """A running ``sqm serve`` on a loopback port."""
    yield from running_server(database)


@pytest.fixture
def client(server: ServerProcess) -> Iterator[SqmClient]:
    """A client connected to the running server."""
    with SqmClient(server.address, timeout=10) as connected:
        yield connected
