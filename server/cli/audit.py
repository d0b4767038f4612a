"""``sqm audit ...``: signed checkpoints, and verifying a record away from the server.

    sqm audit keygen KEY                        a new Ed25519 key pair: KEY and KEY.pub
    sqm audit checkpoint --database DB --key KEY --checkpoints FILE
                                                sign the record's head now (on demand)
    sqm audit verify SOURCE --checkpoints FILE --public-key KEY
                                                audit an export (or a SQLite file) offline

``verify`` reads SOURCE (a file written by ``sqm db export``, or a SQLite database, opened
read-only) and reports every problem (:mod:`sqm.server.app.integrity`), one line each with
where it is. Exit status: 0 the record verifies; 1 problems were found; 2 the tool could
not do its job (a missing file, a key that does not verify the checkpoint file).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from sqm.server.app.integrity import AuditReport, audit
from sqm.server.cli.db import one_line_errors
from sqm.server.security.checkpoints import (
    CheckpointError,
    append_checkpoint,
    generate_key,
    head_checkpoint,
    load_private_key,
    load_public_key,
    read_checkpoints,
)
from sqm.server.storage.errors import StoreUnavailable
from sqm.server.storage.export_source import ExportSource
from sqm.server.storage.sqlite import SqliteEventStore

EXIT_FOUND = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sqm audit`` and its subcommands to the ``sqm`` parser."""
    group = commands.add_parser("audit", help="signed checkpoints and offline verification")
    actions = group.add_subparsers(title="commands", required=True, metavar="COMMAND")

    keygen = actions.add_parser("keygen", help="write a new Ed25519 key pair (KEY, KEY.pub)")
    keygen.add_argument("key", metavar="KEY", help="the private key file to create")
    keygen.set_defaults(handler=_keygen)

    checkpoint = actions.add_parser("checkpoint", help="sign the record's head now")
    checkpoint.add_argument("--database", required=True, help="the SQLite file")
    checkpoint.add_argument("--key", required=True, help="Ed25519 private key, PEM")
    checkpoint.add_argument("--checkpoints", required=True, help="the file to append to")
    checkpoint.set_defaults(handler=_checkpoint)

    verify = actions.add_parser("verify", help="audit an export or a SQLite file offline")
    verify.add_argument("source", metavar="SOURCE", help="an `sqm db export` file or SQLite file")
    verify.add_argument("--checkpoints", help="the signed checkpoint file")
    verify.add_argument("--public-key", help="the Ed25519 public key (PEM) that signed them")
    verify.set_defaults(handler=_verify)


_one_line_errors = one_line_errors(StoreUnavailable, CheckpointError, OSError)


@_one_line_errors
def _keygen(args: argparse.Namespace) -> int:
    private = Path(args.key)
    public = Path(f"{private}.pub")
    generate_key(private, public)
    print(f"wrote {private} (keep it away from the database) and {public} (give it to auditors)")
    return 0


@_one_line_errors
def _checkpoint(args: argparse.Namespace) -> int:
    key = load_private_key(Path(args.key))
    with SqliteEventStore(args.database, read_only=True) as store:
        checkpoint = head_checkpoint(store, datetime.now(UTC))
    if checkpoint is None:
        print("the record is empty: nothing to sign")
        return 0
    append_checkpoint(Path(args.checkpoints), key, checkpoint)
    print(f"checkpoint: sequence {checkpoint.sequence} hash {checkpoint.hash}")
    return 0


@_one_line_errors
def _verify(args: argparse.Namespace) -> int:
    if (args.checkpoints is None) != (args.public_key is None):
        raise CheckpointError("--checkpoints and --public-key are given together")
    checkpoints = []
    if args.checkpoints is not None:
        public_key = load_public_key(Path(args.public_key))
        checkpoints = read_checkpoints(Path(args.checkpoints), public_key)
    source = Path(args.source)
    with source.open("rb") as peek:
        is_sqlite = peek.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    if is_sqlite:
        with SqliteEventStore(source, read_only=True) as store:
            report = audit(store, checkpoints, store.integrity_problems)
    else:
        with source.open(encoding="utf-8") as lines:
            report = audit(ExportSource(lines, str(source)), checkpoints)
    return _print(report, source, len(checkpoints))


def _print(report: AuditReport, source: Path, signed: int) -> int:
    for finding in report.findings:
        print(f"{source}: {finding}")
    verdict = "verifies" if report.intact else f"{len(report.findings)} problems"
    print(f"{source}: {report.events_checked} events, {signed} checkpoints: {verdict}")
    return 0 if report.intact else EXIT_FOUND
