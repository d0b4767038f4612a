"""Policy test files: scenarios kept beside a pack's rules, in ``tests/*.yaml``.

::

    format: sqm.policy-test/v1
    cases:
      - name: a complete network-equipment candidate is qualified
        supplier: huawei-nx                   # fills supplier_id where a command has one
        commands:
          - type: RegisterSupplier            # a name from sqm.domain.commands.COMMAND_TYPES
            name: 华为网络设备有限公司
            category: network_equipment
            occurred_at: 2026-03-02T09:00:00Z # RFC 3339, with an offset: time is explicit
          - type: SubmitQualificationEvidence
            occurred_at: 2026-03-02T10:00:00Z
            scores: {capability: 85, price: 78, ...}
            site_audit_passed: true
          - type: SubmitQualificationEvidence
            occurred_at: 2026-03-03T10:00:00Z
            scores: {capabilty: 90}
            expect_error: INVALID_ARGUMENT    # optional: refused, with this error reason
        expect:
          state: qualified                    # the supplier's lifecycle state at the end
          fired: [QUAL-001]                   # each must fire at least once
          not_fired: [QUAL-002, QUAL-003]     # none may fire
          penalties:                          # optional: the ledger at the end, in order,
            - {rule_id: PEN-001, amount: "5000.00"}   # each listed field must match
          escalated:                          # optional: the escalations recorded, in order
            - {rule_id: MON-012, to: procurement_director}
          notified: []                        # optional: the notifications, likewise
          invariants: [INV-001]               # optional: must hold after every command;
                                              # then a refused command is not a failure

Instead of the commands that bring a supplier to where a case begins, a case may name a
starting point (起点)::

      - name: a critical breach opens a review
        supplier: ns-1
        start:
          from: contracted                    # candidate, qualified or contracted
          category: network_services
          at: 2026-01-06T09:00:00Z            # when the supplier got there
          monthly_fee: "100000.00 CNY"        # contracted only; these are the defaults
          liability_limit: "1000000.00 CNY"
        commands: [...]                       # may then be empty

``qualified`` submits full marks for every criterion of the pack, every certificate the
pack requires of the category (valid from a year before ``at`` to three years after) and a
passed site audit; ``contracted`` then signs a contract with the category's default
objectives. These are ordinary commands run through the pack, an hour apart and ending at
``at``; a pack that does not let such a supplier through fails the case at once, saying so.

Commands are structured from their YAML fields with the domain's own converter, whatever
the command type: a command added to the domain is usable in test files at once. Every
problem is located at ``file:line:column``. The file is parsed without a pack; the runner
(``sqm.server.app.policy_tests``) checks rule ids against the pack it runs.
"""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)

from sqm.domain.commands import (
    COMMAND_TYPES,
    Command,
    RegisterSupplier,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.events import EVENT_TYPES, Event
from sqm.domain.model import Certificate, LifecycleState, Money
from sqm.domain.needs import NEED_COMMAND_TYPES
from sqm.domain.pack_catalogue import CategoryId
from sqm.domain.serialization import converter, parse_time
from sqm.rules.errors import PackError, Problems
from sqm.rules.model import PolicyPack
from sqm.rules.yaml_source import DocPath, SourceDoc, describe_value, parse_yaml

TEST_FORMAT = "sqm.policy-test/v1"
"""The ``format:`` of a policy test file."""
TEST_FOLDER = "tests"
"""Where a pack keeps its test files (not part of the pack's version)."""
TEST_SUFFIXES = (".yaml", ".yml")

_CASE_COMMANDS: Mapping[str, type[Any]] = {**COMMAND_TYPES, **NEED_COMMAND_TYPES}
"""A case's commands: a supplier's, and a need's (its selection rules run on them)."""
_FILE_KEYS = ("format", "description", "shared", "cases")
_CASE_KEYS = ("name", "description", "supplier", "start", "commands", "expect")
_START_KEYS = ("from", "category", "at", "name", "monthly_fee", "liability_limit")
STARTING_POINTS = (LifecycleState.CANDIDATE, LifecycleState.QUALIFIED, LifecycleState.CONTRACTED)
"""Where a case may start instead of giving the commands that lead there."""
_EXPECT_KEYS = ("state", "fired", "not_fired", "penalties", "escalated", "notified", "invariants")
_STEP_KEYS = ("type", "expect_error")


@attrs.frozen
class Step:
    """One command (or, in a history file, one event) with where it was written."""

    item: Command | Event
    line: int
    column: int
    expect_error: str = ""


@attrs.frozen
class Expectation:
    """What must be true once a case's commands have run; None/empty means "not checked"."""

    state: LifecycleState | None = None
    fired: tuple[str, ...] = ()
    not_fired: tuple[str, ...] = ()
    penalties: tuple[Mapping[str, Any], ...] | None = None
    escalated: tuple[Mapping[str, Any], ...] | None = None
    """The escalations recorded during the case, in order (``{rule_id, to, message}``)."""
    notified: tuple[Mapping[str, Any], ...] | None = None
    """The notifications recorded during the case, likewise."""
    invariants: tuple[str, ...] = ()
    """Invariants of the pack that must hold after every command of the case."""
    where: Mapping[str, tuple[int, int]] = attrs.field(factory=dict, eq=False)
    """Where each expectation was written (``"fired"`` -> line, column)."""


DEFAULT_FEE = Money(Decimal("100000.00"), "CNY")
DEFAULT_LIABILITY = Money(Decimal("1000000.00"), "CNY")


@attrs.frozen
class Start:
    """A named starting point: the supplier as if its history had led there by ``at``."""

    point: LifecycleState
    category: CategoryId
    at: datetime
    line: int
    name: str = ""
    monthly_fee: Money = DEFAULT_FEE
    liability_limit: Money = DEFAULT_LIABILITY


@attrs.frozen
class Case:
    """One scenario: a supplier's commands and what must follow from them."""

    name: str
    file: str
    line: int
    supplier_id: str
    steps: tuple[Step, ...]
    expect: Expectation
    start: Start | None = None


def start_steps(start: Start, supplier_id: str, pack: PolicyPack) -> tuple[Step, ...]:
    """The commands that bring a new supplier to ``start`` under ``pack``, ending at its time."""
    hour = timedelta(hours=1)
    points = STARTING_POINTS.index(start.point)
    first = start.at - points * hour
    name = start.name or supplier_id
    commands: list[Command] = [RegisterSupplier(supplier_id, name, start.category, first)]
    if points >= 1:
        certificates = tuple(
            Certificate(
                kind,
                f"TEST-{kind}",
                "policy test start",
                start.at - timedelta(days=365),
                start.at + timedelta(days=3 * 365),
            )
            for kind in pack.certificates.for_category(start.category)
        )
        scores = dict.fromkeys(pack.criterion_ids, 100.0)
        commands.append(
            SubmitQualificationEvidence(supplier_id, first + hour, scores, certificates, True)
        )
    if points >= 2:
        commands.append(
            SignContract(
                supplier_id,
                f"CT-{supplier_id}",
                start.at,
                start.monthly_fee,
                start.liability_limit,
            )
        )
    return tuple(Step(command, start.line, 1) for command in commands)


@attrs.frozen
class CaseFile:
    """A parsed test file: its cases, and every problem found in it (located)."""

    file: str
    cases: tuple[Case, ...] = ()
    problems: tuple[PackError, ...] = ()


@attrs.frozen
class History:
    """A supplier's history from a file, for ``sqm policy explain --events``."""

    supplier_id: str
    steps: tuple[Step, ...] = ()
    problems: tuple[PackError, ...] = ()


def discover(pack_dir: Path) -> list[Path]:
    """The test files of the pack in ``pack_dir``, in name order."""
    folder = pack_dir / TEST_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in TEST_SUFFIXES)


def parse_case_file(text: str, file: str) -> CaseFile:
    """Parse a test file; problems are collected, cases with problems are left out."""
    doc, errors = parse_yaml(text, file)
    problems = Problems()
    problems.extend(errors)
    if doc is None:
        return CaseFile(file, (), problems.errors)
    if not isinstance(doc.data, dict):
        problems.add(doc.error((), "expected a mapping with 'format' and 'cases'"))
        return CaseFile(file, (), problems.errors)
    _check_keys(doc, (), _FILE_KEYS, problems)
    fmt = doc.data.get("format", TEST_FORMAT)
    if fmt != TEST_FORMAT:
        problems.add(doc.error(("format",), f"expected {TEST_FORMAT!r}, got {fmt!r}"))
    cases = doc.data.get("cases")
    if not isinstance(cases, list):
        problems.add(doc.error(("cases",), "expected a list of test cases"))
        return CaseFile(file, (), problems.errors)
    parsed = [_case(doc, ("cases", index), problems) for index in range(len(cases))]
    _check_unique_names(doc, parsed, problems)
    return CaseFile(file, tuple(c for c in parsed if c is not None), problems.errors)


def parse_history(text: str, file: str) -> History:
    """Parse a history file: a list of commands and events (or ``{supplier, events}``), or
    a policy test file with one case (a counterexample from ``sqm simulate check``).
    """
    doc, errors = parse_yaml(text, file)
    problems = Problems()
    problems.extend(errors)
    if doc is None:
        return History("", (), problems.errors)
    if isinstance(doc.data, dict) and doc.data.get("format") == TEST_FORMAT:
        return _history_of_case(parse_case_file(text, file))
    path: DocPath = ()
    supplier = ""
    if isinstance(doc.data, dict):
        _check_keys(doc, (), ("supplier", "events", "commands"), problems)
        supplier = str(doc.data.get("supplier", ""))
        path = ("events",) if "events" in doc.data else ("commands",)
    items = doc.get(path) if _exists(doc, path) else None
    if not isinstance(items, list):
        problems.add(doc.error(path, "expected a list of commands or events, each with a 'type'"))
        return History(supplier, (), problems.errors)
    kinds: Mapping[str, type[Any]] = {**COMMAND_TYPES, **EVENT_TYPES}
    steps = [_step(doc, (*path, i), supplier, kinds, problems) for i in range(len(items))]
    found = tuple(s for s in steps if s is not None)
    if not supplier:
        supplier = next((s.item.supplier_id for s in found if hasattr(s.item, "supplier_id")), "")
    return History(supplier, found, problems.errors)


def _history_of_case(parsed: CaseFile) -> History:
    if len(parsed.cases) != 1 or parsed.problems:
        problems = list(parsed.problems)
        if not problems:
            count = len(parsed.cases)
            problems.append(PackError(parsed.file, 1, 1, f"expected one case, found {count}"))
        return History("", (), tuple(problems))
    case = parsed.cases[0]
    return History(case.supplier_id, case.steps)


def _exists(doc: SourceDoc, path: DocPath) -> bool:
    return not path or (isinstance(doc.data, dict) and path[0] in doc.data)


def _case(doc: SourceDoc, path: DocPath, problems: Problems) -> Case | None:
    data = doc.get(path)
    if not isinstance(data, dict):
        problems.add(doc.error(path, "expected a test case: a mapping with 'name', 'commands'"))
        return None
    before = len(problems.errors)
    _check_keys(doc, path, _CASE_KEYS, problems)
    name = _text(doc, (*path, "name"), problems, required=True)
    supplier = _text(doc, (*path, "supplier"), problems)
    start = _start(doc, (*path, "start"), problems) if "start" in data else None
    if start is not None and not supplier:
        problems.add(doc.error((*path, "start"), "a case with a start needs 'supplier'"))
    commands = data.get("commands", [] if "start" in data else None)
    steps: list[Step | None] = []
    if not isinstance(commands, list) or (not commands and "start" not in data):
        problems.add(doc.error((*path, "commands"), "expected a non-empty list of commands"))
    else:
        steps = [
            _step(doc, (*path, "commands", i), supplier, _CASE_COMMANDS, problems)
            for i in range(len(commands))
        ]
    expect = _expectation(doc, (*path, "expect"), problems)
    if len(problems.errors) > before or expect is None:
        return None
    found = tuple(s for s in steps if s is not None)
    supplier_id = supplier or next(
        (s.item.supplier_id for s in found if hasattr(s.item, "supplier_id")), ""
    )
    return Case(name, doc.file, doc.position(path)[0], supplier_id, found, expect, start)


def _start(doc: SourceDoc, path: DocPath, problems: Problems) -> Start | None:
    data = doc.get(path)
    if not isinstance(data, dict):
        problems.add(doc.error(path, "expected a mapping with 'from', 'category' and 'at'"))
        return None
    before = len(problems.errors)
    _check_keys(doc, path, _START_KEYS, problems)
    for key in ("from", "category", "at"):
        if key not in data:
            problems.add(doc.error(path, f"a start needs {key!r}"))
    if len(problems.errors) > before:
        return None
    point = _member(doc, (*path, "from"), LifecycleState, "starting point", problems)
    if point is not None and point not in STARTING_POINTS:
        listed = ", ".join(p.value for p in STARTING_POINTS)
        problems.add(doc.error((*path, "from"), f"a case can start from {listed}, not {point}"))
    # An id of the pack's catalogue: registering the supplier checks it against the pack.
    category = _text(doc, (*path, "category"), problems, required=True)
    fields: dict[str, Any] = {}
    for key, kind in (("at", datetime), ("monthly_fee", Money), ("liability_limit", Money)):
        if key in data:
            try:
                value = data[key]
                fields[key] = (
                    _money(value) if kind is Money else _converter().structure(value, kind)
                )
            except (TypeError, ValueError, InvalidOperation) as error:
                problems.add(doc.error((*path, key), str(error) or "not a valid value"))
    name = _text(doc, (*path, "name"), problems)
    if len(problems.errors) > before:
        return None
    return Start(point, category, line=doc.position(path)[0], name=name, **fields)


def _money(value: Any) -> Money:
    # "100000.00 CNY": the amount and its currency, as people write them.
    amount, _, currency = str(value).partition(" ")
    if not currency.strip():
        raise ValueError(f"write an amount with its currency, like '100000.00 CNY', not {value!r}")
    return Money(Decimal(amount), currency.strip())


def _check_unique_names(doc: SourceDoc, cases: list[Case | None], problems: Problems) -> None:
    seen: dict[str, int] = {}
    for index, case in enumerate(cases):
        if case is None:
            continue
        if case.name in seen:
            message = f"duplicate test case name {case.name!r} (first on line {seen[case.name]})"
            problems.add(doc.error(("cases", index, "name"), message))
        seen.setdefault(case.name, case.line)


def _expectation(doc: SourceDoc, path: DocPath, problems: Problems) -> Expectation | None:
    data = doc.get(path[:-1]).get(path[-1])
    if data is None:
        problems.add(doc.error(path[:-1], "missing 'expect': say what must follow", key=False))
        return None
    if not isinstance(data, dict) or not data:
        problems.add(doc.error(path, f"expected a mapping with any of: {', '.join(_EXPECT_KEYS)}"))
        return None
    _check_keys(doc, path, _EXPECT_KEYS, problems)
    state = None
    if "state" in data:
        state = _member(doc, (*path, "state"), LifecycleState, "lifecycle state", problems)
    return Expectation(
        state=state,
        fired=_ids(doc, (*path, "fired"), problems),
        not_fired=_ids(doc, (*path, "not_fired"), problems),
        penalties=_mappings(doc, (*path, "penalties"), problems),
        escalated=_mappings(doc, (*path, "escalated"), problems),
        notified=_mappings(doc, (*path, "notified"), problems),
        invariants=_ids(doc, (*path, "invariants"), problems),
        where={key: doc.position((*path, key)) for key in data if key in _EXPECT_KEYS},
    )


def _mappings(
    doc: SourceDoc, path: DocPath, problems: Problems
) -> tuple[Mapping[str, Any], ...] | None:
    """A list of mappings (each listed field must match), or None when not given."""
    value = doc.get(path[:-1]).get(path[-1])
    if value is None:
        return None
    if not (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
        problems.add(doc.error(path, "expected a list of mappings"))
        return None
    return tuple(value)


def _ids(doc: SourceDoc, path: DocPath, problems: Problems) -> tuple[str, ...]:
    value = doc.get(path[:-1]).get(path[-1], [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(doc.error(path, f"expected a list of rule ids, got {describe_value(value)}"))
        return ()
    return tuple(value)


def _text(doc: SourceDoc, path: DocPath, problems: Problems, *, required: bool = False) -> str:
    value = doc.get(path[:-1]).get(path[-1])
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.add(doc.error(path, f"expected text, got {describe_value(value)}"))
        return ""
    return value


def _member(
    doc: SourceDoc, path: DocPath, kind: type[enum.StrEnum], what: str, problems: Problems
) -> Any:
    value = doc.get(path)
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(m.value for m in kind)
        problems.add(doc.error(path, f"unknown {what} {value!r}; expected one of: {expected}"))
        return None


def _check_keys(
    doc: SourceDoc, path: DocPath, allowed: tuple[str, ...], problems: Problems
) -> None:
    for key in doc.get(path):
        if key not in allowed:
            message = f"unknown key {key!r}; expected one of: {', '.join(allowed)}"
            problems.add(doc.error((*path, key), message, key=True))


# --- commands and events from YAML ------------------------------------------------------


def _step(
    doc: SourceDoc,
    path: DocPath,
    supplier: str,
    kinds: Mapping[str, type[Any]],
    problems: Problems,
) -> Step | None:
    data = doc.get(path)
    if not isinstance(data, dict):
        problems.add(doc.error(path, "expected a mapping with a 'type' and the fields"))
        return None
    type_name = data.get("type")
    cls = kinds.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        message = f"unknown type {type_name!r}; expected one of: {', '.join(kinds)}"
        problems.add(doc.error((*path, "type"), message))
        return None
    fields = {k: v for k, v in data.items() if k not in _STEP_KEYS}
    names = [f.name for f in attrs.fields(cls)]
    if "supplier_id" in names and "supplier_id" not in fields and supplier:
        fields["supplier_id"] = supplier
    before = len(problems.errors)
    _check_fields(doc, path, cls, fields, problems)
    if len(problems.errors) > before:
        return None
    try:
        item = _converter().structure(fields, cls)
    except Exception as error:  # every structuring failure is reported, located
        for where, leaf in _leaves(error, path):
            problems.add(doc.error(where, _describe(leaf)))
        return None
    expect_error = data.get("expect_error", "")
    line, column = doc.position(path)
    return Step(item, line, column, str(expect_error))


def _check_fields(
    doc: SourceDoc, path: DocPath, cls: type[Any], fields: Mapping[str, Any], problems: Problems
) -> None:
    known = {f.name: f for f in attrs.fields(cls)}
    for key in fields:
        if key not in known:
            expected = ", ".join(["type", *known, "expect_error"])
            message = f"unknown field {key!r} for {cls.__name__}; expected one of: {expected}"
            problems.add(doc.error((*path, key), message, key=True))
    for name, field in known.items():
        if name not in fields and field.default is attrs.NOTHING:
            needed = ", ".join(n for n, f in known.items() if f.default is attrs.NOTHING)
            message = f"{cls.__name__} needs the field {name!r} (its required fields: {needed})"
            problems.add(doc.error(path, message))


@cache
def _converter() -> cattrs.Converter:
    """The domain's converter, stricter about what YAML gives it, and with YAML's times."""
    strict = converter.copy()
    strict.register_structure_hook(datetime, _time)
    strict.register_structure_hook(bool, _bool)
    strict.register_structure_hook(float, _number(float))
    strict.register_structure_hook(int, _number(int))
    strict.register_structure_hook(str, _str)
    strict.register_structure_hook_func(_is_enum, _enum)
    return strict


def _time(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                f"time {value.isoformat()} has no UTC offset; write it like 2026-03-02T09:00:00Z"
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        raise ValueError(f"{value.isoformat()} is a date; give a time, like {value}T09:00:00Z")
    if isinstance(value, str):
        return parse_time(value)
    raise TypeError(f"expected an RFC 3339 time, got {describe_value(value)}")


def _bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {describe_value(value)}")


def _number(kind: type[float] | type[int]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {describe_value(value)}")
        if kind is int and value != int(value):
            raise TypeError(f"expected a whole number, got {value!r}")
        return kind(value)

    return structure


def _str(value: Any, kind: Any) -> Any:
    if _is_enum(kind):  # a StrEnum is a str: it arrives here, not at the enum hook
        return _enum(value, kind)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected text, got {describe_value(value)}")
    return str(value)


def _is_enum(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, enum.Enum)


def _enum(value: Any, kind: type[enum.Enum]) -> enum.Enum:
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(str(m.value) for m in kind)
        raise ValueError(
            f"unknown {kind.__name__} {value!r}; expected one of: {expected}"
        ) from None


_KEY_NOTE = re.compile(r"@ key (?P<key>.+)$")


def _leaves(error: BaseException, path: DocPath) -> Iterator[tuple[DocPath, BaseException]]:
    """Each innermost failure of a structuring error, with the YAML path it concerns."""
    if not isinstance(error, ClassValidationError | IterableValidationError):
        yield path, error
        return
    with_notes, without = error.group_exceptions()
    for inner, note in with_notes:
        yield from _leaves(inner, (*path, *_note_path(note)))
    for inner in without:
        yield from _leaves(inner, path)


def _note_path(note: object) -> DocPath:
    if isinstance(note, AttributeValidationNote):
        return (note.name,)
    if isinstance(note, IterableValidationNote):
        return (note.index,) if isinstance(note.index, int) else (str(note.index),)
    match = _KEY_NOTE.search(str(note))
    if match is None:
        return ()
    try:
        key = ast.literal_eval(match["key"])
    except (ValueError, SyntaxError):
        return ()
    return (key,) if isinstance(key, str | int) else ()


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    if isinstance(error, ValueError | TypeError):
        return str(error)
    return f"{type(error).__name__}: {error}"
