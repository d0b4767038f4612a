"""docs/process.md maps every step of the operator's process to what runs it; the names stay true.

Each row of its tables names a step of the process document, then, in backticks, the API
methods, the recorded events, the facts and the rules (or promises) of the default pack that
govern it. A rename or a removal anywhere makes this fail, so the map cannot drift from the
service it describes.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from sqm.domain.events import EVENT_TYPES
from sqm.domain.needs import NEED_EVENT_TYPES
from sqm.domain.policy_changes import POLICY_CHANGE_EVENT_TYPES
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.catalogue import CATALOGUE
from sqm.v1 import (
    admin_service_pb2,
    audit_service_pb2,
    policy_service_pb2,
    supplier_service_pb2,
)

PROCESS_MAP = Path(__file__).resolve().parents[2] / "docs" / "process.md"

# The operator's process document, section by section: selection 1.1-1.6, delivery 2.1-2.4,
# monitoring 3.1-3.4, improvement 4.1-4.4, records (四), liability (五.1-五.3), optimisation (六).
STEPS = (
    *(f"1.{n}" for n in range(1, 7)),
    *(f"2.{n}" for n in range(1, 5)),
    *(f"3.{n}" for n in range(1, 5)),
    *(f"4.{n}" for n in range(1, 5)),
    "四",
    *(f"五.{n}" for n in range(1, 4)),
    "六",
)
COLUMNS = ("step", "methods", "events", "facts", "rules")


@attrs.frozen
class Row:
    """One step and the names that govern it."""

    step: str
    names: dict[str, tuple[str, ...]]


def _rows() -> list[Row]:
    rows = []
    for line in PROCESS_MAP.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != len(COLUMNS) or not re.match(r"^(\d\.\d|四|五\.\d|六) ", cells[0]):
            continue
        names = {
            column: tuple(re.findall(r"`([^`]+)`", cell))
            for column, cell in zip(COLUMNS[1:], cells[1:], strict=True)
        }
        rows.append(Row(cells[0].split(" ")[0], names))
    return rows


ROWS = _rows()


def _methods() -> set[str]:
    files = (supplier_service_pb2, policy_service_pb2, audit_service_pb2, admin_service_pb2)
    return {
        method.name
        for module in files
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


def _events() -> set[str]:
    return {*EVENT_TYPES, *NEED_EVENT_TYPES, *POLICY_CHANGE_EVENT_TYPES}


def _facts_and_rules() -> tuple[set[str], set[str]]:
    pack = load_pack(default_pack_dir())
    facts = set(CATALOGUE) | {window.id for window in pack.windows}
    rules = {rule.id for rule in pack.rules} | {promise.id for promise in pack.invariants}
    return facts, rules


def test_every_step_of_the_process_document_is_mapped_once() -> None:
    """Every step, in the document's order, and nothing else."""
    assert [row.step for row in ROWS] == list(STEPS)


UNGOVERNED: set[str] = set()
"""Steps no rule of the default pack acts on yet; docs/process.md says so under each. A step
that gains a rule must leave this set (the test below fails until it does)."""


def test_every_step_but_the_stated_gaps_is_governed_by_a_rule_of_the_default_pack() -> None:
    """No step is only a logbook, but for the gaps the map states."""
    ungoverned = {row.step for row in ROWS if not row.names["rules"]}
    assert ungoverned == UNGOVERNED


@pytest.mark.parametrize("column", COLUMNS[1:])
def test_every_name_the_map_gives_exists(column: str) -> None:
    """Methods in the protos, events in the domain, facts and rules in the default pack."""
    facts, rules = _facts_and_rules()
    known = {"methods": _methods(), "events": _events(), "facts": facts, "rules": rules}[column]
    unknown = {
        f"{row.step}: {name}" for row in ROWS for name in row.names[column] if name not in known
    }
    assert not unknown


def test_every_rule_of_the_default_pack_appears_in_the_map() -> None:
    """A rule the map leaves out governs a step nobody can find."""
    _, rules = _facts_and_rules()
    mapped = {name for row in ROWS for name in row.names["rules"]}
    assert rules <= mapped, sorted(rules - mapped)
