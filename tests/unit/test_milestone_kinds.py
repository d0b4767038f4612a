"""Milestone kinds (里程碑类型) in the pack's catalogue: loaded with located errors, shown by
lint and diff, checked in a rule's comparison, a milestone's kind checked against the active
pack, carried into the deadline facts, and old records without a kind still read.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import attrs
import pytest

from sqm.domain.catalogue_checks import catalogue_violations
from sqm.domain.commands import RecordKickOff
from sqm.domain.decide import decide
from sqm.domain.errors import InvalidCommand
from sqm.domain.events import KickOffRecorded
from sqm.domain.model import Milestone, Stage, SupplierState
from sqm.domain.ports import DecisionContext
from sqm.domain.serialization import event_from_payload, event_to_payload
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.catalogue import check_facts, pack_specs
from sqm.rules.contract_facts import deadlines_facts
from sqm.rules.pack_catalogue import default_catalogue, legacy_catalogue
from sqm.rules.tooling.catalogue_summary import catalogue_lines
from sqm.rules.tooling.diff import diff_packs
from sqm.rules.tooling.testfile import TEST_FOLDER
from sqm.server.api.resource_mapping import milestone as milestone_view
from tests.fakes import DAY, SID, SIGNED_AT, FakePolicy, S, run, supplier_in
from tests.unit.test_pack_catalogue import edit, line_of, problems

KICK_OFF = SIGNED_AT + 2 * DAY
SURVEY = Milestone("site survey", KICK_OFF + 3 * DAY, "site_survey")
CUTOVER = Milestone("cut-over", KICK_OFF + 10 * DAY, "cutover")
KINDS = "site_survey, design, equipment_arrival, installation, cutover, acceptance"
DL_012 = '        - {fact: overdue_milestones, op: ">=", value: 1}\n'


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A copy of the default pack, to edit."""
    folder = tmp_path / "pack"
    shutil.copytree(default_pack_dir(), folder, ignore=shutil.ignore_patterns(TEST_FOLDER))
    return folder


def kicked_off(*milestones: Milestone) -> SupplierState:
    """A contracted supplier whose kick-off agreed ``milestones``."""
    return run(supplier_in(S.CONTRACTED), RecordKickOff(SID, "5G roll-out", KICK_OFF, milestones))


def test_the_default_pack_declares_milestone_kinds_and_the_legacy_catalogue_none() -> None:
    """Six kinds in delivery order, each naming its stage deliverable; archived packs have none."""
    catalogue = default_catalogue()
    assert ", ".join(catalogue.milestone_kind_ids) == KINDS
    survey = catalogue.milestone_kind("site_survey")
    assert survey is not None
    assert (survey.entry.name_zh, survey.deliverable_zh, survey.deliverable_en) == (
        "现场勘察",
        "勘察报告",
        "Site survey report",
    )
    assert catalogue.milestone_kind("go_live") is None
    assert legacy_catalogue().milestone_kinds == ()


def test_a_broken_milestone_kind_is_refused_at_its_line(pack: Path) -> None:
    """A kind without its deliverable, then a duplicate kind, each at its line."""
    catalogue = pack / "catalogue.yaml"
    edit(catalogue, "    deliverable: {zh: 设计方案, en: Design document}\n", "")
    (found,) = problems(pack)
    assert found.startswith(f"catalogue.yaml:{line_of(catalogue, '  - id: design')}:")
    assert "deliverable" in found
    edit(catalogue, "  - id: design\n", "  - id: site_survey\n    deliverable: {zh: 设计, en: D}\n")
    lines = catalogue.read_text(encoding="utf-8").splitlines()
    duplicate = [n for n, line in enumerate(lines, 1) if line == "  - id: site_survey"][1]
    (found,) = problems(pack)
    assert found.startswith(f"catalogue.yaml:{duplicate}:")
    assert found.endswith("duplicate milestone kind 'site_survey'")


def test_a_rule_comparing_a_milestone_kind_is_checked_against_the_catalogue(pack: Path) -> None:
    """A known kind loads; an unknown one is reported at its line with the pack's kinds; a
    pack without milestone kinds can only compare with 'none'.
    """
    deadlines = pack / "deadlines.yaml"
    known = '        - {fact: overdue_milestone_kind, op: "!=", value: acceptance}\n'
    edit(deadlines, DL_012, DL_012 + known)
    load_pack(pack)
    edit(deadlines, "value: acceptance}", "value: go_live}")
    (found,) = problems(pack)
    assert found.startswith(f"deadlines.yaml:{line_of(deadlines, 'go_live')}:")
    assert f"unknown overdue_milestone_kind 'go_live'; expected one of: {KINDS}, none" in found
    text = (pack / "catalogue.yaml").read_text(encoding="utf-8")
    (pack / "catalogue.yaml").write_text(text[: text.index("\n# The kinds of delivery")] + "\n")
    edit(deadlines, "value: go_live}", "value: cutover}")
    (found,) = problems(pack)
    assert "unknown overdue_milestone_kind 'cutover'; expected one of: none" in found


def test_lint_shows_the_milestone_kinds_and_diff_names_a_changed_deliverable(pack: Path) -> None:
    """Each kind with its deliverable; a renamed deliverable is a change of that kind."""
    edit(pack / "catalogue.yaml", "{zh: 割接报告, en: Cutover report}",
         "{zh: 割接总结, en: Cutover summary}")  # fmt: skip
    old, new = load_pack(default_pack_dir()), load_pack(pack)
    lines = catalogue_lines(new.catalogue, new.catalogue_file)
    assert lines[0].endswith(", 6 milestone kinds")
    assert (
        "  milestone kind cutover (割接上线 / Cutover): deliverable 割接总结 / Cutover summary"
        in (lines)
    )
    changes = [line for line in diff_packs(old, new) if "milestone_kinds" in line]
    assert changes
    assert all("catalogue.milestone_kinds[cutover].deliverable" in line for line in changes)


def test_an_unknown_milestone_kind_is_refused_naming_the_field_with_the_other_faults() -> None:
    """decide() names the milestone's kind, listing the pack's kinds, beside an empty goal; a
    milestone without a kind is fine.
    """
    kick_off = RecordKickOff(
        SID,
        "",
        KICK_OFF,
        (Milestone("survey", KICK_OFF), Milestone("go live", KICK_OFF, "go_live")),
    )
    with pytest.raises(InvalidCommand) as raised:
        decide(kick_off, supplier_in(S.CONTRACTED), FakePolicy())
    fields = {v.field: v.description for v in raised.value.violations}
    assert set(fields) == {"goals", "milestones[1].kind"}
    assert fields["milestones[1].kind"] == (
        f"unknown milestone kind 'go_live'; expected one of: {KINDS}"
        " (the active policy's catalogue)"
    )
    none_declared = attrs.evolve(default_catalogue(), milestone_kinds=())
    (violation,) = catalogue_violations(kick_off, none_declared)
    assert "the active policy's catalogue declares none" in violation.description
    known = RecordKickOff(SID, "go", KICK_OFF, (SURVEY, Milestone("other", KICK_OFF)))
    assert not list(catalogue_violations(known, default_catalogue()))


def test_the_deadline_facts_name_the_overdue_and_the_next_milestone_s_kind() -> None:
    """The survey is late and the cut-over ahead; without kinds or milestones both are 'none'.
    A kind the active pack no longer declares is still a valid fact.
    """
    pack_ = load_pack(default_pack_dir())
    now = KICK_OFF + 5 * DAY

    def facts(state: SupplierState, at: datetime = now) -> dict[str, object]:
        return dict(deadlines_facts(pack_, DecisionContext(Stage.DEADLINES, state, at)))

    found = facts(kicked_off(SURVEY, CUTOVER))
    assert (found["overdue_milestone_kind"], found["next_milestone_kind"]) == (
        "site_survey",
        "cutover",
    )
    plain = facts(kicked_off(Milestone("survey", SURVEY.due_at)))
    assert (plain["overdue_milestone_kind"], plain["next_milestone_kind"]) == ("none", "none")
    specs = pack_specs(pack_)
    check_facts({"overdue_milestone_kind": "dropped_kind", "next_milestone_kind": "none"}, specs)


def test_a_milestone_recorded_before_kinds_reads_as_one_of_no_kind() -> None:
    """An old kick-off payload has no ``kind``: it folds with none, and is written as it was."""
    event = KickOffRecorded(KICK_OFF, "5G roll-out", (Milestone("survey", KICK_OFF),))
    payload = event_to_payload(event)
    assert "kind" not in payload["milestones"][0]
    assert event_from_payload("KickOffRecorded", payload) == event
    kinded = event_to_payload(attrs.evolve(event, milestones=(SURVEY,)))
    assert kinded["milestones"][0]["kind"] == "site_survey"


def test_get_supplier_shows_a_milestone_s_kind_and_deliverable() -> None:
    """The deliverable is named as the catalogue names the kind; nothing for an unknown kind."""
    state = kicked_off(SURVEY)
    shown = milestone_view(SURVEY, state, default_catalogue())
    assert (shown.kind, shown.deliverable_name_zh, shown.deliverable_name_en) == (
        "site_survey",
        "勘察报告",
        "Site survey report",
    )
    dropped = milestone_view(attrs.evolve(SURVEY, kind="dropped"), state, default_catalogue())
    assert (dropped.kind, dropped.deliverable_name_en) == ("dropped", "")
