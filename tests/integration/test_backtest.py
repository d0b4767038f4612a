"""Backtesting: a hand-built history in a real SQLite store, replayed under a candidate pack
whose breach window opens a review at the 2nd major breach in 30 days instead of the 3rd.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sqm.domain.commands import (
    RecordMeasurement,
    RegisterSupplier,
    SignContract,
    SubmitQualificationEvidence,
)
from sqm.domain.model import Certificate, Money
from sqm.rules import CompiledPolicy, default_pack_dir, load_pack
from sqm.rules.pack_catalogue import default_catalogue
from sqm.server.app.pipeline import RequestContext
from sqm.server.app.suppliers import SupplierService
from sqm.server.storage.sqlite import SqliteEventStore
from sqm.simulation.backtest import backtest
from sqm.simulation.report import render_backtest
from tests import postgres
from tests.commands import default_pack_variant, sqm

pytestmark = pytest.mark.integration

SIGNED = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
MAJOR_MISS = 99.6  # availability 0.3 points under 99.9: major in the default tiers
# Past the objectives' 30 grace days, so every miss is a breach that counts.
FIRST_BREACH = SIGNED + timedelta(days=40)
SCORES = dict.fromkeys(
    ("capability", "price", "delivery_lead_time", "quality_management", "past_performance"), 85.0
)


@pytest.fixture
def candidate_pack(tmp_path: Path) -> Path:
    """The default pack with MON-002's window at 2 major breaches instead of 3."""
    return default_pack_variant(
        tmp_path / "candidate",
        "monitoring.yaml",
        '{fact: major_breaches_30d, op: ">=", value: 3}',
        '{fact: major_breaches_30d, op: ">=", value: 2}',
    )


@pytest.fixture
def history(tmp_path: Path) -> Iterator[SqliteEventStore]:
    """Five suppliers recorded under the default pack, each with its breaches on given days
    after the first countable one.
    """
    store = SqliteEventStore(tmp_path / "history.sqlite3", clock=lambda: SIGNED)
    service = SupplierService(store, lambda: CompiledPolicy(load_pack(default_pack_dir())))
    breach_days = {
        "acme": [0, 10],  # 2 within 30 days: reviewed only under the candidate
        "bolt": [0],  # 1 breach: the same under both
        "core": [0, 40],  # 2 breaches 40 days apart: the same under both
        "dyna": [0, 10, 20],  # 3 within 30 days: reviewed under both, earlier by the candidate
        "echo": [],  # no breach at all
    }
    for supplier_id, days in breach_days.items():
        _contracted(service, supplier_id)
        for day in days:
            _breach(service, supplier_id, FIRST_BREACH + timedelta(days=day))
    yield store
    store.close()


def _run(service: SupplierService, command: object, request_id: str) -> None:
    service.execute(command, RequestContext(request_id, "backtest-test"))  # type: ignore[arg-type]


def _contracted(service: SupplierService, supplier_id: str) -> None:
    year = timedelta(days=365)
    certificates = tuple(
        Certificate(kind, f"{kind}-1", "issuer", SIGNED - year, SIGNED + 2 * year)
        for kind in default_catalogue().certificate_kind_ids
    )
    steps = [
        RegisterSupplier(supplier_id, supplier_id, "network_equipment", SIGNED),
        SubmitQualificationEvidence(supplier_id, SIGNED, SCORES, certificates, True),
        SignContract(
            supplier_id,
            f"CT-{supplier_id}",
            SIGNED,
            Money(Decimal("100000.00"), "CNY"),
            Money(Decimal("1000000.00"), "CNY"),
        ),
    ]
    for index, command in enumerate(steps):
        _run(service, command, f"{supplier_id}:{index}")


def _breach(service: SupplierService, supplier_id: str, at: datetime) -> None:
    command = RecordMeasurement(
        supplier_id, "availability", MAJOR_MISS, "percent", at - timedelta(days=30), at, at
    )
    _run(service, command, f"{supplier_id}:breach:{at.isoformat()}")


def test_the_backtest_reports_exactly_the_suppliers_whose_outcome_changes(
    history: SqliteEventStore, candidate_pack: Path
) -> None:
    """Acme is reviewed only under the candidate; dyna is reviewed a breach earlier."""
    report = backtest(history, load_pack(candidate_pack), source="history.sqlite3")

    changed = {s["supplier_id"]: s for s in report["suppliers"] if s["changed"]}
    assert sorted(changed) == ["acme", "dyna"]
    assert changed["acme"]["state"] == {"recorded": "contracted", "candidate": "under_review"}
    assert changed["acme"]["decisions"]["only_candidate"] == ["MON-002"]
    assert changed["dyna"]["state"] == {"recorded": "under_review", "candidate": "under_review"}
    assert "MON-002 fired under the candidate only" in changed["dyna"]["first_difference"]["what"]
    assert report["totals"]["suppliers"] == 5
    assert report["totals"]["changed"] == 2
    assert report["totals"]["state_changed"] == 1


def test_the_recorded_pack_replays_to_no_difference(history: SqliteEventStore) -> None:
    """Under the pack that recorded the history, nothing differs: the replay is faithful."""
    report = backtest(history, load_pack(default_pack_dir()), source="history.sqlite3")

    assert [s["supplier_id"] for s in report["suppliers"] if s["changed"]] == []
    assert report["totals"]["refused"] == 0


def test_sqm_backtest_writes_the_comparison_and_its_report(
    history: SqliteEventStore, candidate_pack: Path, tmp_path: Path
) -> None:
    """The command reads a server's SQLite file read-only and writes JSON and HTML."""
    database = tmp_path / "history.sqlite3"
    history.close()
    out_json, out_html = tmp_path / "bt.json", tmp_path / "bt.html"

    ran = subprocess.run(
        [
            sys.executable, "-m", "sqm.server", "backtest", "--policy", str(candidate_pack),
            "--database", str(database), "--json", str(out_json), "--html", str(out_html),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert "5 supplier(s) replayed" in ran.stderr
    assert "2 would differ" in ran.stderr
    assert json.loads(out_json.read_text(encoding="utf-8"))["totals"]["changed"] == 2
    assert "acme" in out_html.read_text(encoding="utf-8")


def test_an_export_backtests_like_its_database(
    history: SqliteEventStore, candidate_pack: Path, tmp_path: Path
) -> None:
    """`sqm db export`, then `sqm backtest --export`: the same comparison as the database's,
    with one process and with two (whose workers each read the scratch copy of the export).
    """
    database, dump = tmp_path / "history.sqlite3", tmp_path / "history.jsonl"
    history.close()
    exported = sqm("db", "export", "--database", str(database), str(dump))
    assert exported.returncode == 0, exported.stderr

    from_dump = sqm("backtest", "--policy", str(candidate_pack), "--export", str(dump))
    shared = sqm("backtest", "--policy", str(candidate_pack), "--export", str(dump), "--jobs", "2")
    from_database = sqm("backtest", "--policy", str(candidate_pack), "--database", str(database))

    assert from_dump.returncode == 0, from_dump.stderr
    assert shared.returncode == 0, shared.stderr
    dumped, direct = json.loads(from_dump.stdout), json.loads(from_database.stdout)
    assert dumped["suppliers"] == direct["suppliers"]
    assert json.loads(shared.stdout)["suppliers"] == direct["suppliers"]
    assert dumped["totals"]["changed"] == 2


def test_sqm_backtest_with_jobs_writes_what_one_process_writes(
    history: SqliteEventStore, candidate_pack: Path, tmp_path: Path
) -> None:
    """``--jobs 2`` shares the suppliers out over two processes; the JSON is byte for byte
    the same as ``--jobs 1``'s.
    """
    database = tmp_path / "history.sqlite3"
    history.close()
    outputs = []
    for jobs in ("1", "2"):
        ran = sqm(
            "backtest", "--policy", str(candidate_pack), "--database", str(database),
            "--jobs", jobs,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        outputs.append(ran.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[1])["totals"]["changed"] == 2


def test_a_postgresql_history_backtests_like_its_sqlite_original_with_two_processes(
    history: SqliteEventStore, candidate_pack: Path, tmp_path: Path
) -> None:
    """The same history moved to PostgreSQL: ``--jobs 2`` (each worker reading its
    suppliers from the database) compares it as the SQLite original does.
    """
    database, dump = tmp_path / "history.sqlite3", tmp_path / "history.jsonl"
    history.close()
    assert sqm("db", "export", "--database", str(database), str(dump)).returncode == 0
    original = sqm("backtest", "--policy", str(candidate_pack), "--database", str(database))
    with postgres.fresh_schema() as url:
        imported = sqm("db", "import", "--database", url, "--migrate", str(dump))
        assert imported.returncode == 0, imported.stderr
        moved = sqm(
            "backtest", "--policy", str(candidate_pack), "--database", url, "--jobs", "2"
        )  # fmt: skip

    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["suppliers"] == json.loads(original.stdout)["suppliers"]


def test_sqm_simulate_run_with_jobs_writes_what_one_process_writes(tmp_path: Path) -> None:
    """17 suppliers over 4 months, shared out over 1 and 3 processes: the same bytes."""
    outputs = []
    for jobs in ("1", "3"):
        target = tmp_path / f"run-{jobs}.json"
        ran = sqm(
            "simulate", "run", str(default_pack_dir()), "--suppliers", "17", "--months", "4",
            "--seed", "7", "--jobs", jobs, "--json", str(target),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["suppliers"] == 17


def test_commands_the_candidate_refuses_are_named_in_the_result_and_on_the_page(
    history: SqliteEventStore, tmp_path: Path
) -> None:
    """A pass mark of 90 over suppliers who scored 85: each contract is refused, and both the
    JSON and the page say which command, when, and why.
    """
    strict = default_pack_variant(
        tmp_path / "strict", "qualification.yaml",
        '{fact: weighted_score, op: ">=", value: 70}',
        '{fact: weighted_score, op: ">=", value: 90}',
    )  # fmt: skip
    report = backtest(history, load_pack(strict), source="history.sqlite3")

    refused = {s["supplier_id"]: s["refused"] for s in report["suppliers"]}
    assert report["totals"]["refused"] == sum(len(r) for r in refused.values())
    for supplier_id in ("acme", "bolt", "core", "dyna", "echo"):
        assert refused[supplier_id][0]["command"] == "SignContract", refused[supplier_id]
        assert refused[supplier_id][0]["why"]
    page = render_backtest(report)
    assert "Commands the candidate refuses" in page
    assert "SignContract" in page
