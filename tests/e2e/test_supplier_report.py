"""End to end: ``sqm report supplier`` writes one supplier's page from a real ``sqm serve``.

The supplier of the scorecard test: March 2027 with two penalised breaches closes poor, which
opens a review (SC-001); the review is cleared and April closes excellent. The page shows both
months against the default pack's standings, April's KPIs, and every breach, credit, review and
transition in time order; its ``--json`` data draws the same page again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from sqm.client import SqmClient
from sqm.simulation.report import render_supplier
from sqm.v1 import admin_service_pb2 as admin_api
from sqm.v1 import admin_service_pb2_grpc as admin_grpc
from sqm.v1 import resources_pb2 as pb
from tests.commands import sqm
from tests.e2e.process_flow import Timeline, advance_time, availability_row, contracted
from tests.e2e.server_process import ServerProcess
from tests.e2e.test_report_in_browser import clipped_labels, open_in_browser

pytestmark = pytest.mark.e2e

MET, MAJOR_MISS = 99.95, 99.6
MARCH_CLOSED = datetime(2027, 4, 1, 1, tzinfo=UTC)
APRIL_CLOSED = datetime(2027, 5, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def scored_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A drill server whose acme-net has March (poor, reviewed, cleared) and April scored."""
    database = tmp_path_factory.mktemp("report") / "sqm.sqlite3"
    server = ServerProcess(database, "--tick-seconds", "0", "--drill").start()
    try:
        with SqmClient(server.address) as client:
            timeline = Timeline(datetime(2027, 3, 1, 9, tzinfo=UTC))
            contracted(client, "acme-net", timeline)
            for value in (MET, MAJOR_MISS, MET, MAJOR_MISS):
                client.record_measurement(availability_row("acme-net", value, timeline))
            advance_time(server.address, MARCH_CLOSED)
            client.conclude_review("acme-net", pb.REVIEW_OUTCOME_CLEARED, occur_time=MARCH_CLOSED)
            advance_time(server.address, APRIL_CLOSED)
        yield server
    finally:
        server.kill()


def report(server: ServerProcess, work: Path, *extra: str) -> tuple[str, dict[str, object]]:
    """Run the command with small pages of history; the page and the data it wrote."""
    page, data = work / "acme.html", work / "acme.json"
    ran = sqm(
        "report", "supplier", "acme-net", "--server", server.address,
        "--html", str(page), "--json", str(data), "--page-size", "4", *extra,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "acme-net:" in ran.stdout
    return page.read_text(encoding="utf-8"), json.loads(data.read_text(encoding="utf-8"))


def test_the_page_shows_the_scores_kpis_and_every_step_of_the_history(
    scored_server: ServerProcess, tmp_path: Path
) -> None:
    """Both months with their standings, April's KPIs, the credits to the cent, the review."""
    page, _ = report(scored_server, tmp_path)

    for heading in ("Summary", "Score over time", "KPIs of 2027-04", "Timeline"):
        assert f">{heading}</h2>" in page, heading
    assert "较差 (poor)" in page
    assert "优秀 (excellent)" in page
    assert "6,250.00 CNY" in page
    assert "9,375.00 CNY" in page
    assert "15,625.00 CNY" in page  # their total
    assert "SLA 达标率 (SLA attainment)" in page
    assert "月度考核较差启动评审 (a month scored poor opens a review)" in page  # SC-001's title
    assert "review concluded: cleared" in page
    assert "bands could not be read" not in page


def test_the_data_is_in_time_order_and_draws_the_same_page_again(
    scored_server: ServerProcess, tmp_path: Path
) -> None:
    """The timeline follows the record's sequence; ``render_supplier(--json)`` is the page."""
    page, data = report(scored_server, tmp_path)

    timeline = data["timeline"]
    assert isinstance(timeline, list)
    sequences = [entry["sequence"] for entry in timeline]
    assert sequences == sorted(sequences)
    kinds = [entry["event"] for entry in timeline]
    assert kinds.count("BreachDetected") == 2
    assert kinds.count("PenaltyAssessed") == 2
    assert kinds.count("ScorecardClosed") == 2
    assert "ReviewOpened" in kinds
    assert "ReviewConcluded" in kinds
    standings = data["standings"]
    assert isinstance(standings, list)
    assert [band["id"] for band in standings] == ["excellent", "good", "fair", "poor"]
    assert render_supplier(data) == page


def test_an_unknown_supplier_is_refused_and_no_file_is_written(
    scored_server: ServerProcess, tmp_path: Path
) -> None:
    """Exit 1 with the server's reason; nothing half written."""
    page = tmp_path / "nobody.html"
    ran = sqm(
        "report", "supplier", "nobody", "--server", scored_server.address, "--html", str(page)
    )
    assert ran.returncode == 1
    assert "nobody" in ran.stderr
    assert not page.exists()


def test_the_command_asks_where_to_write_when_given_no_file(scored_server: ServerProcess) -> None:
    """Neither --html nor --json: exit 2 and a message saying what is missing."""
    ran = sqm("report", "supplier", "acme-net", "--server", scored_server.address)
    assert ran.returncode == 2
    assert "--html" in ran.stderr


INTEGRATION, POLICY_ADMIN = "integration-token-0123456789", "policy-admin-token-0123456789"
ACME_PORTAL = "acme-portal-token-0123456789"


def _tokens_file(work: Path) -> Path:
    """The operator's integration and policy-admin tokens, and acme's portal token."""
    tokens = work / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        f"  - {{name: erp, role: integration, token: {INTEGRATION}}}\n"
        f"  - {{name: admin, role: policy_admin, token: {POLICY_ADMIN}}}\n"
        f"  - {{name: acme-portal, role: supplier, supplier: acme, token: {ACME_PORTAL}}}\n",
        encoding="utf-8",
    )
    tokens.chmod(0o600)
    return tokens


def _advance_time_as_admin(address: str, moment: datetime) -> None:
    """AdminService.AdvanceTime with the policy admin's token (the only role allowed it)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    with grpc.insecure_channel(address) as channel:
        admin_grpc.AdminServiceStub(channel).AdvanceTime(
            admin_api.AdvanceTimeRequest(time=stamp),
            metadata=[("authorization", f"Bearer {POLICY_ADMIN}")],
            timeout=30,
        )


def test_a_supplier_token_gets_its_own_page_without_the_standings_bands(tmp_path: Path) -> None:
    """A supplier may read itself but not the policy: the page is written, bars and all, and
    says the bands could not be read.
    """
    server = ServerProcess(
        tmp_path / "sqm.sqlite3", "--tick-seconds", "0", "--drill",
        "--tokens-file", str(_tokens_file(tmp_path)),
    ).start()  # fmt: skip
    try:
        with SqmClient(server.address, token=INTEGRATION) as client:
            timeline = Timeline(datetime(2027, 3, 1, 9, tzinfo=UTC))
            contracted(client, "acme", timeline)
            client.record_measurement(availability_row("acme", MET, timeline))
        _advance_time_as_admin(server.address, MARCH_CLOSED)
        page = tmp_path / "acme.html"

        ran = sqm(
            "report", "supplier", "acme", "--server", server.address,
            "--token", ACME_PORTAL, "--html", str(page),
        )  # fmt: skip

        assert ran.returncode == 0, ran.stderr
        shown = page.read_text(encoding="utf-8")
        assert "bands could not be read" in shown
        assert "2027-03: 100, 优秀 (excellent)" in shown  # the bar's title
    finally:
        server.kill()


def test_the_real_page_opens_in_chromium_with_no_chart_label_clipped(
    scored_server: ServerProcess, tmp_path: Path
) -> None:
    """The page of the drill server's supplier in headless Chromium: the chart drawn, the
    standings' Chinese titles in the legend inside it.
    """
    report(scored_server, tmp_path)
    page = tmp_path / "acme.html"

    dom, _ = open_in_browser(page.read_text(encoding="utf-8"), tmp_path)

    assert dom.count('role="img"') == 1
    assert ">Timeline</h2>" in dom
    texts, clipped = clipped_labels(page, tmp_path)
    assert texts > 10
    assert clipped == []
