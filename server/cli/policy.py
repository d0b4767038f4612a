"""``sqm policy ...``: the policy team's tools on the command line.

    sqm policy lint DIR                     every error and warning, file:line:column
    sqm policy test DIR                     run DIR/tests/*.yaml; coverage of the rules
    sqm policy explain [DIR] --database FILE --supplier ID [--at TIME]
    sqm policy explain [DIR] --events FILE [--at TIME]
    sqm policy diff OLD NEW                 what changed, rule by rule
    sqm policy versions [--server ADDR | --database FILE]
    sqm policy activate DIR --server ADDR   atomic, no restart; errors located
    sqm policy propose|approve|schedule|rollback|proposals   sign-off (policy_signoff.py)

Exit status: 0 success; 1 when the tool did its job and found a problem (an error in the
pack, a failing or missing test, a refused activation); 2 when it could not do its job (a
missing file, an unreachable server).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqm.client.errors import SqmError
from sqm.client.policy_client import PolicyClient, pack_problems
from sqm.domain.errors import DomainError
from sqm.domain.events import Event
from sqm.domain.model import Stage
from sqm.domain.policy_archive import PolicyArchive, PolicyVersionNotFound
from sqm.domain.ports import Policy, RecordedEvent
from sqm.domain.serialization import event_from_payload, parse_time
from sqm.rules import PackInvalid, PolicyPack, default_pack_dir, load_pack
from sqm.rules.tooling.catalogue_summary import catalogue_lines
from sqm.rules.tooling.diff import GRANDFATHERING_WORDS, diff_packs
from sqm.rules.tooling.explain_report import (
    Replayed,
    evaluate_at,
    format_evaluation,
    format_header,
    format_recorded,
    replay_events,
    replay_items,
)
from sqm.rules.tooling.lint import Finding, Severity, error_findings, lint_pack
from sqm.rules.tooling.pack_files import load_pack_files
from sqm.rules.tooling.scorecard_summary import scorecard_lines, segment_lines
from sqm.rules.tooling.testfile import parse_history
from sqm.server.app.policies import compile_pack, load_archived
from sqm.server.app.policy_tests import report, run_pack_tests
from sqm.server.bootstrap import DurableStore, open_store
from sqm.server.cli.db import one_line_errors
from sqm.server.config import DEFAULT_ADDRESS, database_from

OK, FOUND_PROBLEMS, CANNOT_RUN = 0, 1, 2
SERVER_VARIABLE = "SQM_SERVER"
TOKEN_VARIABLE = "SQM_TOKEN"  # noqa: S105 - the name of a variable, not a token


class _CannotRun(Exception):
    """The tool could not do its job (exit 2); the message says why."""


_command = one_line_errors(_CannotRun, prefix="sqm policy")


def add_policy_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add ``sqm policy`` and its subcommands to the ``sqm`` parser; return them (the
    sign-off commands join them, from ``sqm.server.cli.policy_signoff``).
    """
    policy = commands.add_parser(
        "policy",
        help="policy packs: lint, test, explain, diff, versions, activate, sign-off",
        description="Tools for policy teams. Exit status: 0 ok, 1 problems found, 2 could not run.",
    )
    sub = policy.add_subparsers(title="policy commands", required=True, metavar="COMMAND")

    lint = sub.add_parser("lint", help="report every error and warning of a pack")
    lint.add_argument("directory", metavar="DIR", help="the pack folder (with manifest.yaml)")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    lint.set_defaults(handler=_lint)

    test = sub.add_parser("test", help="run the pack's tests (DIR/tests/*.yaml)")
    test.add_argument("directory", metavar="DIR")
    test.add_argument("files", nargs="*", metavar="FILE", help="test files (default: DIR/tests)")
    test.add_argument("-k", dest="select", default="", help="only cases whose name has TEXT")
    test.add_argument(
        "--require-coverage", action="store_true", help="exit 1 unless every rule fired"
    )
    test.set_defaults(handler=_test)

    explain = sub.add_parser(
        "explain", help="evaluate a pack against a supplier's history, rule by rule"
    )
    explain.add_argument(
        "directory",
        metavar="DIR",
        nargs="?",
        help="the pack (default: the database's active version, else the default pack)",
    )
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--database", help="a server's SQLite file or postgresql:// URL (read only)"
    )
    source.add_argument("--events", help="YAML/JSON list of commands and events")
    explain.add_argument("--supplier", help="the supplier id (with --database)")
    explain.add_argument("--at", help="RFC 3339 time (default: the last event's)")
    explain.add_argument(
        "--stage", choices=[s.value for s in Stage], default=Stage.QUALIFICATION.value
    )
    explain.add_argument("--version", help="an archived version (with --database) to explain")
    explain.add_argument(
        "--history", action="store_true", help="also print the decisions recorded so far"
    )
    explain.set_defaults(handler=_explain)

    diff = sub.add_parser("diff", help="what changed between two packs, rule by rule")
    diff.add_argument("old", metavar="OLD", help="a pack folder, or a version with --database")
    diff.add_argument("new", metavar="NEW", help="a pack folder, or a version with --database")
    diff.add_argument("--database", help="SQLite file or URL whose archived versions OLD/NEW name")
    diff.set_defaults(handler=_diff)

    versions = sub.add_parser("versions", help="list archived versions, the active one marked")
    where = versions.add_mutually_exclusive_group()
    where.add_argument(
        "--server", help=f"host:port (env {SERVER_VARIABLE}, default {DEFAULT_ADDRESS})"
    )
    where.add_argument(
        "--database", help="read a server's SQLite file or postgresql:// URL directly"
    )
    _add_auth(versions)
    versions.set_defaults(handler=_versions)

    activate = sub.add_parser("activate", help="make a pack a running server's active policy")
    activate.add_argument("directory", metavar="DIR")
    activate.add_argument(
        "--server", help=f"host:port (env {SERVER_VARIABLE}, default {DEFAULT_ADDRESS})"
    )
    activate.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    activate.add_argument("--actor", help="who activates (default: the login name)")
    _add_auth(activate)
    activate.set_defaults(handler=_activate)
    return sub


def _add_auth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help=f"bearer token (env {TOKEN_VARIABLE})")


def _out(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _findings(findings: Iterable[Finding], directory: str) -> list[str]:
    return [f.format(directory) for f in findings]


def _existing_pack(directory: str) -> str:
    if not Path(directory).is_dir():
        raise _CannotRun(f"{directory}: no such pack folder")
    return directory


# --- lint, test, diff ----------------------------------------------------------------------


@_command
def _lint(args: argparse.Namespace) -> int:
    directory = _existing_pack(args.directory)
    result = lint_pack(directory)
    _out(_findings(result.findings, directory))
    errors, warnings = len(result.errors), len(result.warnings)
    verdict = f"version {result.version}" if result.version else "the pack does not load"
    print(f"{directory}: {errors} error(s), {warnings} warning(s); {verdict}")
    if result.qualification_changes_apply_to is not None:
        applies_to = result.qualification_changes_apply_to
        print(f"qualification_changes_apply_to: {applies_to} ({GRANDFATHERING_WORDS[applies_to]})")
    if result.catalogue is not None:
        _out(catalogue_lines(result.catalogue, result.catalogue_file))
    if result.scorecard is not None:
        _out(scorecard_lines(result.scorecard))
    _out(segment_lines(result.segments))
    if errors or (args.strict and warnings):
        return FOUND_PROBLEMS
    return OK


@_command
def _test(args: argparse.Namespace) -> int:
    directory = _existing_pack(args.directory)
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise _CannotRun(f"no such test file: {', '.join(missing)}")
    try:
        run_result = run_pack_tests(directory, files, select=args.select)
    except PackInvalid as invalid:
        _out(_findings(error_findings(invalid), directory))
        print(f"{directory}: the pack does not load; no test ran")
        return FOUND_PROBLEMS
    _out(report(run_result))
    if not run_result.ok or (args.require_coverage and run_result.not_covered):
        return FOUND_PROBLEMS
    return OK


@_command
def _diff(args: argparse.Namespace) -> int:
    archive = _open_database(args.database) if args.database else None
    try:
        old, new = _pack_from(args.old, archive), _pack_from(args.new, archive)
    finally:
        if archive is not None:
            archive.close()
    print(f"{old.name} {old.version[:16]} -> {new.name} {new.version[:16]}")
    if old.version == new.version:
        print("no changes: the packs are the same version")
        return OK
    changes = diff_packs(old, new)
    _out(changes or ["no change in meaning: only comments, layout or order differ"])
    return OK


def _pack_from(where: str, archive: DurableStore | None) -> PolicyPack:
    if Path(where).is_dir():
        try:
            return load_pack(where)
        except PackInvalid as invalid:
            _out(_findings(error_findings(invalid), where))
            raise _CannotRun(f"{where}: the pack does not load") from None
    if archive is None:
        raise _CannotRun(f"{where}: no such pack folder (give --database to name a version)")
    return load_pack_files(archive.load_version(_resolve_version(archive, where)))


def _resolve_version(archive: PolicyArchive, prefix: str) -> str:
    matches = [v.version for v in archive.list_versions() if v.version.startswith(prefix)]
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)}"
        raise _CannotRun(f"{found} archived versions start with {prefix!r}")
    return matches[0]


def _open_database(where: str) -> DurableStore:
    try:
        return open_store(database_from(where), read_only=True)
    except Exception as error:  # unreadable or unreachable: say so, without a traceback
        raise _CannotRun(str(error)) from None


# --- explain -------------------------------------------------------------------------------


@_command
def _explain(args: argparse.Namespace) -> int:
    at = _time(args.at) if args.at else None
    stage = Stage(args.stage)
    if args.database:
        if not args.supplier:
            raise _CannotRun("--database needs --supplier ID")
        policy, name, replayed = _from_database(args, at)
    else:
        if args.supplier or args.version:
            raise _CannotRun("--supplier and --version go with --database")
        policy, name = _policy_from_directory(args.directory)
        replayed = _from_events_file(args.events, policy, at)
    if replayed.judged is None or replayed.at is None:
        print("no supplier in the history up to that time")
        return FOUND_PROBLEMS
    try:
        evaluation = evaluate_at(policy, replayed.judged, replayed.at, stage)
    except DomainError as error:
        print(f"the policy could not evaluate: {error}")
        return FOUND_PROBLEMS
    _out(format_header(replayed, name, policy.version, stage, replayed.at))
    if args.history:
        _out(["", "recorded decisions:", *format_recorded(replayed.recorded)])
        _out(["", f"evaluated now under version {policy.version[:16]}:"])
    _out(format_evaluation(evaluation))
    return OK


def _time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as error:
        raise _CannotRun(f"--at {text!r}: {error}; write it like 2026-03-02T09:00:00Z") from None


def _policy_from_directory(directory: str | None) -> tuple[Policy, str]:
    folder = directory or str(default_pack_dir())
    try:
        pack = load_pack(_existing_pack(folder))
    except PackInvalid as invalid:
        _out(_findings(error_findings(invalid), folder))
        raise _CannotRun(f"{folder}: the pack does not load") from None
    return compile_pack(pack), pack.name


def _from_database(args: argparse.Namespace, at: datetime | None) -> tuple[Policy, str, Replayed]:
    store = _open_database(args.database)
    try:
        recorded = store.read_stream(args.supplier)
        if not recorded:
            raise _CannotRun(f"supplier {args.supplier!r} has no events in {args.database}")
        if args.directory:
            policy, name = _policy_from_directory(args.directory)
        else:
            policy, name = _archived_policy(store, args.version)
    finally:
        store.close()
    return policy, name, replay_events(_events(recorded), at)


def _archived_policy(store: DurableStore, version: str | None) -> tuple[Policy, str]:
    wanted = _resolve_version(store, version) if version else store.active_version()
    if wanted is None:
        return _policy_from_directory(None)
    try:
        policy = load_archived(store, wanted)
    except (PackInvalid, PolicyVersionNotFound) as error:
        raise _CannotRun(f"archived version {wanted} cannot be loaded: {error}") from None
    return policy, store.get_version(wanted).name


def _events(recorded: Sequence[RecordedEvent]) -> list[Event]:
    return [event_from_payload(r.event_type, r.payload) for r in recorded]


def _from_events_file(path: str, policy: Policy, at: datetime | None) -> Replayed:
    file = Path(path)
    if not file.is_file():
        raise _CannotRun(f"{path}: no such file")
    history = parse_history(file.read_bytes().decode("utf-8", errors="replace"), path)
    if history.problems:
        _out(f"{p.file}:{p.line}:{p.column}: error: {p.message}" for p in history.problems)
        raise _CannotRun(f"{path}: the history file has problems")
    try:
        return replay_items([s.item for s in history.steps], policy, at)
    except DomainError as error:
        raise _CannotRun(f"{path}: a command was refused while replaying: {error}") from None


# --- versions and activation against a server -----------------------------------------------


def _server(args: argparse.Namespace) -> str:
    return str(args.server or os.environ.get(SERVER_VARIABLE) or DEFAULT_ADDRESS)


def _token(args: argparse.Namespace) -> str | None:
    return args.token or os.environ.get(TOKEN_VARIABLE) or None


_Row = tuple[bool, str, str, datetime | None, datetime | None, int]


@_command
def _versions(args: argparse.Namespace) -> int:
    if args.database:
        store = _open_database(args.database)
        try:
            active = store.active_version()
            rows: list[_Row] = [
                (
                    v.version == active,
                    v.version,
                    v.name,
                    v.first_activated_at,
                    v.last_activated_at,
                    v.activation_count,
                )
                for v in store.list_versions()
            ]
        finally:
            store.close()
    else:
        rows = _server_versions(_server(args), _token(args))
    _out(_version_table(rows))
    return OK


def _server_versions(address: str, token: str | None) -> list[_Row]:
    try:
        with PolicyClient(address, token=token, attempts=2) as client:
            versions = list(client.list_versions())
    except SqmError as error:
        raise _CannotRun(f"{address}: {error.message or error}") from None
    return [
        (
            v.active,
            v.version,
            v.pack_name,
            v.first_activate_time.ToDatetime(UTC) if v.HasField("first_activate_time") else None,
            v.last_activate_time.ToDatetime(UTC) if v.HasField("last_activate_time") else None,
            v.activation_count,
        )
        for v in versions
    ]


def _version_table(rows: Sequence[_Row]) -> list[str]:
    if not rows:
        return ["no policy versions archived yet"]
    width = max(len(row[2]) for row in rows)
    header = f"  {'VERSION':<64}  {'PACK':<{width}}  {'FIRST ACTIVE':<20}  {'LAST ACTIVE':<20}  N"
    lines = [header]
    for active, version, name, first, last, count in rows:
        marker = "*" if active else " "
        lines.append(
            f"{marker} {version:<64}  {name:<{width}}  {_when(first)}  {_when(last)}  {count}"
        )
    return lines


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-".ljust(20)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").ljust(20)


@_command
def _activate(args: argparse.Namespace) -> int:
    directory = _existing_pack(args.directory)
    address = _server(args)
    actor = args.actor or _login()
    try:
        with PolicyClient(address, actor=actor, token=_token(args)) as client:
            result = client.activate_directory(directory, request_id=args.request_id)
    except PackInvalid as invalid:  # a file is not UTF-8: found before anything was sent
        _out(_findings(error_findings(invalid), directory))
        return FOUND_PROBLEMS
    except SqmError as error:
        return _refused(error, directory, address)
    except ValueError as error:  # an actor name gRPC metadata cannot carry
        raise _CannotRun(str(error)) from None
    version = result.policy_version
    warnings = [
        Finding(w.file, w.line, w.column, Severity.WARNING, w.message) for w in result.warnings
    ]
    _out(_findings(warnings, directory))
    previous = result.previous_version or "none"
    print(f"activated {version.version} ({version.pack_name}) on {address}; previous {previous}")
    return OK


def _refused(error: SqmError, directory: str, address: str, what: str = "activation") -> int:
    problems = pack_problems(error)
    if error.reason == PackInvalid.reason and problems:
        _out(
            f"{Finding(p.file, p.line, p.column, Severity.ERROR, p.message).format(directory)}"
            for p in problems
        )
        print(
            f"{what} refused: {len(problems)} problem(s); the active policy is unchanged",
            file=sys.stderr,
        )
        return FOUND_PROBLEMS
    if error.reason:  # the server answered: a refusal, not a failure to run
        print(f"{what} refused: {error.reason}: {error.message}", file=sys.stderr)
        return FOUND_PROBLEMS
    raise _CannotRun(f"{address}: {error.message or error}")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container): still say it was the CLI
        return "sqm-cli"
