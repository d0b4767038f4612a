"""End to end: ``sqm supplier ...`` and ``sqm measurements import`` against a real server."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sqm.client import SqmClient
from sqm.v1 import resources_pb2 as pb
from tests.certificates import make_pki
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, contracted, event_count
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

HEADER = "supplier_id,objective_id,value,unit,period_start,period_end,occur_time,request_id"
TOKEN = "cli-test-token-0123456789"  # a fake token for a throwaway server


@pytest.fixture
def quiet_server(database: Path) -> Iterator[ServerProcess]:
    """A running ``sqm serve`` whose scheduler does not tick."""
    server = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def sqm_client(quiet_server: ServerProcess) -> Iterator[SqmClient]:
    """A library client of the same server, to set suppliers up and count events."""
    with SqmClient(quiet_server.address, timeout=10) as connected:
        yield connected


def at(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``sqm ARGS --server ADDRESS``."""
    return sqm(*args, "--server", server.address)


def csv_file(folder: Path, supplier_id: str, timeline: Timeline, *cells: tuple[str, str]) -> Path:
    """A CSV of availability rows, one per (value, unit), 30-day periods ending a day apart."""
    lines = [HEADER]
    for value, unit in cells:
        end = timeline.step()
        start = end - timedelta(days=30)
        stamp = [t.isoformat().replace("+00:00", "Z") for t in (start, end, end)]
        lines.append(",".join([supplier_id, "availability", value, unit, *stamp, ""]))
    path = folder / f"{supplier_id}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_supplier_get_prints_the_supplier_for_a_person(
    quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """Text output labels the id, the state and the contract, and lists the problem tickets."""
    timeline = Timeline()
    contracted(sqm_client, "get-co", timeline)
    sqm_client.open_problem_ticket(
        "get-co", "PT-7", "packet loss", pb.SEVERITY_MAJOR, occur_time=timeline.step()
    )

    done = at(quiet_server, "supplier", "get", "get-co")

    assert done.returncode == 0, done.stderr
    assert "supplier     get-co" in done.stdout
    assert "state        contracted" in done.stdout
    assert "contract     C-2026-001" in done.stdout
    opened, due = (t.isoformat().replace("+00:00", "Z") for t in (timeline.now, timeline.step()))
    assert f"  PT-7    major     {opened}  {due}  -" in done.stdout


def test_supplier_get_as_json_is_the_message(
    quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """JSON output is MessageToDict of the supplier."""
    contracted(sqm_client, "json-co", Timeline())

    done = at(quiet_server, "supplier", "get", "json-co", "--output", "json")

    assert done.returncode == 0, done.stderr
    supplier = json.loads(done.stdout)
    assert (supplier["supplierId"], supplier["state"]) == ("json-co", "LIFECYCLE_STATE_CONTRACTED")


def test_an_unknown_supplier_prints_the_servers_reason_and_exits_1(
    quiet_server: ServerProcess,
) -> None:
    """A refusal is one ``error: CODE REASON: message`` line on stderr."""
    done = at(quiet_server, "supplier", "get", "ghost")

    assert done.returncode == 1
    assert done.stderr.startswith("error: NOT_FOUND SUPPLIER_NOT_FOUND: ")
    assert done.stdout == ""


def test_supplier_list_prints_an_aligned_table_of_every_supplier(
    quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """Each supplier is a row under the header, across pages."""
    timeline = Timeline()
    contracted(sqm_client, "list-a", timeline)
    contracted(sqm_client, "list-b", timeline)

    done = at(quiet_server, "supplier", "list", "--page-size", "1")

    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["SUPPLIER", "STATE", "CATEGORY", "VERSION", "UPDATED", "NAME"]
    assert [row.split()[:2] for row in rows] == [["list-a", "contracted"], ["list-b", "contracted"]]
    assert {row.index("contracted") for row in rows} == {header.index("STATE")}


def test_supplier_list_as_json_lists_the_messages(
    quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """JSON output is an object with the suppliers."""
    contracted(sqm_client, "jl-co", Timeline())

    done = at(quiet_server, "supplier", "list", "--output", "json")

    assert [s["supplierId"] for s in json.loads(done.stdout)["suppliers"]] == ["jl-co"]


def test_supplier_history_shows_decisions_with_rule_location_and_conditions(
    quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """Decision events show the rule id, file:line, message and actual vs threshold."""
    contracted(sqm_client, "hist-co", Timeline())
    events = list(sqm_client.list_supplier_events("hist-co"))
    decided = next(e.decision for e in events if e.HasField("decision") and e.decision.conditions)

    done = at(quiet_server, "supplier", "history", "hist-co")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == [
        "VERSION", "OCCURRED", "TYPE", "ACTOR", "REQUEST",
    ]  # fmt: skip
    assert f"{decided.rule_id} ({decided.rule_file}:{decided.rule_line})" in done.stdout
    assert f"{decided.conditions[0].fact}: actual " in done.stdout
    assert " threshold " in done.stdout
    assert all(e.type in done.stdout for e in events)


def test_supplier_history_as_json_has_every_event(
    quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """JSON output lists the events as messages."""
    contracted(sqm_client, "hj-co", Timeline())

    done = at(quiet_server, "supplier", "history", "hj-co", "--output", "json")

    listed = json.loads(done.stdout)["events"]
    assert len(listed) == event_count(sqm_client, "hj-co")


def test_importing_a_csv_accepts_every_row(
    tmp_path: Path, quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """Good rows in several batches are all stored; exit 0."""
    timeline = Timeline()
    contracted(sqm_client, "imp-co", timeline)
    before = event_count(sqm_client, "imp-co")
    path = csv_file(tmp_path, "imp-co", timeline, *[("99.97", "percent")] * 5)

    done = at(quiet_server, "measurements", "import", str(path), "--batch-size", "2")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "accepted 5, rejected 0"
    assert event_count(sqm_client, "imp-co") >= before + 5


def test_importing_the_same_csv_twice_does_not_count_twice(
    tmp_path: Path, quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """Derived request ids are stable: the second import records nothing new."""
    timeline = Timeline()
    contracted(sqm_client, "twice-co", timeline)
    path = csv_file(tmp_path, "twice-co", timeline, ("99.97", "percent"), ("99.85", "percent"))
    first = at(quiet_server, "measurements", "import", str(path))
    count = event_count(sqm_client, "twice-co")

    again = at(quiet_server, "measurements", "import", str(path))

    assert (first.returncode, again.returncode) == (0, 0)
    assert again.stdout == first.stdout
    assert event_count(sqm_client, "twice-co") == count


def test_a_csv_with_a_bad_row_names_its_line_and_sends_nothing(
    tmp_path: Path, quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """A value that is not a number is reported by line before any row is sent; exit 2."""
    timeline = Timeline()
    contracted(sqm_client, "badcsv-co", timeline)
    before = event_count(sqm_client, "badcsv-co")
    path = csv_file(tmp_path, "badcsv-co", timeline, ("99.97", "percent"), ("high", "percent"))

    done = at(quiet_server, "measurements", "import", str(path))

    assert done.returncode == 2
    assert "line 3: value: not a number: 'high'" in done.stderr
    assert event_count(sqm_client, "badcsv-co") == before


def test_a_row_the_server_refuses_is_reported_by_line_and_exits_1(
    tmp_path: Path, quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """All or none: a wrong unit on line 3 stores nothing of its batch and names line 3."""
    timeline = Timeline()
    contracted(sqm_client, "refuse-co", timeline)
    before = event_count(sqm_client, "refuse-co")
    path = csv_file(
        tmp_path,
        "refuse-co",
        timeline,
        ("99.97", "percent"),
        ("99.9", "hours"),
        ("99.9", "percent"),
    )

    done = at(quiet_server, "measurements", "import", str(path))

    assert done.returncode == 1
    summary, rejected = done.stdout.splitlines()
    assert summary.startswith("accepted 0, rejected 1, not stored 2")
    assert rejected.startswith("line 3: INVALID_ARGUMENT: unit: ")
    assert event_count(sqm_client, "refuse-co") == before


def test_partial_import_stores_the_good_rows_and_names_the_bad_line(
    tmp_path: Path, quiet_server: ServerProcess, sqm_client: SqmClient
) -> None:
    """With --partial the good rows are stored; JSON output names the rejected line."""
    timeline = Timeline()
    contracted(sqm_client, "partial-co", timeline)
    path = csv_file(
        tmp_path,
        "partial-co",
        timeline,
        ("99.97", "percent"),
        ("99.9", "hours"),
        ("99.9", "percent"),
    )

    done = at(quiet_server, "measurements", "import", str(path), "--partial", "--output", "json")

    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["accepted"], report["notStored"]) == (2, 0)
    assert [(r["line"], r["reason"], r["fields"]) for r in report["rejected"]] == [
        (3, "INVALID_ARGUMENT", ["unit"])
    ]


def test_the_server_and_token_can_come_from_the_environment(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQM_SERVER and SQM_TOKEN reach an authenticating server; no token is refused."""
    monkeypatch.setenv("SQM_TOKENS", f"cli:read_only:{TOKEN}")
    server = ServerProcess(database, "--tick-seconds", "0").start()
    try:
        with_token = sqm("supplier", "list", env={"SQM_SERVER": server.address, "SQM_TOKEN": TOKEN})
        without = sqm("supplier", "list", env={"SQM_SERVER": server.address, "SQM_TOKEN": ""})
    finally:
        server.kill()

    assert (with_token.returncode, with_token.stdout.strip()) == (0, "no suppliers")
    assert without.returncode == 1
    assert without.stderr.startswith("error: UNAUTHENTICATED")


def test_an_unreachable_server_is_one_line_and_exit_2() -> None:
    """Nothing listening on the port: a one-line message naming the address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"

    done = sqm("supplier", "list", "--server", address, "--timeout", "2")

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot reach {address}: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_mutual_tls_needs_the_ca_and_a_client_certificate(tmp_path: Path) -> None:
    """With the CA and a client certificate the call succeeds; without the certificate, exit 2."""
    pki = make_pki(tmp_path)
    server = ServerProcess(
        tmp_path / "tls.sqlite3", "--tick-seconds", "0",
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        "--tls-client-ca", str(pki.ca),
    ).start()  # fmt: skip
    try:
        mutual = at(
            server, "supplier", "list", "--tls-ca", str(pki.ca),
            "--tls-cert", str(pki.client_cert), "--tls-key", str(pki.client_key),
        )  # fmt: skip
        server_only = at(server, "supplier", "list", "--tls-ca", str(pki.ca), "--timeout", "3")
    finally:
        server.kill()

    assert (mutual.returncode, mutual.stdout.strip()) == (0, "no suppliers"), mutual.stderr
    assert server_only.returncode == 2
    assert server_only.stderr.startswith("error: cannot reach ")
