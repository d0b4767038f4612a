"""`sqm policy diff`: what changed between two packs, in lines a policy team reads."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from sqm.rules import PackInvalid, default_pack_dir, load_pack
from sqm.rules.tooling.diff import diff_packs
from tests.commands import default_pack_variant
from tests.policy_fixtures import write_pack

Edit = Callable[[str], str]


@pytest.fixture
def old_pack(tmp_path: Path) -> Path:
    """The qualification pack of the policy-tooling tests."""
    return write_pack(tmp_path / "old")


def changed(old_pack: Path, edit: Edit, tmp_path: Path) -> list[str]:
    """The diff from ``old_pack`` to a copy of it with ``edit`` applied to its rule file."""
    new = tmp_path / "new"
    shutil.copytree(old_pack, new)
    rules = new / "qualification.yaml"
    rules.write_text(edit(rules.read_text(encoding="utf-8")), encoding="utf-8")
    return diff_packs(load_pack(old_pack), load_pack(new))


def test_the_same_pack_has_no_differences(old_pack: Path) -> None:
    """A pack compared with itself: nothing to say."""
    assert diff_packs(load_pack(old_pack), load_pack(old_pack)) == []


def test_a_changed_threshold_is_named_with_both_values(old_pack: Path, tmp_path: Path) -> None:
    """QUAL-001's weighted score threshold moves from 70 to 75."""
    lines = changed(
        old_pack,
        lambda text: text.replace(
            '{fact: weighted_score, op: ">=", value: 70}',
            '{fact: weighted_score, op: ">=", value: 75}',
        ),
        tmp_path,
    )

    assert lines == ["QUAL-001: threshold for weighted_score changed from 70 to 75"]


def test_a_changed_operator_shows_the_whole_condition(old_pack: Path, tmp_path: Path) -> None:
    """>= becoming > is a changed condition, not just a threshold."""
    lines = changed(
        old_pack,
        lambda text: text.replace(
            '{fact: weighted_score, op: ">=", value: 70}',
            '{fact: weighted_score, op: ">", value: 70}',
        ),
        tmp_path,
    )

    assert lines == [
        "QUAL-001: condition on weighted_score changed from weighted_score >= 70"
        " to weighted_score > 70"
    ]


def test_added_and_removed_conditions_are_listed(old_pack: Path, tmp_path: Path) -> None:
    """A condition added to QUAL-002 and one dropped from QUAL-003."""

    def edit(text: str) -> str:
        text = text.replace(
            '        - {fact: site_audit_failed, op: "==", value: true}\n',
            '        - {fact: site_audit_failed, op: "==", value: true}\n'
            '        - {fact: category, op: "!=", value: software}\n',
        )
        return text.replace(
            '        - {fact: criteria_missing, op: "==", value: 0}\n'
            '        - {fact: weighted_score, op: "<", value: 40}\n',
            '        - {fact: weighted_score, op: "<", value: 40}\n',
        )

    assert changed(old_pack, edit, tmp_path) == [
        "QUAL-002: condition added: category != 'software'",
        "QUAL-003: condition removed: criteria_missing == 0",
    ]


def test_an_added_rule_is_described_and_a_removed_one_named(old_pack: Path, tmp_path: Path) -> None:
    """QUAL-004 appears with its title and conditions; QUAL-002 disappears."""

    def edit(text: str) -> str:
        text = text.replace("id: QUAL-002", "id: QUAL-004").replace(
            "Disqualify a candidate that failed its site audit", "Disqualify on a failed audit"
        )
        return text

    assert changed(old_pack, edit, tmp_path) == [
        "QUAL-004 added: Disqualify on a failed audit (qualification; disqualify when"
        " site_audit_failed == true)",
        "QUAL-002 removed: Disqualify a candidate that failed its site audit",
    ]


def test_criteria_weights_read_old_to_new(old_pack: Path, tmp_path: Path) -> None:
    """Criterion price weight 25 -> 20 (and past performance takes the 5)."""
    lines = changed(
        old_pack,
        lambda text: text.replace("weight: 25", "weight: 20").replace(
            "weight: 10\n", "weight: 15\n"
        ),
        tmp_path,
    )

    assert lines == [
        "criterion price weight 25 -> 20",
        "criterion past_performance weight 10 -> 15",
    ]


def test_required_certificates_name_what_was_added_and_removed(
    old_pack: Path, tmp_path: Path
) -> None:
    """Software now needs ISO 27001; data services no longer need it."""
    lines = changed(
        old_pack,
        lambda text: text.replace("software: [tl_9000]", "software: [tl_9000, iso_27001]").replace(
            "  data_services: [iso_27001]\n", ""
        ),
        tmp_path,
    )

    assert lines == [
        "required certificates for software: added iso_27001",
        "required certificates for data_services: removed iso_27001",
    ]


def test_text_changes_to_a_rule_are_named(old_pack: Path, tmp_path: Path) -> None:
    """A new title and message for QUAL-002 are shown old and new."""
    lines = changed(
        old_pack,
        lambda text: text.replace(
            '"Disqualified: the site audit failed"', '"不合格：现场审核未通过"'
        ).replace("Disqualify a candidate that failed its site audit", "Failed site audit"),
        tmp_path,
    )

    assert lines == [
        "QUAL-002: title changed from 'Disqualify a candidate that failed its site audit'"
        " to 'Failed site audit'",
        "QUAL-002: message changed from 'Disqualified: the site audit failed'"
        " to '不合格：现场审核未通过'",
    ]


def test_moving_a_rule_within_its_file_is_not_a_change(old_pack: Path, tmp_path: Path) -> None:
    """Lines shift when a comment is added: the policy means the same, no line is printed."""
    lines = changed(
        old_pack, lambda text: text.replace("rules:\n", "rules:\n  # reviewed 2026-03\n"), tmp_path
    )

    assert lines == []


def test_a_changed_action_parameter_is_named(old_pack: Path) -> None:
    """then: {action: remind, reminder: ...}: a new reminder reads as the parameter's change."""
    pack = load_pack(old_pack)
    rule = pack.rules[0]
    before = attrs.evolve(pack, rules=(attrs.evolve(rule, parameters=(("reminder", "a"),)),))
    after = attrs.evolve(
        pack, version="other", rules=(attrs.evolve(rule, parameters=(("reminder", "b"),)),)
    )

    assert diff_packs(before, after) == ["QUAL-001: reminder changed from 'a' to 'b'"]


def test_an_added_rule_shows_its_actions_parameters(tmp_path: Path) -> None:
    """An added escalation names its role (not its long message); a penalty its amount."""
    folder = shutil.copytree(default_pack_dir(), tmp_path / "mine")
    with (folder / "monitoring.yaml").open("a", encoding="utf-8") as out:
        out.write(
            "\n  - id: MON-099\n    stage: monitoring\n    title: Tell the NOC\n"
            "    when: {all: [{fact: breach_severity_rank, op: '>=', value: 3}]}\n"
            "    then: {action: notify, to: noc_lead, message: critical}\n"
            "    message: critical\n"
        )
    lines = diff_packs(load_pack(default_pack_dir()), load_pack(folder))
    assert (
        "MON-099 added: Tell the NOC (monitoring; notify to 'noc_lead' when"
        " breach_severity_rank >= 3)"
    ) in lines


def test_the_extension_limits_are_named_as_the_pack_file_writes_them(tmp_path: Path) -> None:
    """improvement.corrective_actions.max_extensions: from 2 to 3; the days limit dropped."""
    folder = default_pack_variant(
        tmp_path / "mine",
        "deadlines.yaml",
        "corrective_actions: {max_extensions: 2, max_extension_days: 14}",
        "corrective_actions: {max_extensions: 3}",
    )
    lines = diff_packs(load_pack(default_pack_dir()), load_pack(folder))
    assert lines == [
        "improvement.corrective_actions.max_extensions changed from 2 to 3",
        "improvement.corrective_actions.max_extension_days changed from 14 to nothing",
    ]


def test_days_limiting_extensions_that_are_never_allowed_are_refused(tmp_path: Path) -> None:
    """max_extension_days with max_extensions: 0 is a contradiction, refused at its line."""
    folder = default_pack_variant(
        tmp_path / "mine",
        "deadlines.yaml",
        "corrective_actions: {max_extensions: 2, max_extension_days: 14}",
        "corrective_actions: {max_extensions: 0, max_extension_days: 14}",
    )
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder)
    (error,) = raised.value.errors
    assert error.file.endswith("deadlines.yaml")
    assert "max_extensions: 0 never allows" in error.message
