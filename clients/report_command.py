"""``sqm report supplier ID --html FILE [--json FILE]``: one supplier's page, from a server.

It fetches the supplier (full view, with its scorecards), its whole history page by page, and
the standings' bands from the policy version of its latest scorecard; ``--json`` writes the data
the page was drawn from, so ``render_supplier`` gives the same bytes from it again.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from sqm.client.connection import Connection
from sqm.client.errors import SqmError
from sqm.client.policy_client import PolicyClient
from sqm.client.supplier_report_data import standings_in, supplier_report_data
from sqm.simulation.report.supplier_page import render_supplier
from sqm.v1 import resources_pb2 as pb

OK = 0
Command = Callable[[argparse.Namespace, Connection], int]
Runner = Callable[[Command], Callable[[argparse.Namespace], int]]


def add_report_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    flags: argparse.ArgumentParser,
    run: Runner,
) -> None:
    """Add ``report supplier``; ``run`` connects and turns failures into exit statuses."""
    report = commands.add_parser("report", help="self-contained HTML reports from a server")
    kinds = report.add_subparsers(title="reports", required=True, metavar="REPORT")
    supplier = kinds.add_parser(
        "supplier",
        parents=[flags],
        help="a supplier's score over time, KPIs, breaches, credits, reviews and plans",
    )
    supplier.add_argument("supplier_id", metavar="ID")
    supplier.add_argument("--html", type=Path, metavar="FILE", help="write the page here")
    supplier.add_argument("--json", type=Path, metavar="FILE", help="write the page's data here")
    supplier.add_argument("--page-size", type=int, default=0, metavar="N", help="events per call")
    supplier.set_defaults(handler=run(_supplier_report))


def _supplier_report(args: argparse.Namespace, target: Connection) -> int:
    if not (args.html or args.json):
        raise ValueError("say where to write the report: --html FILE and/or --json FILE")
    with target.client() as client:
        supplier = client.get_supplier(args.supplier_id, view=pb.SUPPLIER_VIEW_FULL)
        events = list(client.list_supplier_events(args.supplier_id, args.page_size))
    data = supplier_report_data(supplier, events, _standings(target, supplier))
    if args.json:
        args.json.write_text(_json_text(data), encoding="utf-8")
    if args.html:
        args.html.write_text(render_supplier(data), encoding="utf-8")
    written = " and ".join(str(path) for path in (args.html, args.json) if path)
    print(f"{args.supplier_id}: {len(data['timeline'])} timeline entries, written to {written}")
    return OK


def _standings(target: Connection, supplier: pb.Supplier) -> list[dict[str, Any]]:
    """The bands of the latest scorecard's policy; none when it cannot be read (the page
    says so).
    """
    if not supplier.scorecards or not supplier.scorecards[0].policy_version:
        return []
    try:
        with _policy_client(target) as policies:
            version = policies.get_version(supplier.scorecards[0].policy_version)
    except SqmError:
        return []  # a token without the policy reader's role still gets the page
    return standings_in(dict(version.files))


def _policy_client(target: Connection) -> PolicyClient:
    credentials = target.credentials()
    channel = (
        grpc.secure_channel(target.server, credentials)
        if credentials
        else grpc.insecure_channel(target.server)
    )
    return PolicyClient(target.server, timeout=target.timeout, token=target.token, channel=channel)


def _json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
