"""``sqm notifications ...``: the notifications whose delivery to the webhooks gave up.

    sqm notifications list --undeliverable    each one: id, kind, recipient, attempts, why
    sqm notifications retry [ID ...]          pending again, due now (every one without ids)

They take the connection flags and give the exit statuses of ``sqm supplier``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import grpc

from sqm.client import cli_output
from sqm.client.connection import Connection
from sqm.client.notification_client import NotificationClient
from sqm.v1 import resources_pb2 as pb

OK = 0
Command = Callable[[argparse.Namespace, Connection], int]
Runner = Callable[[Command], Callable[[argparse.Namespace], int]]


def add_notification_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    flags: argparse.ArgumentParser,
    run: Runner,
) -> None:
    """Add ``notifications``; ``run`` connects and turns failures into statuses."""
    notifications = commands.add_parser(
        "notifications", help="notifications the webhooks never took: list, retry"
    )
    verbs = notifications.add_subparsers(title="commands", required=True, metavar="COMMAND")
    listing = verbs.add_parser("list", parents=[flags], help="undeliverable notifications")
    listing.add_argument(
        "--undeliverable",
        action="store_true",
        required=True,
        help="those whose attempts ran out (pending ones are still being delivered)",
    )
    listing.set_defaults(handler=run(_list))
    retry = verbs.add_parser("retry", parents=[flags], help="deliver undeliverable ones again")
    retry.add_argument("ids", nargs="*", metavar="ID", help="notification ids (default: all)")
    retry.set_defaults(handler=run(_retry))


def _client(target: Connection) -> NotificationClient:
    credentials = target.credentials()
    channel = (
        grpc.insecure_channel(target.server)
        if credentials is None
        else grpc.secure_channel(target.server, credentials)
    )
    return NotificationClient(
        target.server, timeout=target.timeout, token=target.token, channel=channel
    )


def _list(args: argparse.Namespace, target: Connection) -> int:
    with _client(target) as client:
        found = list(client.list_undeliverable())
    text = notifications_text(found)
    print(cli_output.as_json({"notifications": found}) if args.output == "json" else text)
    return OK


def _retry(args: argparse.Namespace, target: Connection) -> int:
    with _client(target) as client:
        retried = client.retry_undeliverable(args.ids)
    print(
        cli_output.as_json({"retried": retried}) if args.output == "json" else f"{retried} retried"
    )
    return OK


def notifications_text(found: Sequence[pb.OutboxNotification]) -> str:
    """One line per notification: id, kind, recipient, attempts and the last error."""
    if not found:
        return "no undeliverable notifications"
    return "\n".join(
        f"{n.id}  {n.kind}  {n.recipient}  {n.attempts} attempts  {n.last_error}" for n in found
    )
