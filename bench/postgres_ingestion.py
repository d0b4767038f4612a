"""Ingestion through ``sqm serve`` on PostgreSQL: the loads of :mod:`bench.ingestion` on a
copy of the same store (suppliers in their steady state) imported into a schema of its own,
with one instance or several (``sqm serve --workers N``: N server processes, each with its
own engine and connection pool, sharing the database as separate instances do).

The server is ``SQM_BENCH_POSTGRES_URL`` (default: the machine's own, database ``test``).
Each run gets a fresh schema, filled by ``sqm db export`` of the SQLite store and
``sqm db import``, and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from bench import ingestion, load

BASE_URL = os.environ.get("SQM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def imported(store: ingestion.Store, folder: Path) -> Iterator[str]:
    """A URL naming a new schema holding a copy of ``store``; dropped afterwards."""
    schema = f"sqm_bench_{secrets.token_hex(4)}"
    url = f"{BASE_URL}{'&' if '?' in BASE_URL else '?'}options={quote(f'-csearch_path={schema}')}"
    dump = folder / "postgres-import.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    _sqm("db", "export", "--database", str(store.path), str(dump))
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        _sqm("db", "import", "--database", url, "--migrate", str(dump))
        yield url
    finally:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _sqm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sqm.server", *args], check=True, capture_output=True)  # noqa: S603 - our own command


def streaming(
    store: ingestion.Store,
    folder: Path,
    *,
    rows_total: int,
    per_upload: int,
    concurrency: int,
    instances: int = 1,
) -> load.LoadResult:
    """:func:`bench.ingestion.streaming` against PostgreSQL, on ``instances`` servers."""
    with imported(store, folder) as url:
        return ingestion.streaming(
            store, folder, rows_total=rows_total, per_upload=per_upload,
            concurrency=concurrency, database=url, name=f"postgres-streaming-{instances}",
            workers=instances,
        )  # fmt: skip


def unary(
    store: ingestion.Store, folder: Path, *, requests: int, concurrency: int, seconds: float
) -> ingestion.UnaryRun:
    """:func:`bench.ingestion.unary` against PostgreSQL."""
    with imported(store, folder) as url:
        return ingestion.unary(
            store, folder, requests=requests, concurrency=concurrency, seconds=seconds,
            database=url, name="postgres-unary",
        )  # fmt: skip


def unary_over_connections(
    store: ingestion.Store,
    folder: Path,
    *,
    workers: int,
    requests: int,
    concurrency: int,
    seconds: float,
) -> load.LoadResult:
    """:func:`bench.ingestion.unary_over_connections` against PostgreSQL, ``workers``
    instances.
    """
    with imported(store, folder) as url:
        return ingestion.unary_over_connections(
            store, folder, workers=workers, requests=requests, concurrency=concurrency,
            seconds=seconds, database=url, name="postgres-unary",
        )  # fmt: skip
