"""``sqm notices ...`` and ``sqm penalty ...``: the supplier's side on the command line.

    sqm notices list ID                      its notices, each read or unread
    sqm notices ack ID SEQUENCE              acknowledge the notice at that event sequence
    sqm penalty list ID                      the ledger, each credit with its dispute's status
    sqm penalty dispute ID PENALTY_ID --grounds TEXT
    sqm penalty decide ID PENALTY_ID upheld|accepted [--note TEXT]   (the operator's)

A supplier runs them with its own token (``--token`` or SQM_TOKEN); they take the same
connection flags and give the same exit statuses as ``sqm supplier``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sqm.client import cli_output
from sqm.client.connection import Connection
from sqm.client.supplier_calls import OUTCOMES
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api

OK = 0
Command = Callable[[argparse.Namespace, Connection], int]
Runner = Callable[[Command], Callable[[argparse.Namespace], int]]


def add_supplier_side_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    flags: argparse.ArgumentParser,
    run: Runner,
) -> None:
    """Add ``notices`` and ``penalty``; ``run`` connects and turns failures into statuses."""
    notices = commands.add_parser("notices", help="a supplier's notices: list, acknowledge")
    verbs = notices.add_subparsers(title="commands", required=True, metavar="COMMAND")
    listing = verbs.add_parser("list", parents=[flags], help="the notices, read or unread")
    listing.add_argument("supplier_id", metavar="ID")
    listing.set_defaults(handler=run(_list_notices))
    ack = verbs.add_parser("ack", parents=[flags], help="acknowledge a notice")
    ack.add_argument("supplier_id", metavar="ID")
    ack.add_argument("sequence", type=int, metavar="SEQUENCE", help="the notice's event sequence")
    _request_id_flag(ack)
    ack.set_defaults(handler=run(_acknowledge))

    penalty = commands.add_parser(
        "penalty", help="list the ledger; dispute a service credit; decide a dispute"
    )
    verbs = penalty.add_subparsers(title="commands", required=True, metavar="COMMAND")
    ledger = verbs.add_parser("list", parents=[flags], help="the ledger and its disputes")
    ledger.add_argument("supplier_id", metavar="ID")
    ledger.set_defaults(handler=run(_list_penalties))
    dispute = verbs.add_parser("dispute", parents=[flags], help="dispute a service credit")
    dispute.add_argument("supplier_id", metavar="ID")
    dispute.add_argument("penalty_id", metavar="PENALTY_ID")
    dispute.add_argument("--grounds", required=True, help="why the credit is wrong")
    _request_id_flag(dispute)
    dispute.set_defaults(handler=run(_dispute))
    decide = verbs.add_parser("decide", parents=[flags], help="decide a dispute (operator)")
    decide.add_argument("supplier_id", metavar="ID")
    decide.add_argument("penalty_id", metavar="PENALTY_ID")
    decide.add_argument("outcome", choices=sorted(OUTCOMES))
    decide.add_argument("--note", default="")
    _request_id_flag(decide)
    decide.set_defaults(handler=run(_decide))


def _request_id_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request-id", help="idempotency key (a fresh UUID when not given)")


def _list_notices(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        notices = list(client.list_notices(args.supplier_id))
    _show(args, notices_text(notices), {"notices": notices})
    return OK


def _acknowledge(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.acknowledge_notice(
            args.supplier_id, args.sequence, request_id=args.request_id
        )
    _show(args, cli_output.events_text(list(result.events)), result)
    return OK


def _list_penalties(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        ledger = client.list_penalties(args.supplier_id)
    json_value = {
        "penalties": list(ledger.penalties),
        "service_credit_total": ledger.service_credit_total,
        "compensation_total": ledger.compensation_total,
    }
    _show(args, penalties_text(ledger.penalties), json_value)
    return OK


def _dispute(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.dispute_penalty(
            args.supplier_id, args.penalty_id, args.grounds, request_id=args.request_id
        )
    _show(args, cli_output.events_text(list(result.events)), result)
    return OK


def _decide(args: argparse.Namespace, target: Connection) -> int:
    with target.client() as client:
        result = client.decide_penalty_dispute(
            args.supplier_id,
            args.penalty_id,
            OUTCOMES[args.outcome],
            args.note,
            request_id=args.request_id,
        )
    _show(args, cli_output.events_text(list(result.events)), result)
    return OK


def notices_text(notices: Sequence[api.Notice]) -> str:
    """The notices as a table: sequence, when, type, read or not."""
    if not notices:
        return "no notices"
    rows = [
        (
            str(n.event.sequence),
            cli_output.when(n.event.occur_time),
            n.event.type,
            "yes" if n.acknowledged else "no",
        )
        for n in notices
    ]
    return cli_output.table(("SEQUENCE", "OCCURRED", "TYPE", "ACKNOWLEDGED"), rows)


def penalties_text(penalties: Sequence[pb.Penalty]) -> str:
    """The ledger as a table: id, kind, period, amount, rule, dispute ("-" when none)."""
    if not penalties:
        return "no penalties"
    rows = [
        (
            p.penalty_id,
            p.kind,
            p.period,
            f"{p.amount.amount} {p.amount.currency_code}",
            p.rule_id or "-",
            p.dispute_status or "-",
        )
        for p in penalties
    ]
    return cli_output.table(("PENALTY", "KIND", "PERIOD", "AMOUNT", "RULE", "DISPUTE"), rows)


def _show(args: argparse.Namespace, text: str, json_value: object) -> None:
    print(cli_output.as_json(json_value) if args.output == "json" else text)
