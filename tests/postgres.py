"""A real PostgreSQL for tests: started if it is down, one fresh schema per test.

The server is ``SQM_TEST_POSTGRES_URL`` (default: the machine's own, trust auth, database
``test``). When it is down and local, it is started with ``pg_ctlcluster``; when it still
cannot be reached, PostgreSQL tests are skipped with the reason, and the session's summary
says so in capitals (see ``tests/conftest.py``): a skip must never pass for a success.

Each test gets a schema of its own (``sqm_test_<random>``), named in the URL's
``search_path`` and dropped afterwards, so tests are isolated and can run again and again.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from sqm.server.storage.postgres import PostgresEventStore
from sqm.server.storage.records import Clock, utc_now

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BASE_URL = os.environ.get("SQM_TEST_POSTGRES_URL", DEFAULT_URL)
START_WAIT_SECONDS = 20.0


def _reachable() -> str:
    """Empty when the server answers, else why not."""
    try:
        with psycopg.connect(BASE_URL, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().split("\n", 1)[0] or repr(error)
    return ""


def _start_local_cluster() -> bool:
    # Only the machine's own server, and only with the Debian cluster tools.
    if BASE_URL != DEFAULT_URL or shutil.which("pg_ctlcluster") is None:
        return False
    for version_dir in sorted(glob.glob("/etc/postgresql/*")):
        version = os.path.basename(version_dir)
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    return True


@functools.cache
def unavailable_reason() -> str:
    """Why PostgreSQL tests cannot run ("" when they can), starting the server if needed."""
    problem = _reachable()
    if problem and _start_local_cluster():
        deadline = time.monotonic() + START_WAIT_SECONDS
        while (problem := _reachable()) and time.monotonic() < deadline:
            time.sleep(0.5)
    if problem:
        return f"PostgreSQL unreachable at {BASE_URL}: {problem}"
    return ""


def require_postgres() -> None:
    """Skip the calling test, loudly, when no PostgreSQL can be reached."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"POSTGRESQL TESTS SKIPPED: {reason}")


def schema_url(schema: str) -> str:
    """The test server's URL with ``schema`` first on the search path."""
    separator = "&" if "?" in BASE_URL else "?"
    return f"{BASE_URL}{separator}options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL naming a new, empty schema, dropped (with everything in it) afterwards."""
    require_postgres()
    schema = f"sqm_test_{secrets.token_hex(6)}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


class ThrowawayPostgresStore(PostgresEventStore):
    """A store in a schema of its own that disappears when the store is closed."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._schema = fresh_schema()
        url = self._schema.__enter__()
        try:
            super().__init__(url, clock, migrate=True)
        except BaseException:
            self._schema.__exit__(None, None, None)
            raise
        self.url = url

    def close(self) -> None:
        """Close the store, then drop its schema."""
        try:
            super().close()
        finally:
            self._schema.__exit__(None, None, None)
