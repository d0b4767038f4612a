"""The pack's catalogue: loaded with located errors, every reference to it checked, shown by
lint and diff, and the ids of commands checked against it.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqm.domain.catalogue_checks import catalogue_violations
from sqm.domain.commands import RegisterSupplier, SubmitQualificationEvidence
from sqm.domain.decide import decide
from sqm.domain.errors import InvalidCommand
from sqm.domain.model import Certificate, Comparator
from sqm.rules import PackInvalid, default_pack_dir, load_pack
from sqm.rules.catalogue import check_facts, pack_specs
from sqm.rules.loader import read_pack_files
from sqm.rules.pack_catalogue import default_catalogue, legacy_catalogue
from sqm.rules.tooling.catalogue_summary import catalogue_lines
from sqm.rules.tooling.diff import diff_packs
from sqm.rules.tooling.testfile import TEST_FOLDER
from tests.fakes import FakePolicy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A copy of the default pack, to edit."""
    folder = tmp_path / "pack"
    shutil.copytree(default_pack_dir(), folder, ignore=shutil.ignore_patterns(TEST_FOLDER))
    return folder


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    """The 1-based line of ``path`` where ``text`` first appears."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def problems(folder: Path) -> list[str]:
    """Every problem of the pack in ``folder``, as ``file:line: message``."""
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder)
    return [f"{e.file}:{e.line}: {e.message}" for e in raised.value.errors]


def test_the_default_pack_declares_its_catalogue() -> None:
    """Six categories, five certificate kinds, eight metrics with their units and directions."""
    loaded = load_pack(default_pack_dir())
    catalogue = loaded.catalogue
    assert loaded.catalogue_file == "catalogue.yaml"
    assert catalogue == default_catalogue()
    assert "network_equipment" in catalogue.category_ids
    assert len(catalogue.certificate_kind_ids) == 5
    availability = catalogue.metric("availability")
    assert availability is not None
    assert (availability.unit, availability.direction) == ("percent", Comparator.AT_LEAST)
    assert availability.entry.name_zh == "可用率"
    assert catalogue.document_kind_ids == ("contract", "other")


def test_a_pack_naming_no_catalogue_gets_the_legacy_one_which_matches_the_default() -> None:
    """Versions archived before catalogues load with the legacy catalogue, which declares what
    the service knew then (the default pack's ids today).
    """
    legacy = legacy_catalogue()
    assert legacy.category_ids == default_catalogue().category_ids
    assert legacy.metric_ids == default_catalogue().metric_ids
    assert legacy.certificate_kind_ids == default_catalogue().certificate_kind_ids


def test_a_broken_catalogue_is_refused_at_its_lines(pack: Path) -> None:
    """A duplicate id, a direction the schema does not know and an inverted range, each at its
    line; other files are not checked against a catalogue that does not load.
    """
    catalogue = pack / "catalogue.yaml"
    edit(catalogue, "  - id: software\n", "  - id: network_equipment\n")
    availability = "    minimum: 0\n    maximum: 100\n    name: {zh: 可用率"
    edit(
        catalogue,
        "    direction: at_least\n" + availability,
        "    direction: upwards\n" + availability,
    )
    found = problems(pack)
    assert len(found) == 1
    assert found[0].startswith(f"catalogue.yaml:{line_of(catalogue, 'upwards')}:")
    assert "expected one of: at_least, at_most" in found[0]
    edit(catalogue, "direction: upwards", "direction: at_least")
    edit(
        catalogue, "    maximum: 8760\n    name: {zh: 平均", "    maximum: -1\n    name: {zh: 平均"
    )
    found = problems(pack)
    lines = catalogue.read_text(encoding="utf-8").splitlines()
    duplicate = [n for n, line in enumerate(lines, 1) if line == "  - id: network_equipment"][1]
    assert any("duplicate service category 'network_equipment'" in p for p in found)
    assert any(p.startswith(f"catalogue.yaml:{duplicate}:") for p in found)
    assert any("minimum 0 is above maximum -1" in p for p in found)


def test_the_contract_document_kind_is_required(pack: Path) -> None:
    """The process archives the signed contract: a catalogue without ``contract`` is refused."""
    edit(
        pack / "catalogue.yaml", "  - id: contract\n    name: {zh: 合同, en: Signed contract}\n", ""
    )
    memo = "  - {id: memo, name: {zh: 备忘, en: Memo}}\n"
    edit(pack / "catalogue.yaml", "document_kinds:\n", "document_kinds:\n" + memo)
    assert any("document kind 'contract' is required" in p for p in problems(pack))


def test_every_reference_to_the_catalogue_is_checked_at_its_line(pack: Path) -> None:
    """Unknown ids in certificates, objectives, tiers, windows, intervals and rule conditions
    are each reported at their line, naming the catalogue's ids.
    """
    edit(pack / "qualification.yaml", "network_equipment: [tl_9000]", "network_equipment: [tl_900]")
    edit(pack / "monitoring.yaml", '{fact: metric, op: "==", value: availability}',
         '{fact: metric, op: "==", value: uptime}')  # fmt: skip
    edit(pack / "catalogue.yaml", "  - id: field_services\n", "  - id: field_work\n")
    found = problems(pack)
    certificate_line = line_of(pack / "qualification.yaml", "tl_900]")
    assert any(
        p.startswith(f"qualification.yaml:{certificate_line}:")
        and "unknown certificate kind 'tl_900'; expected one of: business_licence" in p
        for p in found
    )
    assert any("unknown metric 'uptime'; expected one of: availability" in p for p in found)
    # The rule files still name the old category: every place is reported.
    field_services = [p for p in found if "unknown service category 'field_services'" in p]
    assert field_services
    assert all("field_work" in p for p in field_services)


def test_a_new_metric_needs_severity_tiers(pack: Path) -> None:
    """Every metric of the catalogue must have tiers, so a breach of it can be classified."""
    edit(pack / "catalogue.yaml", "\n# contract and other",
         "  - {id: packet_loss, unit: percent, direction: at_most, minimum: 0, maximum: 100,"
         " name: {zh: 丢包率, en: Packet loss}}\n\n# contract and other")  # fmt: skip
    assert any("missing: packet_loss" in p for p in problems(pack))


def test_lint_shows_the_catalogue_and_diff_names_its_changes(pack: Path) -> None:
    """Each metric with its unit, direction and range; an added certificate kind by its id."""
    names = "{zh: 电信设备进网许可证, en: Network access licence}"
    licence = f"  - id: network_access_licence\n    name: {names}\n"
    edit(
        pack / "catalogue.yaml",
        "  - id: operating_licence\n",
        licence + "  - id: operating_licence\n",
    )
    old, new = load_pack(default_pack_dir()), load_pack(pack)
    lines = catalogue_lines(new.catalogue, new.catalogue_file)
    assert "  metric availability (可用率 / Availability): percent, at_least, 0 to 100" in lines
    assert (
        "  certificate kind network_access_licence (电信设备进网许可证 / Network access licence)"
        in lines
    )
    assert any(
        line.startswith("catalogue.certificate_kinds[network_access_licence] added:")
        for line in diff_packs(old, new)
    )


def test_a_command_s_ids_are_checked_against_the_catalogue() -> None:
    """An unknown category and an unknown certificate kind, each named with the declared ids."""
    catalogue = default_catalogue()
    register = RegisterSupplier("acme", "ACME", "satellite", T0)
    (category,) = catalogue_violations(register, catalogue)
    assert category.field == "category"
    assert "unknown service category 'satellite'" in category.description
    assert "network_equipment" in category.description
    papers = (
        Certificate("iso_14001", "X", "BSI", T0, T0),
        Certificate("tl_9000", "Y", "Q", T0, T0),
    )
    evidence = SubmitQualificationEvidence("acme", T0, {}, papers, None)
    assert [v.field for v in catalogue_violations(evidence, catalogue)] == ["certificates[0].kind"]


def test_a_version_archived_before_catalogues_loads_and_decides_as_it_did(pack: Path) -> None:
    """The default pack as it was archived before catalogues (no ``catalogue`` key, no file)
    loads with the legacy catalogue and makes the same decisions as today's default pack.
    """
    edit(pack / "manifest.yaml", "catalogue: catalogue.yaml\n", "")
    (pack / "catalogue.yaml").unlink()
    files = read_pack_files(pack)
    assert "catalogue.yaml" not in files
    archived = load_pack(files)
    assert archived.catalogue_file is None
    assert archived.catalogue == legacy_catalogue()
    today = load_pack(default_pack_dir())
    assert archived.objectives == today.objectives
    assert archived.certificates == today.certificates
    assert archived.tiers == today.tiers


def test_a_supplier_of_a_category_the_pack_no_longer_declares_is_still_evaluated(
    pack: Path,
) -> None:
    """Records keep their ids: facts of a category dropped by a later version are accepted."""
    edit(pack / "catalogue.yaml", "  - id: field_services\n", "  - id: field_work\n")
    for name in ("qualification.yaml", "sla.yaml", "deadlines.yaml", "scorecards.yaml"):
        path = pack / name
        path.write_text(
            path.read_text(encoding="utf-8").replace("field_services", "field_work"),
            encoding="utf-8",
        )
    specs = pack_specs(load_pack(pack))
    check_facts({"category": "field_services", "metric": "availability"}, specs)


def test_the_domain_names_a_bad_id_and_an_unknown_category_together() -> None:
    """decide() reports the command's own faults and its unknown ids in one refusal."""
    with pytest.raises(InvalidCommand) as raised:
        decide(RegisterSupplier("Bad Id", "ACME", "satellite", T0), None, FakePolicy())
    assert {v.field for v in raised.value.violations} == {"supplier_id", "category"}
