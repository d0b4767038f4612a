"""Scenario files for ``sqm simulate run``: the rates a supplier population lives by.

A file is checked against ``rules/schema/simulation-scenario.schema.json`` and every problem
is reported at ``file:line:column``, as pack files are; keys it leaves out keep the baseline's
values (:class:`sqm.simulation.impact.Rates`, written out in docs/scenarios/baseline.yaml).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqm.domain.serialization import format_time
from sqm.rules.errors import PackError
from sqm.rules.schema_check import schema_errors
from sqm.rules.yaml_source import parse_yaml
from sqm.simulation.impact import Rates

SCENARIO_SCHEMA = "simulation-scenario.schema.json"
_NOT_RATES = ("format", "description")


class ScenarioInvalid(Exception):
    """A scenario file that cannot be used; ``problems`` are located."""

    def __init__(self, problems: tuple[PackError, ...]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_rates(path: str | Path) -> Rates:
    """The rates in the scenario file at ``path``; raises ``ScenarioInvalid``."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioInvalid((PackError(name, 0, 0, f"cannot read: {error}"),)) from None
    doc, errors = parse_yaml(text, name)
    if doc is None:
        raise ScenarioInvalid(tuple(errors))
    if isinstance(doc.data, dict) and isinstance(doc.data.get("start"), datetime):
        doc.data["start"] = format_time(doc.data["start"])  # YAML reads an unquoted time
    problems = (*errors, *schema_errors(doc, SCENARIO_SCHEMA))
    if problems:
        raise ScenarioInvalid(tuple(problems))
    fields = {key: value for key, value in doc.data.items() if key not in _NOT_RATES}
    return Rates(**fields)
