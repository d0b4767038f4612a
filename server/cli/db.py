"""``sqm db ...``: the database itself: schema migrations, export and import.

    sqm db migrate [--database URL]              apply PostgreSQL schema migrations
    sqm db export  [--database DB] FILE.jsonl    every record, hash chain included
    sqm db import  [--database DB] [--migrate] FILE.jsonl
                                                 into an empty database, checked, all or nothing

``--database`` is a SQLite file or a ``postgresql://`` URL, as for ``sqm serve`` (default:
``SQM_DATABASE``, else ``var/sqm.sqlite3``). Problems are one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqm.server.bootstrap import DurableStore, open_store
from sqm.server.config import DEFAULT_DATABASE, ENVIRONMENT, Database, PostgresUrl, database_setting
from sqm.server.storage import postgres_schema
from sqm.server.storage.dump import DumpCounts
from sqm.server.storage.errors import StoreUnavailable
from sqm.server.storage.postgres import PostgresEventStore
from sqm.server.storage.transfer import export_store, import_dump

DATABASE_HELP = (
    f"SQLite file (created if missing) or postgresql:// URL of the event store"
    f" (env {ENVIRONMENT['database']}, default {DEFAULT_DATABASE})"
)
MIGRATE_HELP = (
    f"PostgreSQL: apply missing schema migrations first (env {ENVIRONMENT['migrate']});"
    " without it, an out-of-date schema is refused"
)
EXIT_PROBLEM = 2

Command = Callable[[argparse.Namespace], int]


def add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sqm db`` and its subcommands to the ``sqm`` parser."""
    group = commands.add_parser("db", help="migrate, export and import the database")
    actions = group.add_subparsers(title="commands", required=True, metavar="COMMAND")

    migrate = actions.add_parser("migrate", help="apply PostgreSQL schema migrations")
    migrate.add_argument("--database", help=DATABASE_HELP)
    migrate.set_defaults(handler=_migrate)

    export = actions.add_parser("export", help="write every record to a JSON lines file")
    export.add_argument("--database", help=DATABASE_HELP)
    export.add_argument("file", metavar="FILE", help="where to write (replaced when complete)")
    export.set_defaults(handler=_export)

    load = actions.add_parser(
        "import", help="load an export into an empty database (checked, all or nothing)"
    )
    load.add_argument("--database", help=DATABASE_HELP)
    load.add_argument("--migrate", action="store_true", help=MIGRATE_HELP)
    load.add_argument("file", metavar="FILE", help="a file written by `sqm db export`")
    load.set_defaults(handler=_import)


def one_line_errors(*errors: type[Exception], prefix: str = "sqm") -> Callable[[Command], Command]:
    """Make a command report ``errors`` as one line on stderr and exit 2, no traceback."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except errors as error:
                print(f"{prefix}: {error}", file=sys.stderr)
                return EXIT_PROBLEM

        return run

    return decorate


_one_line_errors = one_line_errors(StoreUnavailable, ValueError, OSError)


@_one_line_errors
def _migrate(args: argparse.Namespace) -> int:
    database = database_setting(args.database)
    if not isinstance(database, PostgresUrl):
        with open_store(database):  # a SQLite file migrates itself when opened
            print(f"{database}: SQLite schema is current (SQLite files migrate when opened)")
        return 0
    with PostgresEventStore(database.url, migrate=True) as store:
        applied = store.applied_migrations
    for number, description in applied:
        print(f"applied migration {number}: {description}")
    version = postgres_schema.SCHEMA_VERSION
    print(f"{database}: schema at version {version}" + ("" if applied else " (already)"))
    return 0


@_one_line_errors
def _export(args: argparse.Namespace) -> int:
    database = database_setting(args.database)
    path = Path(args.file)
    with open_store(database, read_only=True) as store:
        counts = export_store(store, path, datetime.now(UTC))
    print(f"exported {_describe(counts)} from {database} to {path}")
    return 0


@_one_line_errors
def _import(args: argparse.Namespace) -> int:
    database = database_setting(args.database)
    path = Path(args.file)
    if not path.is_file():
        raise StoreUnavailable(f"{path}: no such file")
    new_file = database if isinstance(database, Path) and not database.exists() else None
    try:
        with open_store(database, migrate=args.migrate) as store:
            counts = _load(store, path, database)
    except BaseException:
        if new_file is not None:  # leave no empty database behind for a failed import
            _remove_sqlite(new_file)
        raise
    print(f"imported {_describe(counts)} into {database}; hash chain verified")
    return 0


def _load(store: DurableStore, path: Path, database: Database) -> DumpCounts:
    with path.open(encoding="utf-8") as lines:
        counts = import_dump(store, lines, str(path))
    verdict = store.verify_chain()
    if not verdict.intact:  # pragma: no cover - every link was checked while reading
        raise StoreUnavailable(f"{database}: chain broken at {verdict.first_broken_seq}")
    return counts


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _describe(counts: DumpCounts) -> str:
    return (
        f"{counts.events} events ({counts.requests} requests, {counts.snapshots} suppliers),"
        f" {counts.documents} documents, {counts.notifications} notifications,"
        f" {counts.policy_versions} policy versions and {counts.activations} activations"
    )
