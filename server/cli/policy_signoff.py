"""``sqm policy propose|approve|schedule|rollback|proposals``: sign-off on the command line.

    sqm policy propose DIR [--at TIME]      propose a pack; takes effect once approved, at TIME
    sqm policy approve N                    approve proposal N (four eyes: not your own)
    sqm policy schedule N --at TIME         set when proposal N takes effect (re-approve)
    sqm policy rollback [N]                 the version before the active one, or withdraw N
    sqm policy proposals                    every proposal and where it stands

Exit status as for every ``sqm policy`` command: 0 done, 1 refused by the server (a proposer
approving, an invalid pack, ...), 2 could not run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC

from sqm.client.errors import SqmError
from sqm.client.policy_client import PolicyClient
from sqm.rules.errors import PackInvalid
from sqm.rules.tooling.lint import Finding, Severity, error_findings
from sqm.server.cli.policy import (
    FOUND_PROBLEMS,
    OK,
    SERVER_VARIABLE,
    _CannotRun,
    _command,
    _existing_pack,
    _findings,
    _login,
    _out,
    _refused,
    _server,
    _token,
)
from sqm.server.cli.times import rfc3339_time
from sqm.server.config import DEFAULT_ADDRESS
from sqm.v1 import policy_service_pb2 as api

_STATES = {
    api.POLICY_PROPOSAL_STATE_PENDING: "pending",
    api.POLICY_PROPOSAL_STATE_APPROVED: "approved",
    api.POLICY_PROPOSAL_STATE_ACTIVE: "active",
    api.POLICY_PROPOSAL_STATE_CANCELLED: "cancelled",
}


def add_signoff_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the sign-off commands to ``sqm policy``."""
    propose = sub.add_parser("propose", help="propose a pack to a server (sign-off)")
    propose.add_argument("directory", metavar="DIR")
    propose.add_argument("--at", type=rfc3339_time, help="effective time, RFC 3339 with an offset")
    _server_options(propose)
    propose.set_defaults(handler=_propose)

    approve = sub.add_parser("approve", help="approve a proposal (not your own, four eyes)")
    approve.add_argument("proposal", type=int, metavar="N")
    _server_options(approve)
    approve.set_defaults(handler=_approve)

    schedule = sub.add_parser("schedule", help="set when a proposal takes effect")
    schedule.add_argument("proposal", type=int, metavar="N")
    schedule.add_argument("--at", type=rfc3339_time, required=True, help="RFC 3339 with an offset")
    _server_options(schedule)
    schedule.set_defaults(handler=_schedule)

    rollback = sub.add_parser(
        "rollback", help="make the version before the active one active, or withdraw N"
    )
    rollback.add_argument("proposal", type=int, metavar="N", nargs="?", default=0)
    _server_options(rollback)
    rollback.set_defaults(handler=_rollback)

    proposals = sub.add_parser("proposals", help="list proposals and where they stand")
    _server_options(proposals)
    proposals.set_defaults(handler=_proposals)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server", help=f"host:port (env {SERVER_VARIABLE}, default {DEFAULT_ADDRESS})"
    )
    parser.add_argument("--token", help="bearer token (env SQM_TOKEN)")
    parser.add_argument("--actor", help="who signs (default: the login name)")
    parser.add_argument("--request-id", help="idempotency key (default: a new UUID)")


def _call(args: argparse.Namespace, call: Callable[[PolicyClient], object]) -> object:
    address = _server(args)
    try:
        with PolicyClient(address, actor=args.actor or _login(), token=_token(args)) as client:
            return call(client)
    except ValueError as error:  # an actor name gRPC metadata cannot carry
        raise _CannotRun(str(error)) from None


@_command
def _propose(args: argparse.Namespace) -> int:
    directory = _existing_pack(args.directory)
    try:
        result = _call(
            args,
            lambda c: c.propose_directory(
                directory, effective_at=args.at, request_id=args.request_id
            ),
        )
    except PackInvalid as invalid:  # a file is not UTF-8: found before anything was sent
        _out(_findings(error_findings(invalid), directory))
        return FOUND_PROBLEMS
    except SqmError as error:
        return _refused(error, directory, _server(args), "proposal")
    assert isinstance(result, api.ProposePolicyResponse)  # noqa: S101 - what propose returns
    warnings = [
        Finding(w.file, w.line, w.column, Severity.WARNING, w.message) for w in result.warnings
    ]
    _out(_findings(warnings, directory))
    print(f"proposed {describe(result.proposal)}")
    return OK


@_command
def _approve(args: argparse.Namespace) -> int:
    return _signed(args, lambda c: c.approve(args.proposal, request_id=args.request_id))


@_command
def _schedule(args: argparse.Namespace) -> int:
    return _signed(args, lambda c: c.schedule(args.proposal, args.at, request_id=args.request_id))


@_command
def _rollback(args: argparse.Namespace) -> int:
    return _signed(args, lambda c: c.rollback(args.proposal, request_id=args.request_id))


def _signed(args: argparse.Namespace, call: Callable[[PolicyClient], object]) -> int:
    try:
        result = _call(args, call)
    except SqmError as error:
        return _refused(error, "", _server(args), "request")
    proposal = getattr(result, "proposal", None)
    if proposal is not None and result.HasField("proposal"):  # type: ignore[attr-defined]
        print(describe(proposal))
    active = getattr(result, "active_version", "")
    if active:
        print(f"active version {active}")
    return OK


@_command
def _proposals(args: argparse.Namespace) -> int:
    try:
        result = _call(args, lambda c: c.list_proposals())
    except SqmError as error:
        raise _CannotRun(f"{_server(args)}: {error.message or error}") from None
    assert isinstance(result, api.ListPolicyProposalsResponse)  # noqa: S101
    print(f"approvals required on this server: {result.approvals_required}")
    for proposal in result.proposals:
        print(describe(proposal))
    return OK


def describe(proposal: api.PolicyProposal) -> str:
    """One line saying what a proposal is, who signed it and when it takes effect."""
    state = _STATES.get(proposal.state, "unknown")
    signed = ", ".join(proposal.approvers) or "nobody yet"
    when = (
        _stamp(proposal.take_effect_time)
        if proposal.HasField("take_effect_time")
        else _stamp(proposal.effective_time)
        if proposal.HasField("effective_time")
        else "upon approval"
    )
    return (
        f"{proposal.name} {state}: {proposal.version} ({proposal.pack_name}) proposed by"
        f" {proposal.proposer}, approved by {signed}"
        f" ({proposal.approvals_required} must sign); takes effect {when}"
    )


def _stamp(value: object) -> str:
    moment = value.ToDatetime(UTC)  # type: ignore[attr-defined]
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
