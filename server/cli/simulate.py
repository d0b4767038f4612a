"""``sqm simulate check|run`` and ``sqm backtest``: the simulation tools on the command line.

Exit status, as ``sqm policy``: 0 ok, 1 an invariant broke, 2 could not run (a pack or a
scenario file with errors, a database that cannot be read). Progress bars go to stderr and
only to a terminal; results go to files or stdout, byte for byte the same for the same
inputs.
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sqm.domain.model import QualificationChanges
from sqm.domain.serialization import format_time
from sqm.rules import load_pack
from sqm.rules.errors import PackInvalid
from sqm.server.bootstrap import DurableStore, open_store
from sqm.server.cli.times import rfc3339_time
from sqm.server.config import database_from
from sqm.server.observability.gc_tuning import tune_after_start_up
from sqm.server.storage.errors import StoreUnavailable
from sqm.server.storage.sqlite import SqliteEventStore
from sqm.server.storage.transfer import import_dump
from sqm.simulation import check, comparison, impact, report
from sqm.simulation.backtest import StoreOpener, backtest
from sqm.simulation.scenario_file import ScenarioInvalid, load_rates

OK, BROKEN, CANNOT_RUN = 0, 1, 2
COUNTEREXAMPLE = "counterexample.yaml"


def add_simulation_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sqm simulate`` (check, run) and ``sqm backtest`` to the ``sqm`` parser."""
    simulate = commands.add_parser(
        "simulate",
        help="compliance simulation: search for broken invariants, simulate a population",
        description="Know what a policy does before it bites. Exit status: 0 ok, 1 an"
        " invariant broke, 2 could not run.",
    )
    sub = simulate.add_subparsers(title="simulate commands", required=True, metavar="COMMAND")
    _add_check(sub)
    _add_run(sub)
    _add_backtest(commands)


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check", help="search generated scenarios for one that breaks the pack's invariants"
    )
    parser.add_argument("directory", metavar="DIR", help="the pack folder")
    parser.add_argument("--max-examples", type=_positive, default=2000, metavar="N")
    parser.add_argument("--seed", type=int, default=0, help="the same seed finds the same")
    parser.add_argument("--max-steps", type=_positive, default=40, help="steps per scenario")
    parser.add_argument(
        "--out", default=".", metavar="FOLDER", help=f"where {COUNTEREXAMPLE} is written"
    )
    _add_jobs(parser, "share the search's four parts out over N processes")
    parser.set_defaults(handler=_guarded(_check))


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("run", help="simulate suppliers over months under the pack")
    parser.add_argument("directory", metavar="DIR", help="the pack folder")
    parser.add_argument("--suppliers", type=_positive, default=100, metavar="N")
    parser.add_argument("--months", type=_positive, default=12, metavar="M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scenario", metavar="FILE", help="rates (default: docs/scenarios/baseline.yaml's)"
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="the pack to compare with (today's): the same population under both, and one"
        " report of what differs",
    )
    parser.add_argument("--json", metavar="FILE", help="write the result here (default stdout)")
    parser.add_argument("--html", metavar="FILE", help="write the HTML report here")
    _add_jobs(parser)
    parser.set_defaults(handler=_guarded(_run))


def _add_backtest(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "backtest",
        help="replay recorded history under a candidate pack; report what would differ",
        description="Exit status: 0 the report was written, 2 could not run.",
    )
    parser.add_argument("--policy", required=True, metavar="DIR", help="the candidate pack")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--database", help="a server's SQLite file or postgresql:// URL (read only)"
    )
    source.add_argument("--export", metavar="FILE", help="a file written by `sqm db export`")
    parser.add_argument("--json", metavar="FILE", help="write the result here (default stdout)")
    parser.add_argument("--html", metavar="FILE", help="write the HTML report here")
    parser.add_argument(
        "--effective-from",
        type=rfc3339_time,
        metavar="TIME",
        help="when the candidate takes effect (RFC 3339 with an offset): commands recorded"
        " before keep their recorded outcome (default: the beginning of history)",
    )
    _add_jobs(parser)
    parser.set_defaults(handler=_guarded(_backtest))


def _add_jobs(
    parser: argparse.ArgumentParser, what: str = "share the suppliers out over N processes"
) -> None:
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="N",
        help=f"{what} (the output is the same; default 1)",
    )


# --- the commands ---------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    pack = load_pack(args.directory)
    print(f"pack {pack.name} {pack.version[:12]}: {len(pack.invariants)} invariant(s)")
    with _progress(args.max_examples, "scenarios") as step:
        result = check.check_pack(
            pack, max_examples=args.max_examples, seed=args.seed, max_steps=args.max_steps,
            progress=step, jobs=args.jobs,
        )  # fmt: skip
    print(f"searched {result.examples} scenario(s) with seed {result.seed}")
    if result.held:
        print("every invariant held")
        return OK
    assert result.outcome is not None  # noqa: S101 - not held means a counterexample
    print("\n".join(["smallest counterexample:", *check.timeline_lines(result.outcome)]))
    target = Path(args.out) / COUNTEREXAMPLE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(check.test_file(result), encoding="utf-8")
    print(f"written to {target}; replay it with: sqm policy test {args.directory} {target}")
    return BROKEN


def _run(args: argparse.Namespace) -> int:
    if args.baseline:
        return _compare(args)
    pack = load_pack(args.directory)
    tune_after_start_up()
    rates = load_rates(args.scenario) if args.scenario else impact.Rates()
    with _progress(args.suppliers, "suppliers") as step:
        result = impact.simulate(
            pack, rates, suppliers=args.suppliers, months=args.months, seed=args.seed,
            progress=step, jobs=args.jobs,
        )  # fmt: skip
    _write(result, args.json, args.html, report.render_simulation)
    totals = result["totals"]
    print(
        f"{args.suppliers} supplier(s), {args.months} month(s): {totals['events']} events,"
        f" {totals['decisions']} decisions, {totals['terminated']} terminated",
        file=sys.stderr,
    )
    return OK


def _compare(args: argparse.Namespace) -> int:
    candidate, baseline = load_pack(args.directory), load_pack(args.baseline)
    tune_after_start_up()
    rates = load_rates(args.scenario) if args.scenario else impact.Rates()
    with _progress(args.suppliers, "suppliers") as step:
        result = comparison.compare(
            candidate, baseline, rates, suppliers=args.suppliers, months=args.months,
            seed=args.seed, progress=step, jobs=args.jobs,
        )  # fmt: skip
    _write(result, args.json, args.html, report.render_comparison)
    states = result["final_states"].get("terminated", {"baseline": 0, "candidate": 0})
    print(
        f"{args.suppliers} supplier(s), {args.months} month(s) under both packs:"
        f" {len(result['changed_suppliers'])} change fate; terminated"
        f" {states['baseline']} -> {states['candidate']}",
        file=sys.stderr,
    )
    return OK


def _backtest(args: argparse.Namespace) -> int:
    pack = load_pack(args.policy)
    tune_after_start_up()
    print(_taking_effect(args.effective_from, pack.qualification_changes_apply_to), file=sys.stderr)
    with _history(args) as (store, reopen):
        active = _active_version(store)
        source = args.database or args.export
        with _progress(None, "suppliers") as step:
            result = backtest(
                store, pack, source=source, active_version=active, progress=step,
                jobs=args.jobs, effective_from=args.effective_from, reopen=reopen,
            )  # fmt: skip
    _write(result, args.json, args.html, report.render_backtest)
    totals = result["totals"]
    print(
        f"{totals['suppliers']} supplier(s) replayed under {pack.name} {pack.version[:12]}:"
        f" {totals['changed']} would differ, {totals['state_changed']} in their state"
        + _revoked(result),
        file=sys.stderr,
    )
    return OK


def _revoked(result: dict[str, Any]) -> str:
    if not result["effective_from"] or result["qualification_changes_apply_to"] != (
        QualificationChanges.QUALIFIED_SUPPLIERS
    ):
        return ""
    revoked = result["totals"]["qualifications_revoked"]
    return f"; {revoked} qualification(s) revoked when it takes effect"


def _taking_effect(at: datetime | None, applies_to: QualificationChanges) -> str:
    """Which effective time and grandfathering the backtest uses, in words."""
    if at is None:
        return (
            "candidate takes effect from the beginning of history: every command is decided again"
        )
    reach = (
        "suppliers qualified then are evaluated again"
        if applies_to is QualificationChanges.QUALIFIED_SUPPLIERS
        else "recorded qualifications stand"
    )
    return (
        f"candidate takes effect at {format_time(at)}: earlier commands keep their recorded"
        f" outcome; qualification_changes_apply_to: {applies_to} ({reach})"
    )


@contextmanager
def _history(args: argparse.Namespace) -> Iterator[tuple[DurableStore, StoreOpener]]:
    """The recorded history: the database itself, or an export loaded into a scratch copy;
    with how to open it again, read-only (``--jobs`` workers each read their suppliers).
    """
    if args.database:
        database = database_from(args.database)
        with open_store(database, read_only=True) as store:
            yield store, functools.partial(open_store, database, read_only=True)
        return
    with tempfile.TemporaryDirectory(prefix="sqm-backtest-") as scratch:
        copy = Path(scratch) / "history.sqlite3"
        with SqliteEventStore(copy) as store:
            with Path(args.export).open(encoding="utf-8") as lines:
                import_dump(store, lines, args.export)
            yield store, functools.partial(SqliteEventStore, copy, read_only=True)


def _active_version(store: DurableStore) -> str:
    try:
        return store.active_version() or ""
    except Exception:
        return ""


# --- plumbing -------------------------------------------------------------------------------


def _write(
    result: dict[str, Any],
    json_path: str | None,
    html_path: str | None,
    renderer: Callable[[dict[str, Any]], str],
) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if json_path:
        Path(json_path).write_text(text, encoding="utf-8")
    elif not html_path:
        sys.stdout.write(text)
    if html_path:
        Path(html_path).write_text(renderer(result), encoding="utf-8")


@contextmanager
def _progress(total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
    # disable=None: a bar on a terminal, nothing in a log or a pipe.
    with tqdm(total=total, unit=f" {unit}", file=sys.stderr, disable=None, leave=False) as bar:

        def step(done: int) -> None:
            bar.update(done - bar.n)

        yield step


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except PackInvalid as error:
            located = "\n".join(f"  {problem}" for problem in error.errors)
            print(f"sqm: {error}\n{located}", file=sys.stderr)
        except ScenarioInvalid as error:
            print(f"sqm: the scenario file has errors:\n{error}", file=sys.stderr)
        except (OSError, sqlite3.Error, StoreUnavailable) as error:
            print(f"sqm: {error}", file=sys.stderr)
        return CANNOT_RUN

    return run


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
    return value
