"""``sqm policy test``: run a pack's test files through the real application path.

Each case gets a fresh :class:`~sqm.server.storage.memory.MemoryEventStore` and a
:class:`~sqm.server.app.suppliers.SupplierService` deciding under the pack's
:class:`~rules.CompiledPolicy` (the real durable_rules engine). Commands run in order at the
times they give; the store stamps each record with the command's own time, so a run reads
no clock and gives the same result on every machine. The file format is described in
:mod:`sqm.rules.tooling.testfile`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

import attrs

from sqm.domain.commands import Command
from sqm.domain.errors import DomainError
from sqm.domain.events import DecisionRecorded, Escalated, Event, NotificationIssued
from sqm.domain.invariants import Checkpoint, Invariant, violation
from sqm.domain.model import Decision, SupplierState
from sqm.domain.needs import NEED_COMMAND_TYPES, NeedCommand, NeedNoticeIssued
from sqm.domain.ports import Policy
from sqm.domain.serialization import converter, event_from_payload
from sqm.rules import CompiledPolicy, PolicyPack, load_pack
from sqm.rules.errors import PackError
from sqm.rules.tooling.testfile import (
    STARTING_POINTS,
    Case,
    CaseFile,
    Step,
    discover,
    parse_case_file,
    start_steps,
)
from sqm.server.app.needs import NeedService, need_event
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import CommandResult, SupplierService
from sqm.server.storage.memory import MemoryEventStore

TEST_ACTOR = "policy-test"
_NOTHING = "(none)"


@attrs.frozen
class CaseResult:
    """One case run: what fired, and every way the outcome differed from the expectation."""

    case: Case
    fired: tuple[str, ...]
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when everything expected happened."""
        return not self.failures


@attrs.frozen
class PackTestRun:
    """Every test file of a pack, run."""

    pack: PolicyPack
    files: tuple[CaseFile, ...]
    results: tuple[CaseResult, ...]
    problems: tuple[PackError, ...] = ()

    @property
    def covered(self) -> frozenset[str]:
        """The ids of the pack's rules that fired in at least one case."""
        fired = {rule for result in self.results for rule in result.fired}
        return frozenset(r.id for r in self.pack.rules if r.id in fired)

    @property
    def not_covered(self) -> tuple[str, ...]:
        """The ids of the pack's rules no case fired, in pack order."""
        return tuple(r.id for r in self.pack.rules if r.id not in self.covered)

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return sum(1 for r in self.results if not r.passed)

    @property
    def ok(self) -> bool:
        """True when cases ran, none failed and no test file has a problem."""
        return bool(self.results) and not self.failed and not self.problems


def run_pack_tests(
    pack_dir: str | os.PathLike[str],
    test_files: Sequence[Path] = (),
    *,
    select: str = "",
    policy: Policy | None = None,
) -> PackTestRun:
    """Run the test files of the pack in ``pack_dir`` (its ``tests/*.yaml`` unless given).

    ``select`` keeps only cases whose name contains it. Raises ``PackInvalid`` when the
    pack does not load.
    """
    pack = load_pack(pack_dir)
    decider: Policy = policy if policy is not None else CompiledPolicy(pack)
    paths = list(test_files) or discover(Path(pack_dir))
    files = tuple(_parse(path) for path in paths)
    problems = [p for f in files for p in f.problems]
    cases = [c for f in files for c in f.cases if select.lower() in c.name.lower()]
    problems.extend(_unknown_rules(pack, cases))
    problems.extend(_unknown_invariants(pack, cases))
    results = tuple(run_case(decider, started(case, pack), pack.invariants) for case in cases)
    return PackTestRun(pack, files, results, tuple(problems))


def started(case: Case, pack: PolicyPack) -> Case:
    """``case`` with the commands of its starting point (if it names one) run first."""
    if case.start is None:
        return case
    leading = start_steps(case.start, case.supplier_id, pack)
    return attrs.evolve(case, steps=(*leading, *case.steps))


def _parse(path: Path) -> CaseFile:
    # Bytes, then UTF-8: the same text on every platform, whatever its locale.
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        problem = PackError(str(path), line, 1, "not valid UTF-8 text")
        return CaseFile(str(path), (), (problem,))
    return parse_case_file(text, str(path))


def _unknown_rules(pack: PolicyPack, cases: Iterable[Case]) -> Iterable[PackError]:
    known = {r.id for r in pack.rules}
    for case in cases:
        for key in ("fired", "not_fired"):
            unknown = [rid for rid in getattr(case.expect, key) if rid not in known]
            if unknown:
                line, column = case.expect.where.get(key, (case.line, 1))
                message = (
                    f"case {case.name!r}: {key} names {', '.join(unknown)}, not a rule of"
                    f" pack {pack.name} (its rules: {', '.join(sorted(known))})"
                )
                yield PackError(case.file, line, column, message)


def _unknown_invariants(pack: PolicyPack, cases: Iterable[Case]) -> Iterable[PackError]:
    known = {i.id for i in pack.invariants}
    for case in cases:
        unknown = [iid for iid in case.expect.invariants if iid not in known]
        if unknown:
            line, column = case.expect.where.get("invariants", (case.line, 1))
            listed = ", ".join(sorted(known)) or "none"
            message = (
                f"case {case.name!r}: invariants names {', '.join(unknown)}, not an invariant"
                f" of pack {pack.name} (its invariants: {listed})"
            )
            yield PackError(case.file, line, column, message)


class _StepClock:
    """The store's clock during a case: the time of the command being run."""

    def __init__(self) -> None:
        self.now = datetime(1970, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def run_case(policy: Policy, case: Case, invariants: Sequence[Invariant] = ()) -> CaseResult:
    """Run one case's commands through the application service and compare the outcome.

    The ``invariants`` the case names in ``expect.invariants`` are checked after every
    command; the first one broken fails the case there.
    """
    watch = InvariantWatch([i for i in invariants if i.id in case.expect.invariants])
    clock = _StepClock()
    store = MemoryEventStore(clock=clock)
    service = SupplierService(store, lambda: policy)
    needs = NeedService(store, lambda: policy, service)
    # The commands of a starting point (see ``started``) come first, one per point passed.
    start_count = STARTING_POINTS.index(case.start.point) + 1 if case.start else 0
    decisions: list[Decision] = []
    no_effect: dict[str, str] = {}  # rule id -> why its action could not apply (the latest)
    told: list[Event] = []  # escalations and notifications, in order
    failures: list[str] = []
    for index, step in enumerate(case.steps, start=1):
        command = cast(Command, step.item)  # a case file holds commands only
        clock.now = command.occurred_at
        name = f"command {index} ({type(command).__name__}, line {step.line})"
        context = RequestContext(f"{TEST_ACTOR}:{index}", TEST_ACTOR)
        if isinstance(step.item, _NEED_COMMANDS):
            failure = _run_need_step(needs, step, context, decisions)
            if failure:
                failures.append(f"{name} {failure}")
                break
            continue
        try:
            result = service.execute(command, context)
        except DomainError as error:
            if step.expect_error and error.reason == step.expect_error:
                continue
            if case.expect.invariants and not step.expect_error:
                continue  # a property case: another pack may refuse what this one took
            failures.append(f"{name} was refused: {error.reason}: {error}")
            break
        except Exception as error:  # one broken case must not stop the run
            failures.append(f"{name} failed: {type(error).__name__}: {error}")
            break
        if step.expect_error:
            failures.append(f"{name} was accepted; expected it refused with {step.expect_error}")
        _collect(result, decisions, no_effect)
        told.extend(e for e in result.decided if isinstance(e, Escalated | NotificationIssued))
        broken = watch.after(command, result)
        if broken:
            failures.append(f"{name} broke {broken}")
            break
        missed = _start_missed(case, result) if index == start_count else ""
        if missed:
            failures.append(missed)
            break
    fired = tuple(dict.fromkeys(d.rule_id for d in decisions if d.fired))
    if not failures:
        failures.extend(_compare(case, service, decisions, fired, no_effect, told_events=told))
    return CaseResult(case, fired, tuple(failures))


_NEED_COMMANDS = tuple(NEED_COMMAND_TYPES.values())


def _run_need_step(
    needs: NeedService, step: Step, context: RequestContext, decisions: list[Decision]
) -> str:
    """Run a need's command; keep the selection rules' decisions (those that refused it
    too); what went wrong, or "".
    """
    command = cast(NeedCommand, step.item)
    try:
        result = needs.execute(command, context)
    except DomainError as error:
        if step.expect_error and error.reason == step.expect_error:
            decisions.extend(getattr(error, "decisions", ()))
            return ""
        return f"was refused: {error.reason}: {error}"
    if step.expect_error:
        return f"was accepted; expected it refused with {step.expect_error}"
    notices = (need_event(r) for r in result.events)
    decisions.extend(e.decision for e in notices if isinstance(e, NeedNoticeIssued))
    return ""


def _collect(result: CommandResult, decisions: list[Decision], no_effect: dict[str, str]) -> None:
    """Keep the command's decisions; those without effect go to ``no_effect``, with why."""
    for event in result.decided:
        if isinstance(event, DecisionRecorded):
            if event.no_effect:
                no_effect[event.decision.rule_id] = event.no_effect
            else:
                decisions.append(event.decision)


def _start_missed(case: Case, result: CommandResult) -> str:
    """Why the case's starting point was not reached by its commands, or ""."""
    start, reached = case.start, result.supplier.lifecycle
    if start is None or reached is start.point:
        return ""
    return (
        f"the start (line {start.line}) did not reach {start.point}: the supplier is"
        f" {reached} after it; the pack does not let a supplier with full marks, every"
        " required certificate and a passed audit through"
    )


class InvariantWatch:
    """Checks invariants after each command of a case, keeping the supplier's history."""

    def __init__(self, invariants: Sequence[Invariant]) -> None:
        self._invariants = tuple(invariants)
        self._before: SupplierState | None = None
        self._history: list[Event] = []

    def after(self, command: Command, result: CommandResult) -> str:
        """The first invariant ``command`` broke, described, or "" when all hold."""
        if not self._invariants:
            return ""
        events = tuple(event_from_payload(e.event_type, e.payload) for e in result.events)
        self._history.extend(events)
        checkpoint = Checkpoint(
            command.occurred_at,
            type(command).__name__,
            self._before,
            result.supplier,
            events,
            self._history,
        )
        self._before = result.supplier
        for invariant in self._invariants:
            why = violation(invariant, checkpoint)
            if why:
                return f"{invariant.id} ({invariant.title}): {why}"
        return ""


def _compare(
    case: Case,
    service: SupplierService,
    decisions: Sequence[Decision],
    fired: Sequence[str],
    no_effect: Mapping[str, str],
    *,
    told_events: Sequence[Event] = (),
) -> list[str]:
    expect = case.expect
    try:
        state = service.get(case.supplier_id)
    except DomainError as error:
        return [f"no supplier to check: {error}"]
    failures: list[str] = []
    if expect.state is not None and state.lifecycle is not expect.state:
        failures.extend(_diff("state", expect.state.value, state.lifecycle.value))
    missing = [rid for rid in expect.fired if rid not in fired]
    if missing:
        failures.extend(_diff("fired", f"{', '.join(expect.fired)} (at least)", _ids(fired)))
        failures.extend(_why_not(rid, decisions, no_effect) for rid in missing)
    unwanted = [rid for rid in expect.not_fired if rid in fired]
    if unwanted:
        failures.extend(_diff("not fired", ", ".join(expect.not_fired), _ids(fired)))
        failures.extend(_why_fired(rid, decisions) for rid in unwanted)
    if expect.penalties is not None:
        actual = [converter.unstructure(p) for p in getattr(state, "penalties", ())]
        failures.extend(_penalty_diff(expect.penalties, actual))
    for what, wanted, kind in (
        ("escalated", expect.escalated, Escalated),
        ("notified", expect.notified, NotificationIssued),
    ):
        if wanted is not None:
            told = [converter.unstructure(e) for e in told_events if isinstance(e, kind)]
            failures.extend(_penalty_diff(wanted, told, what))
    return failures


def _diff(what: str, expected: str, actual: str) -> list[str]:
    return [f"{what:<10} expected {expected}", f"{'':<10} actual   {actual}"]


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids) or _NOTHING


def _why_not(rule_id: str, decisions: Sequence[Decision], no_effect: Mapping[str, str]) -> str:
    if rule_id in no_effect:
        return f"{'':<10} {rule_id} matched but had {no_effect[rule_id]}"
    latest = next((d for d in reversed(decisions) if d.rule_id == rule_id), None)
    if latest is None:
        return f"{'':<10} {rule_id} was never explained (other rules fired, or it was not asked)"
    return f"{'':<10} {rule_id} did not fire: {latest.message}"


def _why_fired(rule_id: str, decisions: Sequence[Decision]) -> str:
    first = next(d for d in decisions if d.rule_id == rule_id and d.fired)
    return f"{'':<10} {rule_id} fired: {first.message}"


# --- penalties ---------------------------------------------------------------------------


def _penalty_diff(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Any], what: str = "penalties"
) -> list[str]:
    mismatched = len(expected) != len(actual) or any(
        not _matches(e, a) for e, a in zip(expected, actual, strict=False)
    )
    if not mismatched:
        return []
    lines = [f"{what:<10} expected {len(expected)}, actual {len(actual)}"]
    for index in range(max(len(expected), len(actual))):
        want = _penalty_text(expected[index]) if index < len(expected) else _NOTHING
        got = _penalty_text(actual[index]) if index < len(actual) else _NOTHING
        mark = (
            " "
            if index < min(len(expected), len(actual)) and _matches(expected[index], actual[index])
            else "!"
        )
        lines.append(f"{'':<10} {mark} [{index + 1}] expected {want}")
        lines.append(f"{'':<10}   [{index + 1}] actual   {got}")
    return lines


def _matches(expected: Any, actual: Any) -> bool:
    """True when every field given in ``expected`` has the same value in ``actual``."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(actual, Mapping) and {"amount", "currency"} <= actual.keys():
        return _same_money(expected, actual)
    expected_number, actual_number = _decimal(expected), _decimal(actual)
    if expected_number is not None and actual_number is not None:
        return expected_number == actual_number
    return str(expected) == str(actual)


def _same_money(expected: Any, actual: Mapping[str, Any]) -> bool:
    # "5000.00 CNY", or just "5000" when the currency goes without saying.
    amount, _, currency = str(expected).partition(" ")
    same_amount = _decimal(amount) == _decimal(actual["amount"])
    return same_amount and (not currency or currency == actual["currency"])


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _penalty_text(value: Mapping[str, Any]) -> str:
    parts = []
    for key, field in value.items():
        shown = field
        if isinstance(field, Mapping) and {"amount", "currency"} <= field.keys():
            shown = f"{field['amount']} {field['currency']}"
        if shown not in ("", None):
            parts.append(f"{key}={shown}")
    return " ".join(parts) or _NOTHING


# --- the report ----------------------------------------------------------------------------


def report(run: PackTestRun) -> list[str]:
    """The run in words: problems, then PASS/FAIL per case with diffs, counts, coverage."""
    lines = [f"{p.file}:{p.line}:{p.column}: error: {p.message}" for p in run.problems]
    by_file: dict[str, list[CaseResult]] = {}
    for result in run.results:
        by_file.setdefault(result.case.file, []).append(result)
    for file, results in by_file.items():
        lines.append(file)
        for result in results:
            verdict = "PASS" if result.passed else "FAIL"
            where = "" if result.passed else f"  ({file}:{result.case.line})"
            lines.append(f"  {verdict}  {result.case.name}{where}")
            lines.extend(f"        {failure}" for failure in result.failures)
    lines.append(_summary(run))
    lines.append(coverage_line(run))
    return lines


def _summary(run: PackTestRun) -> str:
    if not run.results:
        where = ", ".join(f.file for f in run.files) or "tests/*.yaml"
        return f"no test cases found (looked in {where})"
    cases = len(run.results)
    noun = "case" if cases == 1 else "cases"
    return f"{cases} {noun}: {cases - run.failed} passed, {run.failed} failed"


def coverage_line(run: PackTestRun) -> str:
    """``covered 3/3 rules``, or ``covered 2/3 rules; not covered: QUAL-003``."""
    total = len(run.pack.rules)
    line = f"covered {len(run.covered)}/{total} rules"
    if run.not_covered:
        line += f"; not covered: {', '.join(run.not_covered)}"
    return line
