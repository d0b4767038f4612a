"""Backtesting a raised pass mark with its effective time and grandfathering (既往不咎).

The complaint this reproduces: 30 suppliers qualified under a pass mark of 70, a candidate
raising it to 75 backtested over the whole history "un-qualified" the 15 who scored under
75. Given the time the candidate takes effect, qualifications recorded before it stand
(``new_evaluations``), or, when the pack says ``qualified_suppliers``, the suppliers still
qualified then (not yet contracted) are evaluated again then, as the server would.
Real SQLite file, real rules engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sqm.domain.commands import (
    RegisterSupplier,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.model import Certificate, Money
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.requalification import Requalifier
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.sqlite import SqliteEventStore
from sqm.simulation.backtest import backtest
from sqm.simulation.report import render_backtest
from tests.commands import default_pack_variant, sqm

pytestmark = pytest.mark.integration

QUALIFIED_AT = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
EFFECTIVE = QUALIFIED_AT + timedelta(days=10)
EARLY_CONTRACT = QUALIFIED_AT + timedelta(days=1)  # even-numbered suppliers: before EFFECTIVE
LATE_CONTRACT = QUALIFIED_AT + timedelta(days=20)  # odd-numbered suppliers: after it
LATE_ARRIVAL = QUALIFIED_AT + timedelta(days=30)
CRITERIA = ("capability", "price", "delivery_lead_time", "quality_management", "past_performance")


def _score(index: int) -> float:
    """70 to 79, each twice: suppliers 0-4, 10-14 and 20-24 (15 of 30) score under 75."""
    return 70.0 + index % 10


def _supplier_id(index: int) -> str:
    return f"sup-{index:02d}"


BELOW_75 = {_supplier_id(i) for i in range(30) if _score(i) < 75}
# Under 75 and still only qualified at EFFECTIVE: the odd ones sign after it.
REEVALUATED_OUT = sorted(s for s in BELOW_75 if int(s[-2:]) % 2 == 1)


def pass_mark_75(folder: Path, applies_to: str | None) -> Path:
    """The default pack with a pass mark of 75 and, if given, the grandfathering setting."""
    pack = default_pack_variant(
        folder, "qualification.yaml",
        '{fact: weighted_score, op: ">=", value: 70}',
        '{fact: weighted_score, op: ">=", value: 75}',
    )  # fmt: skip
    if applies_to is not None:
        manifest = pack / "manifest.yaml"
        setting = f"qualification_changes_apply_to: {applies_to}\n"
        manifest.write_text(manifest.read_text(encoding="utf-8") + setting, encoding="utf-8")
    return pack


@pytest.fixture
def history(tmp_path: Path) -> Iterator[SqliteEventStore]:
    """30 suppliers qualified under the default pass mark of 70, half of them contracted
    before EFFECTIVE and half after; two more arrive after it, scoring 72.
    """
    store = SqliteEventStore(tmp_path / "history.sqlite3", clock=lambda: QUALIFIED_AT)
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    service = SupplierService(store, lambda: policy)
    for index in range(30):
        signed = EARLY_CONTRACT if index % 2 == 0 else LATE_CONTRACT
        qualify_at(service, _supplier_id(index), _score(index), QUALIFIED_AT)
        _sign(service, _supplier_id(index), signed)
    for supplier_id in ("late-a", "late-b"):
        qualify_at(service, supplier_id, 72.0, LATE_ARRIVAL)
    yield store
    store.close()


def _run(service: SupplierService, command: object, request_id: str) -> None:
    service.execute(command, RequestContext(request_id, "grandfathering-test"))  # type: ignore[arg-type]


def qualify_at(service: SupplierService, supplier_id: str, score: float, at: datetime) -> None:
    """Register ``supplier_id`` and qualify it with ``score`` on every criterion at ``at``."""
    year = timedelta(days=365)
    certificates = tuple(
        Certificate(kind, f"{kind}-1", "issuer", at - year, at + 2 * year)
        for kind in default_catalogue().certificate_kind_ids
    )
    category = "network_equipment"
    _run(service, RegisterSupplier(supplier_id, supplier_id, category, at), f"{supplier_id}:0")
    evidence = SubmitQualificationEvidence(
        supplier_id, at, dict.fromkeys(CRITERIA, score), certificates, True
    )
    _run(service, evidence, f"{supplier_id}:1")


def _sign(service: SupplierService, supplier_id: str, at: datetime) -> None:
    fee, limit = Money(Decimal("100000.00"), "CNY"), Money(Decimal("1000000.00"), "CNY")
    _run(
        service, SignContract(supplier_id, f"CT-{supplier_id}", at, fee, limit), f"{supplier_id}:2"
    )


def _changed(report: dict[str, object]) -> list[str]:
    return sorted(s["supplier_id"] for s in report["suppliers"] if s["changed"])  # type: ignore[attr-defined, index]


def test_from_the_beginning_of_history_a_raised_pass_mark_re_decides_past_qualifications(
    history: SqliteEventStore, tmp_path: Path
) -> None:
    """The complaint: without an effective time, the 15 under 75 are no longer qualified."""
    report = backtest(history, load_pack(pass_mark_75(tmp_path / "p", None)), source="h")

    assert report["effective_from"] == ""
    assert set(_changed(report)) == BELOW_75 | {"late-a", "late-b"}
    assert report["totals"]["state_changed"] == 17


def test_qualifications_recorded_before_the_effective_time_stand_for_new_evaluations(
    history: SqliteEventStore, tmp_path: Path
) -> None:
    """Effective after the 30 qualifications: none of them changes; the two evaluated
    after it (72 < 75) are the only differences.
    """
    pack = load_pack(pass_mark_75(tmp_path / "p", "new_evaluations"))
    report = backtest(history, pack, source="h", effective_from=EFFECTIVE)

    assert _changed(report) == ["late-a", "late-b"]
    assert report["effective_from"] == "2027-01-14T09:00:00.000000Z"
    assert report["qualification_changes_apply_to"] == "new_evaluations"
    assert report["totals"]["qualifications_revoked"] == 0
    assert report["totals"]["refused"] == 0


def test_qualified_suppliers_under_the_new_mark_and_not_yet_contracted_go_back_to_candidate(
    history: SqliteEventStore, tmp_path: Path
) -> None:
    """With ``qualified_suppliers``, the six under 75 still only qualified at the effective
    time are re-evaluated then and revoked (their later contract is refused); those
    contracted before keep their contract.
    """
    pack = load_pack(pass_mark_75(tmp_path / "p", "qualified_suppliers"))
    report = backtest(history, pack, source="h", effective_from=EFFECTIVE)

    by_id = {s["supplier_id"]: s for s in report["suppliers"]}
    revoked = sorted(s for s, entry in by_id.items() if entry["qualification_revoked_at"])
    assert revoked == REEVALUATED_OUT
    assert report["totals"]["qualifications_revoked"] == 6
    for supplier_id in REEVALUATED_OUT:
        assert by_id[supplier_id]["state"] == {"recorded": "contracted", "candidate": "candidate"}
        assert by_id[supplier_id]["qualification_revoked_at"] == "2027-01-14T09:00:00.000000Z"
        assert [r["command"] for r in by_id[supplier_id]["refused"]] == ["SignContract"]
        first = by_id[supplier_id]["first_difference"]["what"]
        assert first.startswith("qualification revoked on re-evaluation as the candidate takes")
    assert set(_changed(report)) == {*REEVALUATED_OUT, "late-a", "late-b"}


def test_the_candidate_decides_only_from_its_effective_time_in_the_middle_of_history(
    history: SqliteEventStore, tmp_path: Path
) -> None:
    """Effective between the early and the late contracts, under a pass mark of 90: the
    qualifications and early contracts keep their recorded outcome; nothing recorded
    before the time is refused, only the late contracts and arrivals are decided anew.
    """
    strict = default_pack_variant(
        tmp_path / "strict", "qualification.yaml",
        '{fact: weighted_score, op: ">=", value: 70}',
        '{fact: weighted_score, op: ">=", value: 90}',
    )  # fmt: skip
    report = backtest(history, load_pack(strict), source="h", effective_from=EFFECTIVE)

    by_id = {s["supplier_id"]: s for s in report["suppliers"]}
    for index in range(0, 30, 2):  # contracted before: exactly as recorded
        assert not by_id[_supplier_id(index)]["changed"]
    for index in range(1, 30, 2):  # qualified before, contracted after: contract still valid
        assert not by_id[_supplier_id(index)]["changed"]
    assert _changed(report) == ["late-a", "late-b"]


def test_sqm_backtest_says_and_shows_the_effective_time_and_grandfathering(
    history: SqliteEventStore, tmp_path: Path
) -> None:
    """``--effective-from`` is printed, written in the JSON (the same with ``--jobs 2``)
    and shown on the page; without it, the command says it decides from the beginning of
    history.
    """
    database = tmp_path / "history.sqlite3"
    history.close()
    pack = pass_mark_75(tmp_path / "p", "qualified_suppliers")
    out_json, out_html = tmp_path / "bt.json", tmp_path / "bt.html"

    ran = sqm(
        "backtest", "--policy", str(pack), "--database", str(database),
        "--effective-from", "2027-01-14T17:00:00+08:00",
        "--json", str(out_json), "--html", str(out_html),
    )  # fmt: skip
    shared = sqm(
        "backtest", "--policy", str(pack), "--database", str(database),
        "--effective-from", "2027-01-14T17:00:00+08:00", "--jobs", "2",
    )  # fmt: skip
    whole = sqm("backtest", "--policy", str(pack), "--database", str(database))

    assert ran.returncode == 0, ran.stderr
    assert "takes effect at 2027-01-14T09:00:00.000000Z" in ran.stderr
    assert "qualified_suppliers" in ran.stderr
    assert "6 qualification(s) revoked when it takes effect" in ran.stderr
    result = json.loads(out_json.read_text(encoding="utf-8"))
    assert result["effective_from"] == "2027-01-14T09:00:00.000000Z"
    assert result["totals"]["qualifications_revoked"] == 6
    page = out_html.read_text(encoding="utf-8")
    assert page == render_backtest(result)
    assert "2027-01-14T09:00:00.000000Z" in page
    assert "qualified_suppliers" in page
    assert "Qualifications revoked when it takes effect" in page
    assert shared.stdout == out_json.read_text(encoding="utf-8")  # --jobs 2: the same bytes
    assert whole.returncode == 0, whole.stderr
    assert "from the beginning of history" in whole.stderr


def test_a_time_without_an_offset_is_refused(tmp_path: Path) -> None:
    """An effective time must say its offset, as every time given to sqm does."""
    ran = sqm(
        "backtest", "--policy", str(default_pack_dir()), "--database", str(tmp_path / "x"),
        "--effective-from", "2027-01-14T09:00:00",
    )  # fmt: skip

    assert ran.returncode == 2
    assert "give the time with its offset" in ran.stderr


@pytest.fixture
def reevaluated(tmp_path: Path) -> Iterator[SqliteEventStore]:
    """The 30 qualified under 70; then, at EFFECTIVE, the server's re-evaluation under a
    pass mark of 75 for qualified suppliers (recorded as the server records it).
    """
    store = SqliteEventStore(tmp_path / "history.sqlite3", clock=lambda: QUALIFIED_AT)
    policy = CompiledPolicy(load_pack(default_pack_dir()))
    service = SupplierService(store, lambda: policy)
    for index in range(30):
        qualify_at(service, _supplier_id(index), _score(index), QUALIFIED_AT)
    reaching = CompiledPolicy(load_pack(pass_mark_75(tmp_path / "p75", "qualified_suppliers")))
    done = Requalifier(store)(reaching, EFFECTIVE, "policy-activation:1")
    assert sorted(done.revoked) == sorted(BELOW_75)
    yield store
    store.close()


def test_a_re_evaluation_the_server_recorded_replays_as_one(
    reevaluated: SqliteEventStore, tmp_path: Path
) -> None:
    """Under the pack that re-evaluated, from its time: no difference; under a pack for new
    evaluations only, the 15 it sent back to candidate would have stayed qualified.
    """
    same = load_pack(pass_mark_75(tmp_path / "same", "qualified_suppliers"))
    grandfathering = load_pack(pass_mark_75(tmp_path / "new", "new_evaluations"))

    replayed = backtest(reevaluated, same, source="h", effective_from=EFFECTIVE)
    kept = backtest(reevaluated, grandfathering, source="h", effective_from=EFFECTIVE)

    assert _changed(replayed) == []
    assert replayed["totals"]["refused"] == 0
    assert set(_changed(kept)) == BELOW_75
    states = {s["supplier_id"]: s["state"] for s in kept["suppliers"]}
    assert {states[s]["candidate"] for s in BELOW_75} == {"qualified"}
