"""End to end: a pack's catalogue declares its metrics and certificate kinds, not the API.

A variant of the default pack adds a ``packet_loss`` metric (percent, lower is better) and a
``network_access_licence`` certificate kind (电信设备进网许可证), requires the licence of
network-equipment suppliers and sets breach tiers for packet loss. Activated over gRPC with
``ActivatePolicy`` on a running ``sqm serve`` (no code change), it qualifies a supplier holding
the licence, contracts it with a packet-loss objective, and credits its breach; an unknown
metric is refused naming the field and the pack's metrics.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from sqm.client import SqmClient, certificate, measurement, sla_objective
from sqm.client.errors import SqmError
from sqm.client.policy_client import PolicyClient
from sqm.rules import default_pack_dir, load_pack
from sqm.rules.tooling.testfile import TEST_FOLDER
from sqm.v1 import resources_pb2 as pb
from tests.e2e.evidence import GOOD_SCORES
from tests.e2e.process_flow import Timeline, network_certificates, the_contract
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e

PACKET_LOSS = """\
  - id: packet_loss
    unit: percent
    direction: at_most
    minimum: 0
    maximum: 100
    name: {zh: 丢包率, en: Packet loss}
    description: {zh: 丢失的数据包占比, en: Share of packets lost}
"""
LICENCE = """\
  - id: network_access_licence
    name: {zh: 电信设备进网许可证, en: Network access licence}
"""
PACKET_LOSS_TIERS = """\
  packet_loss:                             # percentage points over target
    - {severity: minor, above: 0, up_to: 0.5}
    - {severity: major, above: 0.5, up_to: 2}
    - {severity: critical, above: 2}
"""
# Target 1% lost, warned from 0.5%; no grace, so a breach is credited at once.
PACKET_LOSS_OBJECTIVE = sla_objective("packet_loss", "packet_loss", pb.COMPARATOR_AT_MOST, 1.0, 0.5)


def write_variant(folder: Path) -> Path:
    """The default pack, plus packet loss and the network access licence (required of
    network-equipment suppliers), in ``folder``.
    """
    shutil.copytree(default_pack_dir(), folder, ignore=shutil.ignore_patterns(TEST_FOLDER))
    _edit(
        folder / "catalogue.yaml", "\n# contract and other", PACKET_LOSS + "\n# contract and other"
    )
    _edit(
        folder / "catalogue.yaml",
        "  - id: operating_licence\n",
        LICENCE + "  - id: operating_licence\n",
    )
    _edit(
        folder / "qualification.yaml",
        "network_equipment: [tl_9000]",
        "network_equipment: [tl_9000, network_access_licence]",
    )
    _edit(folder / "sla.yaml", "severity_tiers:\n", "severity_tiers:\n" + PACKET_LOSS_TIERS)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack variant, written once for the module."""
    return write_variant(tmp_path_factory.mktemp("catalogue") / "variant")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, variant: Path) -> Iterator[ServerProcess]:
    """One `sqm serve` for the module, the variant activated on it over gRPC."""
    server = ServerProcess(tmp_path_factory.mktemp("db") / "sqm.sqlite3").start()
    try:
        with PolicyClient(server.address, actor="wang.fang") as policies:
            activated = policies.activate_directory(variant)
        assert activated.policy_version.version == load_pack(variant).version
        yield server
    finally:
        server.kill()


@pytest.fixture
def client(live: ServerProcess) -> Iterator[SqmClient]:
    """A client of the module's server."""
    with SqmClient(live.address, timeout=10) as connected:
        yield connected


def licensed_certificates(timeline: Timeline) -> list[pb.Certificate]:
    """The default network-equipment certificates and the network access licence."""
    start, end = timeline.now - timedelta(days=365), timeline.now + timedelta(days=730)
    licence = certificate("network_access_licence", "进网-2026-001", "MIIT", start, end)
    return [*network_certificates(timeline.now), licence]


def test_a_supplier_with_the_pack_s_new_licence_is_qualified_contracted_and_credited(
    client: SqmClient,
) -> None:
    """Qualified with the licence the variant declares, contracted on packet loss, a breach of
    it is classified by the variant's tiers and credited by the schedule.
    """
    timeline = Timeline()
    client.register_supplier("zte-nx", "中兴通讯", "network_equipment", occur_time=timeline.now)
    qualified = client.submit_qualification_evidence(
        "zte-nx",
        scores=GOOD_SCORES,
        certificates=licensed_certificates(timeline),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=timeline.step(),
        view=pb.SUPPLIER_VIEW_FULL,
    )
    assert qualified.supplier.state == pb.LIFECYCLE_STATE_QUALIFIED, qualified.decisions
    assert "network_access_licence" in {c.kind for c in qualified.supplier.certificates}

    contract = the_contract(timeline, (PACKET_LOSS_OBJECTIVE,))
    signed = client.sign_contract(
        "zte-nx", contract, occur_time=timeline.step(), view=pb.SUPPLIER_VIEW_FULL
    )
    assert [o.metric for o in signed.supplier.contract.objectives] == ["packet_loss"]

    end = timeline.step(31)
    row = measurement(
        "zte-nx", "packet_loss", 2.0, "percent",
        period_start=end - timedelta(days=30), period_end=end, occur_time=end,
    )  # fmt: skip
    client.record_measurement(row)

    ledger = client.list_penalties("zte-nx")
    (credit,) = ledger.penalties
    assert credit.objective_id == "packet_loss"
    assert credit.rule_id == "PEN-001"
    # Missed by 1 point: a major breach, 5% of the 125,000.00 CNY monthly fee.
    assert (credit.amount.amount, credit.amount.currency_code) == ("6250.00", "CNY")


def test_without_the_licence_the_variant_does_not_qualify_the_supplier(
    client: SqmClient,
) -> None:
    """The variant requires the licence of network equipment: the default certificates alone
    leave the supplier a candidate, the decision naming the missing kind.
    """
    timeline = Timeline()
    client.register_supplier("nolic-nx", "无证设备", "network_equipment", occur_time=timeline.now)
    response = client.submit_qualification_evidence(
        "nolic-nx",
        scores=GOOD_SCORES,
        certificates=network_certificates(timeline.now),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=timeline.step(),
        view=pb.SUPPLIER_VIEW_FULL,
    )
    assert response.supplier.state == pb.LIFECYCLE_STATE_CANDIDATE
    assert any("network_access_licence" in d.message for d in response.decisions)


def test_an_unknown_metric_is_refused_naming_the_field_and_the_pack_s_metrics(
    client: SqmClient,
) -> None:
    """INVALID_ARGUMENT: the objective's metric named as the API names it, with the pack's
    metrics (packet_loss among them), in the same answer as the request's other faults.
    """
    timeline = Timeline()
    jitter = sla_objective("jitter", "jitter", pb.COMPARATOR_AT_MOST, 5.0, 3.0)
    contract = the_contract(timeline, (PACKET_LOSS_OBJECTIVE, jitter))
    contract.monthly_fee.CopyFrom(pb.Money(amount="12.345", currency_code="CNY"))
    with pytest.raises(SqmError) as refused:
        client.sign_contract("zte-nx", contract, occur_time=timeline.step())
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    bad = {field.field: field.description for field in refused.value.bad_fields}
    assert set(bad) == {"contract.objectives[1].metric", "contract.monthly_fee.amount"}
    assert "unknown metric 'jitter'" in bad["contract.objectives[1].metric"]
    assert "packet_loss" in bad["contract.objectives[1].metric"]


def test_an_unknown_certificate_kind_is_refused_naming_the_field(client: SqmClient) -> None:
    """A certificate kind the pack does not declare is named by its index, with the pack's."""
    timeline = Timeline()
    client.register_supplier("odd-nx", "Odd", "network_equipment", occur_time=timeline.now)
    start, end = timeline.now - timedelta(days=1), timeline.now + timedelta(days=365)
    papers = [*network_certificates(timeline.now), certificate("iso_14001", "X", "BSI", start, end)]
    with pytest.raises(SqmError) as refused:
        client.submit_qualification_evidence(
            "odd-nx", scores=GOOD_SCORES, certificates=papers, occur_time=timeline.step()
        )
    bad = {field.field: field.description for field in refused.value.bad_fields}
    assert set(bad) == {"certificates[3].kind"}
    assert "network_access_licence" in bad["certificates[3].kind"]
