"""``sqm supplier ...`` and ``sqm measurements import``: the client commands for people.

    sqm supplier get ID                      one supplier
    sqm supplier list [--page-size N]        every supplier, in id order
    sqm supplier history ID                  its events; decisions with rule, file:line, facts
    sqm supplier scorecard ID                its scorecards, latest first, with the trend
    sqm supplier list --standing poor        suppliers whose latest scorecard is poor
    sqm measurements import FILE.csv [--partial] [--batch-size N] [--quiet]
    sqm watch [--supplier ID] [--resume-token T | --from-now] [--max-events N]
              [--notification-kind KIND] [--notification-recipient WHO]
    sqm notices list|ack ..., sqm penalty dispute|decide ...   (sqm.client.supplier_commands)
    sqm corrective-action submit|complete|extend|verify|decide|close|show ...
                                             (sqm.client.corrective_action_commands)
    sqm report supplier ID --html FILE [--json FILE]           (sqm.client.report_command)
    sqm notifications list --undeliverable | retry [ID ...]    (sqm.client.notification_commands)

Every command takes ``--server HOST:PORT`` (env SQM_SERVER, default 127.0.0.1:50051),
``--token`` (env SQM_TOKEN), ``--tls-ca FILE`` (turns TLS on), ``--tls-cert``/``--tls-key``
(mutual TLS), ``--timeout SECONDS`` and ``--output text|json``.

Exit status: 0 success; 1 when the server refused something (an error, a rejected row);
2 when the command could not run (bad flags or CSV, TLS files, an unreachable server).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

import grpc

from sqm.client import cli_output
from sqm.client.connection import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT_SECONDS,
    SERVER_VARIABLE,
    TOKEN_VARIABLE,
    Connection,
    connection_from,
)
from sqm.client.corrective_action_commands import add_corrective_action_commands
from sqm.client.csv_import import DEFAULT_BATCH_SIZE, import_rows, read_measurements
from sqm.client.errors import SqmError
from sqm.client.notification_commands import add_notification_commands
from sqm.client.report_command import add_report_commands
from sqm.client.scorecard_output import scorecards_text
from sqm.client.supplier_commands import add_supplier_side_commands
from sqm.client.watch_command import add_watch_arguments, watch
from sqm.v1 import resources_pb2 as pb

OK, REFUSED, CANNOT_RUN = 0, 1, 2
UPLOAD_ROW_LIMIT = 10_000  # the server's rows per stream; a larger batch would be refused whole

Handler = Callable[[argparse.Namespace], int]


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``supplier`` and ``measurements`` to the ``sqm`` command line."""
    flags = _connection_flags()
    supplier = commands.add_parser("supplier", help="read suppliers from a running server")
    verbs = supplier.add_subparsers(title="commands", required=True, metavar="COMMAND")
    get = verbs.add_parser("get", parents=[flags], help="one supplier")
    get.add_argument("supplier_id", metavar="ID")
    _view_flag(get)
    get.set_defaults(handler=_command(_get))
    listing = verbs.add_parser("list", parents=[flags], help="every supplier, in id order")
    listing.add_argument(
        "--page-size", type=_positive_int, default=0, metavar="N", help="suppliers per call"
    )
    listing.add_argument(
        "--standing", default="", metavar="ID", help="only suppliers in this scorecard standing"
    )
    _view_flag(listing)
    listing.set_defaults(handler=_command(_list))
    history = verbs.add_parser(
        "history", parents=[flags], help="a supplier's events, with the decisions made"
    )
    history.add_argument("supplier_id", metavar="ID")
    history.add_argument(
        "--page-size", type=_positive_int, default=0, metavar="N", help="events per call"
    )
    history.set_defaults(handler=_command(_history))
    scorecard = verbs.add_parser(
        "scorecard", parents=[flags], help="a supplier's scorecards, latest first, with the trend"
    )
    scorecard.add_argument("supplier_id", metavar="ID")
    scorecard.set_defaults(handler=_command(_scorecard))

    watching = commands.add_parser(
        "watch", parents=[flags], help="follow the record as it is written, with resume tokens"
    )
    add_watch_arguments(watching)
    watching.set_defaults(handler=_command(_watch))

    measurements = commands.add_parser("measurements", help="send SLA measurements")
    actions = measurements.add_subparsers(title="commands", required=True, metavar="COMMAND")
    upload = actions.add_parser(
        "import",
        parents=[flags],
        help="import measurements from a CSV file",
        description="Columns: supplier_id, objective_id, value, unit, period_start,"
        " period_end, occur_time (RFC 3339) and optionally request_id (when empty, derived"
        " from the file's SHA-256 and the row number, so a re-import never counts twice).",
    )
    upload.add_argument("file", metavar="FILE.csv", type=Path)
    upload.add_argument(
        "--partial", action="store_true", help="store the good rows of a batch with bad ones"
    )
    upload.add_argument(
        "--batch-size",
        type=_batch_size,
        metavar="N",
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per upload stream (default {DEFAULT_BATCH_SIZE:,}, at most"
        f" {UPLOAD_ROW_LIMIT:,})",
    )
    upload.add_argument("--quiet", action="store_true", help="no progress bar")
    upload.set_defaults(handler=_command(_import))
    add_supplier_side_commands(commands, flags, _connected)
    add_corrective_action_commands(commands, flags, _connected)
    add_report_commands(commands, flags, _connected)
    add_notification_commands(commands, flags, _connected)


def _connection_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("connection")
    group.add_argument(
        "--server",
        metavar="HOST:PORT",
        help=f"(env {SERVER_VARIABLE}, default {DEFAULT_SERVER})",
    )
    group.add_argument("--token", help=f"bearer token (env {TOKEN_VARIABLE})")
    group.add_argument("--tls-ca", metavar="FILE", help="CA of the server's certificate; TLS on")
    group.add_argument("--tls-cert", metavar="FILE", help="client certificate (mutual TLS)")
    group.add_argument("--tls-key", metavar="FILE", help="client private key (mutual TLS)")
    group.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"deadline of each call (default {DEFAULT_TIMEOUT_SECONDS:g}); an upload batch"
        " gets 0.1 s more per row",
    )
    group.add_argument("--output", choices=["text", "json"], default="text")
    return flags


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _batch_size(text: str) -> int:
    value = _positive_int(text)
    if value > UPLOAD_ROW_LIMIT:
        raise argparse.ArgumentTypeError(f"at most {UPLOAD_ROW_LIMIT:,} rows per batch")
    return value


def connection(args: argparse.Namespace) -> Connection:
    """The connection the parsed flags ask for, the environment filling in the rest."""
    return connection_from(
        server=args.server,
        token=args.token,
        tls_ca=args.tls_ca,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        timeout=args.timeout,
        environ=os.environ,
    )


def _command(handler: Handler) -> Handler:
    """Run ``handler``, turning failures into a message on stderr and an exit status."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ValueError as error:  # CsvInvalid, TlsFilesInvalid, a bad --timeout
            print(f"error: {error}", file=sys.stderr)
            return CANNOT_RUN
        except SqmError as error:
            if _unreachable(error):
                where = getattr(args, "server_address", "the server")
                print(f"error: cannot reach {where}: {error.message}", file=sys.stderr)
                return CANNOT_RUN
            print(cli_output.error_text(error), file=sys.stderr)
            return REFUSED

    return run


def _unreachable(error: SqmError) -> bool:
    # The server's own refusals carry an ErrorInfo reason; the transport's failures do not.
    return not error.reason and error.code in {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }


VIEWS = {"basic": pb.SUPPLIER_VIEW_BASIC, "full": pb.SUPPLIER_VIEW_FULL}


def _view_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--view",
        choices=sorted(VIEWS),
        default="full",
        help="basic: name, state and etag only; full (default): every field",
    )


def _print(args: argparse.Namespace, text: str, json_value: object) -> None:
    print(cli_output.as_json(json_value) if args.output == "json" else text)


def _get(args: argparse.Namespace) -> int:
    target = _connect(args)
    with target.client() as client:
        supplier = client.get_supplier(args.supplier_id, view=VIEWS[args.view])
    _print(args, cli_output.supplier_text(supplier), supplier)
    return OK


def _list(args: argparse.Namespace) -> int:
    target = _connect(args)
    with target.client() as client:
        suppliers = list(
            client.list_suppliers(args.page_size, view=VIEWS[args.view], standing=args.standing)
        )
    _print(args, cli_output.suppliers_text(suppliers), {"suppliers": suppliers})
    return OK


def _watch(args: argparse.Namespace) -> int:
    return watch(_connect(args), args)


def _history(args: argparse.Namespace) -> int:
    target = _connect(args)
    with target.client() as client:
        events = list(client.list_supplier_events(args.supplier_id, args.page_size))
    _print(args, cli_output.events_text(events), {"events": events})
    return OK


def _scorecard(args: argparse.Namespace) -> int:
    target = _connect(args)
    with target.client() as client:
        supplier = client.get_supplier(args.supplier_id, view=pb.SUPPLIER_VIEW_FULL)
    _print(args, scorecards_text(supplier), {"scorecards": list(supplier.scorecards)})
    return OK


def _import(args: argparse.Namespace) -> int:
    # Imported here: `sqm serve` and the read commands do not need the progress bar.
    from tqdm import tqdm  # noqa: PLC0415

    rows = read_measurements(args.file)  # every CSV problem is found before anything is sent
    target = _connect(args)
    show = not args.quiet and sys.stderr.isatty()
    with (
        target.client() as client,
        tqdm(total=len(rows), unit="row", file=sys.stderr, disable=not show) as bar,
    ):
        report = import_rows(
            client,
            rows,
            partial=args.partial,
            batch_size=args.batch_size,
            timeout=target.timeout,
            progress=bar.update,
        )
    if args.output == "json":
        print(cli_output.import_json(report))
    else:
        print(cli_output.import_text(report))
    return OK if report.complete else REFUSED


def _connected(handler: Callable[[argparse.Namespace, Connection], int]) -> Handler:
    """A command of :mod:`sqm.client.supplier_commands`, connected and guarded like ours."""
    return _command(lambda args: handler(args, _connect(args)))


def _connect(args: argparse.Namespace) -> Connection:
    target = connection(args)
    args.server_address = target.server  # named in the message when it cannot be reached
    return target
