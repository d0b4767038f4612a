"""Supplier segmentation (供应商分级): the first segment whose conditions a supplier meets is its
class, the fact ``segment``; a broken ``segments:`` section fails to load with every problem
located; ``policy diff`` names changed segments as the file writes them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from sqm.domain.model import LifecycleState, Money, SupplierState
from sqm.domain.ports import DecisionContext, Stage
from sqm.domain.scorecard_records import Scorecard
from sqm.domain.segments import Segment, segment_of
from sqm.rules import PackInvalid, default_pack_dir, load_pack
from sqm.rules.contract_facts import deadlines_facts
from sqm.rules.tooling.diff import diff_packs
from sqm.rules.tooling.lint import lint_pack
from sqm.rules.tooling.scorecard_summary import segment_lines
from tests.commands import default_pack_variant
from tests.fakes import T0, supplier_in
from tests.unit.test_scorecard_pack import SCORECARDS, _files

SEGMENTS = (
    Segment(
        "strategic",
        "战略 (strategic)",
        categories=("software",),
        min_monthly_fee=Money(Decimal("10000.00"), "CNY"),
        standings=("good", "none"),
    ),
    Segment("preferred", "优选 (preferred)", min_monthly_fee=Money(Decimal("1.00"), "CNY")),
    Segment("tactical", "一般 (tactical)"),
)


def _contracted(fee: str = "20000.00", currency: str = "CNY") -> SupplierState:
    state = supplier_in(LifecycleState.CONTRACTED)  # software
    assert state.contract is not None
    contract = attrs.evolve(state.contract, monthly_fee=Money(Decimal(fee), currency))
    return attrs.evolve(state, contract=contract)


def _scored(state: SupplierState, standing: str) -> SupplierState:
    card = Scorecard("2025-03", T0, T0, 50.0, standing, standing, (), "")
    return attrs.evolve(state, scorecards=(card,))


def test_the_first_segment_whose_every_condition_holds_wins() -> None:
    """Software at 20,000 CNY, not rated yet: strategic; scored fair: preferred."""
    assert segment_of(SEGMENTS, _contracted()) == "strategic"
    assert segment_of(SEGMENTS, _scored(_contracted(), "fair")) == "preferred"
    assert segment_of(SEGMENTS, _scored(_contracted(), "good")) == "strategic"


def test_spend_counts_only_a_contract_in_the_same_currency() -> None:
    """A fee in USD does not reach a minimum in CNY; no contract reaches no minimum."""
    qualified = supplier_in(LifecycleState.QUALIFIED)

    assert segment_of(SEGMENTS, _contracted("50000.00", "USD")) == "tactical"
    assert segment_of(SEGMENTS, _contracted("9999.99")) == "preferred"
    assert segment_of(SEGMENTS, qualified) == "tactical"


def test_a_supplier_no_segment_takes_is_in_segment_none() -> None:
    """Without a catch-all, or without segments at all: ``none``."""
    other = attrs.evolve(_contracted(), category="field_services")

    assert segment_of(SEGMENTS[:1], other) == "none"
    assert segment_of((), other) == "none"


def test_the_default_pack_classes_suppliers_and_rules_see_the_fact() -> None:
    """The default pack: software at 20,000 CNY is tactical; network equipment at 250,000 CNY
    strategic (the deadlines facts carry it).
    """
    pack = load_pack(default_pack_dir())
    big = attrs.evolve(_contracted("250000.00"), category="network_equipment")

    assert [s.id for s in pack.segments] == ["strategic", "preferred", "tactical"]
    facts = deadlines_facts(pack, DecisionContext(Stage.DEADLINES, big, T0))
    assert facts["segment"] == "strategic"
    assert segment_of(pack.segments, _contracted("20000.00")) == "tactical"


SECTION = """\
segments:
  - {id: top, title: 顶级 (top), categories: [software, spaceships], standings: [good, great]}
  - {id: top, title: 又一个 (again)}
"""


def test_a_broken_section_reports_every_problem_at_its_position() -> None:
    """A repeated id, an unknown category, an unknown standing: all three, each located."""
    files = _files(SCORECARDS + SECTION)
    with pytest.raises(PackInvalid) as raised:
        load_pack(files)

    found = sorted((e.line, e.message) for e in raised.value.errors)
    assert [line for line, _ in found] == [12, 12, 13]
    text = " | ".join(message for _, message in found)
    assert "unknown service category 'spaceships'" in text
    assert "unknown standing 'great'; expected one of: good, poor, none" in text
    assert "'top' is listed twice in segments" in text


def test_a_fee_without_its_currency_is_refused_by_the_schema() -> None:
    """``min_monthly_fee`` is text with a currency: a bare number is refused at its line."""
    files = _files(SCORECARDS + "segments:\n  - {id: big, title: 大 (big), min_monthly_fee: 5}\n")
    with pytest.raises(PackInvalid) as raised:
        load_pack(files)

    (error,) = raised.value.errors
    assert (error.file, error.line) == ("scorecards.yaml", 12)


def test_policy_diff_names_a_changed_segment_and_a_changed_order(tmp_path: Path) -> None:
    """The strategic threshold raised: one line, named as the file writes it; reordered: the
    order.
    """
    variant = default_pack_variant(
        tmp_path / "pack", "segments.yaml", '"200000.00 CNY"', '"300000.00 CNY"'
    )

    assert diff_packs(load_pack(default_pack_dir()), load_pack(variant)) == [
        "segments[strategic].min_monthly_fee changed from '200000.00 CNY' to '300000.00 CNY'",
    ]
    tactical = "  - id: tactical\n    title: 一般供应商 (tactical)\n"
    first = default_pack_variant(tmp_path / "first", "segments.yaml", tactical, "")
    segments = first / "segments.yaml"
    text = segments.read_text(encoding="utf-8")
    segments.write_text(text.replace("segments:\n", "segments:\n" + tactical), encoding="utf-8")

    assert diff_packs(load_pack(default_pack_dir()), load_pack(first)) == [
        "segments.order[0] changed from 'strategic' to 'tactical'",
        "segments.order[1] changed from 'preferred' to 'strategic'",
        "segments.order[2] changed from 'tactical' to 'preferred'",
    ]


def test_lint_shows_the_segments_and_warns_when_none_catches_the_rest(tmp_path: Path) -> None:
    """The default pack's three segments in order; without its catch-all, one warning."""
    report = lint_pack(default_pack_dir())
    lines = segment_lines(report.segments)
    catch_all = "  - id: tactical\n    title: 一般供应商 (tactical)\n"
    without = lint_pack(default_pack_variant(tmp_path / "pack", "segments.yaml", catch_all, ""))

    assert lines[0] == "segments: 3, first match wins"
    assert lines[-1] == "  segment tactical (一般供应商 (tactical)): every other supplier"
    assert report.warnings == ()
    (warning,) = without.warnings
    assert warning.file == "segments.yaml"
    assert "the last segment 'preferred' has conditions" in warning.message
