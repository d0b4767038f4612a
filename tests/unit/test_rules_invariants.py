"""Invariants declared in a pack: loaded into the model, and each misfit refused at its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sqm.domain.invariants import InvariantKind
from sqm.rules import PackInvalid, default_pack_dir, load_pack


def _pack_with(tmp_path: Path, invariants: str) -> Path:
    folder = tmp_path / "pack"
    shutil.copytree(default_pack_dir(), folder)
    (folder / "invariants.yaml").write_text(
        "format: sqm.policy/v1\ninvariants:\n" + invariants, encoding="utf-8"
    )
    return folder


def _problems(folder: Path) -> list[str]:
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder)
    return [f"{p.file}:{p.line}: {p.message}" for p in raised.value.errors]


def test_the_default_pack_declares_its_invariants_with_their_parameters() -> None:
    """Six invariants, each a kind of the catalogue, parameters as written."""
    pack = load_pack(default_pack_dir())

    kinds = {invariant.id: invariant.kind for invariant in pack.invariants}
    assert kinds["INV-004"] is InvariantKind.PLAN_DEADLINE_ENFORCED
    caps = next(i for i in pack.invariants if i.kind is InvariantKind.PENALTIES_WITHIN_CAPS)
    assert caps.number("period_percent") == 20
    assert caps.file == "invariants.yaml"
    assert caps.line > 1


def test_an_unknown_kind_is_refused_listing_the_kinds(tmp_path: Path) -> None:
    """The kind's line, and every kind the service knows."""
    folder = _pack_with(tmp_path, "  - {id: INV-1, title: t, kind: no_such_thing}\n")

    [problem] = _problems(folder)
    assert problem.startswith("invariants.yaml:3:")
    assert "review_before_termination" in problem


def test_a_parameter_of_another_kind_is_refused_at_its_key(tmp_path: Path) -> None:
    """Days does not apply to review_before_termination: the key's line says so."""
    folder = _pack_with(
        tmp_path, "  - id: INV-1\n    title: t\n    kind: review_before_termination\n    days: 3\n"
    )

    [problem] = _problems(folder)
    assert problem.startswith("invariants.yaml:6:")
    assert "'days' does not apply to review_before_termination" in problem


def test_a_missing_required_parameter_is_refused(tmp_path: Path) -> None:
    """penalties_within_caps needs both caps."""
    folder = _pack_with(
        tmp_path, "  - {id: INV-1, title: t, kind: penalties_within_caps, period_percent: 20}\n"
    )

    [problem] = _problems(folder)
    assert "needs 'contract_percent'" in problem


def test_a_choice_outside_its_list_is_refused(tmp_path: Path) -> None:
    """min_severity is a severity."""
    folder = _pack_with(
        tmp_path,
        "  - {id: INV-1, title: t, kind: repeated_breaches_reviewed, breaches: 2, days: 9,"
        " min_severity: awful}\n",
    )

    [problem] = _problems(folder)
    assert "expected one of: minor, major, critical" in problem


def test_ids_are_unique_and_unlike_rule_ids(tmp_path: Path) -> None:
    """A repeated id points at the first; a rule's id cannot be reused."""
    folder = _pack_with(
        tmp_path,
        "  - {id: INV-1, title: a, kind: review_before_termination}\n"
        "  - {id: INV-1, title: b, kind: review_before_termination}\n"
        "  - {id: MON-001, title: c, kind: review_before_termination}\n",
    )

    problems = _problems(folder)
    assert any("duplicate invariant id 'INV-1'; first at invariants.yaml:3" in p for p in problems)
    assert any("'MON-001' is already a rule's id" in p for p in problems)
