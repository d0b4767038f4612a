"""Lint and messages for people: stale numbers in names, YAML errors in plain words, rules
named by id in every location, and diffs in the files' own keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.rules import default_pack_dir, load_pack
from sqm.rules.errors import PackInvalid
from sqm.rules.tooling.diff import diff_packs
from sqm.rules.tooling.lint import lint_pack
from sqm.rules.yaml_source import parse_yaml
from tests.commands import default_pack_variant

WINDOW_30 = "    min_severity: major\n    days: 30\n"
WINDOW_45 = "    min_severity: major\n    days: 45\n"


def test_a_window_whose_days_changed_is_flagged_in_its_id_description_and_rule_title(
    tmp_path: Path,
) -> None:
    """days: 45 while the id, the description and MON-002's title still say 30 days."""
    pack = default_pack_variant(tmp_path / "pack", "monitoring.yaml", WINDOW_30, WINDOW_45)
    messages = [f.message for f in lint_pack(pack).warnings]
    assert messages == [
        "window major_breaches_30d: its id says '30d' but the window counts 45 days;"
        " update the id or the days",
        "window major_breaches_30d: its description says '30 days' but the window counts"
        " 45 days; update the description or the days",
        "rule MON-002: its title says '30 days' but its windows count major_breaches_30d"
        " 45 days; update the title",
        "rule MON-002: its description says '30 days' but its windows count"
        " major_breaches_30d 45 days; update the description",
    ]


def test_numbers_that_still_match_raise_nothing() -> None:
    """The default pack says what its windows count."""
    assert lint_pack(default_pack_dir()).warnings == ()


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: 1\n\tb: 2\n", (2, 1), "indent with spaces only"),
        ("title: Repeated: breaches\n", (1, 16), "a second ':' on this line"),
        ("a:\n  b: 1\n  c\n  d: 2\n", (3, 3), "this line should be 'key: value'"),
        ("a: 'open\nb: 2\n", (1, 4), "a quoted text is never closed"),
        ("a: [1, 2\nb: 3\n", (1, 4), "a [list] is not closed with ']'"),
        ("then: {action: [}\n", (1, 17), "a value is missing inside [ ] or { }"),
        ("a:\n    b: 1\n  c: 2\n", (3, 3), "the indentation here does not line up"),
        ("a: *nope\n", (1, 4), "'*' refers to an anchor"),
    ],
    ids=["tab", "colon", "no-colon", "quote", "list", "flow", "indent", "alias"],
)
def test_yaml_syntax_errors_are_said_in_plain_words_at_their_place(
    text: str, where: tuple[int, int], words: str
) -> None:
    """Never PyYAML's own vocabulary ("mapping values", "simple key", "block end")."""
    doc, (error,) = parse_yaml(text, "rules.yaml")
    assert doc is None
    assert (error.file, error.line, error.column) == ("rules.yaml", *where)
    assert error.message.startswith("malformed YAML: ")
    assert words in error.message
    for jargon in ("mapping values", "simple key", "block end", "scalar", "token", "node"):
        assert jargon not in error.message


def test_a_location_names_the_rule_by_its_id(tmp_path: Path) -> None:
    """rules[MON-002].when.all[1], not rules[1].when.all[1]."""
    pack = default_pack_variant(
        tmp_path / "pack",
        "monitoring.yaml",
        '{fact: breach_severity_rank, op: ">=", value: 2}',
        '{fact: breach_severity_rank, op: ">=", value: "2"}',
    )
    with pytest.raises(PackInvalid) as raised:
        load_pack(pack)
    (error,) = raised.value.errors
    assert error.message.startswith("rules[MON-002].when.all[1].value: ")


def test_diff_names_changes_with_the_files_own_keys(tmp_path: Path) -> None:
    """objectives.network_services[availability].target, windows[id].days, as written."""
    pack = default_pack_variant(tmp_path / "pack", "monitoring.yaml", WINDOW_30, WINDOW_45)
    sla = pack / "sla.yaml"
    sla.write_text(
        sla.read_text(encoding="utf-8").replace("target: 99.95,", "target: 99.96,", 1),
        encoding="utf-8",
    )
    penalties = pack / "penalties.yaml"
    penalties.write_text(
        penalties.read_text(encoding="utf-8").replace(
            "period_cap_percent: 20", "period_cap_percent: 25"
        ),
        encoding="utf-8",
    )
    lines = diff_packs(load_pack(default_pack_dir()), load_pack(pack))
    assert lines == [
        "objectives.network_services[availability].target changed from 99.95 to 99.96",
        "penalties.service_credits.period_cap_percent changed from 20 to 25",
        "windows[major_breaches_30d].days changed from 30 to 45",
    ]
