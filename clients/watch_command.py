"""``sqm watch``: follow the record as it is written, one line per event.

Prints each event with its resume token; ``--resume-token`` continues after the last one a
previous run printed, so an operator who was disconnected misses nothing. Ends after
``--max-events`` events, or on Ctrl-C (the last token is repeated on stderr).

A server that signs checkpoints sends each new one on the stream: it is printed as a
``checkpoint`` line, and ``--checkpoints FILE`` appends it to an auditor's own checkpoint
file, which ``sqm audit verify --checkpoints FILE`` then holds the record to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict

from sqm.client.audit_client import AuditClient
from sqm.client.connection import Connection
from sqm.v1 import audit_service_pb2 as api


def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``sqm watch`` besides the common connection flags."""
    parser.add_argument("--supplier", metavar="ID", default="", help="only this supplier")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume-token", default="", help="continue after this token")
    start.add_argument("--from-now", action="store_true", help="only events written from now")
    parser.add_argument(
        "--max-events", type=int, default=0, metavar="N", help="stop after N events (0: never)"
    )
    parser.add_argument(
        "--notification-kind",
        action="append",
        default=[],
        metavar="KIND",
        help="only events that notified this kind (reminder, escalation, notification, notice,"
        " standing_changed); repeat for several",
    )
    parser.add_argument(
        "--notification-recipient",
        action="append",
        default=[],
        metavar="WHO",
        help="only events that notified this recipient (a role, or supplier:ID); repeatable",
    )
    parser.add_argument(
        "--checkpoints",
        metavar="FILE",
        type=Path,
        help="append each signed checkpoint the server sends to FILE (one JSON line each)",
    )


def watch(connection: Connection, args: argparse.Namespace) -> int:
    """Stream events to stdout until done; returns the exit status."""
    last_token = args.resume_token
    channel = _channel(connection)
    with AuditClient(connection.server, token=connection.token, channel=channel) as client:
        stream = client.watch(
            resume_token=args.resume_token,
            start_from_now=args.from_now,
            supplier_id=args.supplier,
            notification_kinds=args.notification_kind,
            notification_recipients=args.notification_recipient,
        )
        count = 0
        try:
            with stream:
                for item in stream:
                    print(_line(item, args.output), flush=True)
                    last_token = item.resume_token
                    if item.HasField("checkpoint"):
                        if args.checkpoints is not None:
                            _keep(args.checkpoints, item.checkpoint)
                        continue
                    count += 1
                    if args.max_events and count >= args.max_events:
                        break
        except KeyboardInterrupt:
            print(f"resume with --resume-token {last_token}", file=sys.stderr)
    return 0


def _keep(path: Path, checkpoint: api.SignedCheckpoint) -> None:
    """Append the checkpoint's line to ``path``, on disk before the next item is read."""
    with path.open("a", encoding="utf-8") as out:
        out.write(checkpoint.line + "\n")
        out.flush()
        os.fsync(out.fileno())


def _line(item: api.WatchResponse, output: str) -> str:
    if output == "json":  # JSON lines: one compact object per event
        return json.dumps(MessageToDict(item), ensure_ascii=False, separators=(",", ":"))
    if item.HasField("checkpoint"):
        signed = item.checkpoint
        head = f"{signed.sequence:>8}  {signed.sign_time}  checkpoint {signed.hash}"
        return f"{head}  {item.resume_token}"
    event = item.event
    rule = f" {event.decision.rule_id}" if event.HasField("decision") else ""
    when = event.occur_time.ToJsonString()
    notes = "".join(f"  [{n.kind} to {n.recipient}: {n.title}]" for n in item.notifications)
    line = f"{event.sequence:>8}  {when}  {event.supplier}  {event.type}{rule}{notes}"
    return f"{line}  {item.resume_token}"


def _channel(connection: Connection) -> grpc.Channel:
    credentials = connection.credentials()
    if credentials is None:
        return grpc.insecure_channel(connection.server)
    return grpc.secure_channel(connection.server, credentials)
