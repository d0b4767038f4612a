"""What the fuzzers found, each kept as a fixed example (they answered INTERNAL before).

The generated tests may not draw these exact values on every run; these always do.
"""

from __future__ import annotations

import base64
import json

import pytest

from sqm.domain.errors import InvalidCommand
from sqm.domain.model import Stage
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.rules.errors import PackInvalid
from sqm.rules.tooling.explain_report import evaluate_at, replay_items
from sqm.rules.tooling.pack_files import load_pack_files
from sqm.rules.tooling.testfile import parse_history
from sqm.rules.yaml_source import parse_yaml
from sqm.server.api import pagination


def _token(collection: str, position: object) -> str:
    body = json.dumps({"c": collection, "p": position}).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


@pytest.mark.parametrize("position", ["abc", -1, 2**70, 1.5, True, [3]])
def test_a_forged_page_token_with_a_position_no_list_issues_is_invalid(position: object) -> None:
    """Text, negatives, numbers past SQLite's integers: refused, never int() or SQL errors."""
    with pytest.raises(InvalidCommand) as raised:
        pagination.decode_index(_token("events", position), "events")
    assert [v.field for v in raised.value.violations] == ["page_token"]


def test_a_page_token_position_this_list_issued_is_read_back() -> None:
    """The check refuses forgeries only."""
    assert pagination.decode_index(pagination.encode("events", 42), "events") == 42
    assert pagination.decode_index("", "events") == 0


@pytest.mark.parametrize(
    ("text", "line", "column"), [("\x1f", 1, 1), ("name: x\ntitle: \x00\n", 2, 8)]
)
def test_a_control_character_in_a_rule_file_is_a_located_error(
    text: str, line: int, column: int
) -> None:
    """YAML's reader refuses control characters before parsing: still file:line:column."""
    doc, errors = parse_yaml(text, "manifest.yaml")
    assert doc is None
    assert [(e.file, e.line, e.column) for e in errors] == [("manifest.yaml", line, column)]
    assert "not allowed" in errors[0].message


def test_a_pack_sent_with_a_control_character_is_refused_as_invalid() -> None:
    """Through the path the servers take (files as data), a refusal, not a crash."""
    with pytest.raises(PackInvalid) as raised:
        load_pack_files({"manifest.yaml": "\x1f"})
    assert [(e.file, e.line) for e in raised.value.errors] == [("manifest.yaml", 1)]


def test_a_pack_file_named_beyond_what_file_systems_take_is_refused_by_name() -> None:
    """A 1,000-character file name is an invalid field, quoted short, not an OSError."""
    with pytest.raises(InvalidCommand) as raised:
        load_pack_files({"manifest.yaml": "", "x" * 1000: ""})
    (violation,) = raised.value.violations
    assert violation.field == 'files["' + "x" * 64 + '..."]'
    assert "255 bytes" in violation.description


def test_a_pack_file_inside_another_file_is_refused_by_name() -> None:
    """``a`` and ``a/b`` cannot both be files: named, not a FileExistsError."""
    with pytest.raises(InvalidCommand) as raised:
        load_pack_files({"manifest.yaml": "", "a": "", "a/b": ""})
    assert [v.field for v in raised.value.violations] == ['files["a/b"]']


HISTORY = """\
supplier: explain-co
events:
  - type: RegisterSupplier
    name: Explain Co
    category: software
    occurred_at: 2026-03-02T09:00:00Z
"""


def test_explaining_the_monitoring_stage_without_a_measurement_names_the_stage() -> None:
    """ExplainSupplier(stage=monitoring) before any measurement: INVALID_ARGUMENT, not INTERNAL."""
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    history = parse_history(HISTORY, "history.yaml")
    replayed = replay_items([step.item for step in history.steps], policy, None)
    assert replayed.state is not None
    assert replayed.at is not None
    with pytest.raises(InvalidCommand) as raised:
        evaluate_at(policy, replayed.state, replayed.at, Stage.MONITORING)
    assert [v.field for v in raised.value.violations] == ["stage"]
