"""``sqm corrective-action ...``: the corrective action (8D) on the command line.

    sqm corrective-action submit ID RECORD.yaml        submit or revise the record
    sqm corrective-action complete ID ACTION [--note TEXT]
    sqm corrective-action extend ID ACTION --until TIME --reason TEXT
    sqm corrective-action verify ID ACTION --by NAME [--note TEXT]     (the operator's)
    sqm corrective-action decide ID ACTION approved|refused [--note TEXT]  (the operator's)
    sqm corrective-action close ID [--note TEXT]                       (the operator's)
    sqm corrective-action show ID                       the record and its actions

The record file (YAML or JSON) has the fields of ``CorrectiveActionContent``: ``team``,
``problem``, ``containment``, ``root_causes``, ``actions`` (each ``action_id``,
``description``, ``owner``, ``due_time`` in RFC 3339) and ``prevention``. Times are RFC 3339
with an offset. A supplier runs the first three with its own token.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from sqm.client import cli_output
from sqm.client.connection import Connection
from sqm.client.corrective_action_calls import EXTENSION_OUTCOMES
from sqm.v1 import resources_pb2 as pb

OK = 0
Command = Callable[[argparse.Namespace, Connection], int]
Runner = Callable[[Command], Callable[[argparse.Namespace], int]]


def add_corrective_action_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    flags: argparse.ArgumentParser,
    run: Runner,
) -> None:
    """Add ``corrective-action``; ``run`` connects and turns failures into statuses."""
    group = commands.add_parser("corrective-action", help="a supplier's corrective action (8D)")
    verbs = group.add_subparsers(title="commands", required=True, metavar="COMMAND")
    submit = _verb(verbs, flags, "submit", "submit or revise the record", run(_submit))
    submit.add_argument("record", type=Path, metavar="RECORD", help="the record, YAML or JSON")
    complete = _verb(verbs, flags, "complete", "report an action done", run(_complete), action=True)
    complete.add_argument("--note", default="")
    extend = _verb(verbs, flags, "extend", "ask for a later due date", run(_extend), action=True)
    extend.add_argument("--until", required=True, type=_time, help="the due date asked for")
    extend.add_argument("--reason", required=True)
    verify = _verb(verbs, flags, "verify", "verify a completed action", run(_verify), action=True)
    verify.add_argument("--by", required=True, help="who verified it")
    verify.add_argument("--note", default="", help="the evidence")
    decide = _verb(
        verbs, flags, "decide", "approve or refuse an extension", run(_decide), action=True
    )
    decide.add_argument("outcome", choices=sorted(EXTENSION_OUTCOMES))
    decide.add_argument("--note", default="")
    close = _verb(verbs, flags, "close", "close the record, every action verified", run(_close))
    close.add_argument("--note", default="")
    _verb(verbs, flags, "show", "the record and its actions", run(_show_record))


def _verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    flags: argparse.ArgumentParser,
    name: str,
    help_text: str,
    handler: Callable[[argparse.Namespace], int],
    *,
    action: bool = False,
) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, parents=[flags], help=help_text)
    parser.add_argument("supplier_id", metavar="ID")
    if action:
        parser.add_argument("action_id", metavar="ACTION")
    if name != "show":
        parser.add_argument("--request-id", help="idempotency key (a fresh UUID when not given)")
    parser.set_defaults(handler=handler)
    return parser


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset")
    return moment


def read_record(path: Path) -> pb.CorrectiveActionContent:
    """The record in ``path`` (YAML or JSON), as the API's message."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return json_format.ParseDict(_plain(data), pb.CorrectiveActionContent())


def _plain(value: Any) -> Any:
    # YAML reads an unquoted time as a datetime; the message wants RFC 3339 text.
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _submit(args: argparse.Namespace, target: Connection) -> int:
    content = read_record(args.record)
    with target.client() as client:
        result = client.submit_corrective_action(
            args.supplier_id, content, request_id=args.request_id
        )
    return _done(args, result)


def _complete(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.complete_corrective_action_item(
            args.supplier_id, args.action_id, args.note, request_id=args.request_id
        )
    return _done(args, result)


def _extend(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.request_corrective_action_extension(
            args.supplier_id, args.action_id, args.until, args.reason, request_id=args.request_id
        )
    return _done(args, result)


def _verify(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.verify_corrective_action_item(
            args.supplier_id, args.action_id, args.by, args.note, request_id=args.request_id
        )
    return _done(args, result)


def _decide(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.decide_corrective_action_extension(
            args.supplier_id,
            args.action_id,
            EXTENSION_OUTCOMES[args.outcome],
            args.note,
            request_id=args.request_id,
        )
    return _done(args, result)


def _close(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.close_corrective_action(
            args.supplier_id, args.note, request_id=args.request_id
        )
    return _done(args, result)


def _show_record(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        supplier = client.get_supplier(args.supplier_id)
    record = supplier.corrective_action
    has_record = supplier.HasField("corrective_action")
    if args.output == "json":
        print(cli_output.as_json(record if has_record else {}))
    else:
        print(record_text(record) if has_record else "no corrective action")
    return OK


def record_text(record: pb.CorrectiveActionRecord) -> str:
    """The record in force and its actions as a table, with how many revisions there were."""
    current = record.revisions[-1] if record.revisions else pb.CorrectiveActionContent()
    closed = (
        f"closed {cli_output.when(record.close_time)}" if record.HasField("close_time") else "open"
    )
    lines = [
        f"revision {len(record.revisions)}, {closed}",
        f"team: {', '.join(current.team)}",
        f"problem: {current.problem}",
        f"containment: {current.containment}",
        f"root causes: {'; '.join(current.root_causes)}",
        f"prevention: {current.prevention}",
    ]
    rows = [
        (
            a.action_id,
            a.owner,
            cli_output.when(a.due_time),
            a.status,
            str(sum(1 for e in a.extensions if e.decision == "approved")),
            a.verified_by,
            "yes" if a.HasField("escalate_time") else "",
        )
        for a in record.actions
    ]
    header = ("ACTION", "OWNER", "DUE", "STATUS", "EXTENSIONS", "VERIFIED BY", "ESCALATED")
    return "\n".join([*lines, "", cli_output.table(header, rows)])


def _done(args: argparse.Namespace, result: Any) -> int:
    text = cli_output.events_text(list(result.events))
    print(cli_output.as_json(result) if args.output == "json" else text)
    return OK
