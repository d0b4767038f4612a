"""End to end: a real server process, a real gRPC client, the real engine and a SQLite file."""

from __future__ import annotations

from datetime import UTC, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sqm.client import SqmClient
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.evidence import (
    DECISION_TIME,
    GOOD_SCORES,
    POOR_SCORES,
    certificates_for_network_equipment,
)
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def test_server_reports_serving_on_health_check(server: ServerProcess) -> None:
    """A started server answers the standard gRPC health check with SERVING."""
    assert server.health() == health_pb2.HealthCheckResponse.SERVING
    assert server.health("sqm.v1.SupplierService") == health_pb2.HealthCheckResponse.SERVING


def test_server_offers_reflection_for_its_api(server: ServerProcess) -> None:
    """Reflection lists the supplier service, so grpcurl-style tools work without protos."""
    with grpc.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
    names = {s.name for s in response.list_services_response.service}
    assert "sqm.v1.SupplierService" in names


def test_register_then_qualifying_evidence_makes_supplier_qualified(client: SqmClient) -> None:
    """Register, submit evidence meeting the default pack, and the supplier is qualified."""
    registered = client.register_supplier(
        "huawei-nx", "华为网络设备有限公司", "network_equipment",
        occur_time=DECISION_TIME,
    )  # fmt: skip
    assert registered.state == pb.LIFECYCLE_STATE_CANDIDATE
    assert registered.name == "suppliers/huawei-nx"

    response = client.submit_qualification_evidence(
        "huawei-nx",
        scores=GOOD_SCORES,
        certificates=certificates_for_network_equipment(),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=DECISION_TIME,
    )

    assert response.supplier.state == pb.LIFECYCLE_STATE_QUALIFIED
    fired = [d for d in response.decisions if d.fired]
    assert [d.action for d in fired] == ["qualify"]
    assert client.get_supplier("huawei-nx").state == pb.LIFECYCLE_STATE_QUALIFIED


def test_history_lists_the_decision_with_rule_location_version_and_facts(
    client: SqmClient,
) -> None:
    """The history explains the qualification: rule id, file:line, policy version, fact values."""
    client.register_supplier("zte-core", "ZTE", "network_equipment", occur_time=DECISION_TIME)
    client.submit_qualification_evidence(
        "zte-core",
        scores=GOOD_SCORES,
        certificates=certificates_for_network_equipment(),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=DECISION_TIME,
    )

    events = list(client.list_supplier_events("zte-core", page_size=2))

    assert [e.version for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "SupplierRegistered"
    assert types[-1] == "LifecycleTransitioned"
    decisions = [e.decision for e in events if e.type == "DecisionRecorded"]
    assert len(decisions) == 1
    decision = decisions[0]
    assert decision.fired
    assert decision.rule_id
    assert decision.rule_file.endswith(".yaml")
    assert decision.rule_line > 0
    assert len(decision.policy_version) == 64
    assert all(e.policy_version == decision.policy_version for e in events[1:])
    assert decision.facts["weighted_score"].number_value >= 70
    assert decision.facts["certificates_missing"].number_value == 0
    score_condition = next(c for c in decision.conditions if c.fact == "weighted_score")
    assert score_condition.held
    assert score_condition.threshold.number_value == 70
    transition = events[-1].payload
    assert transition["from_state"] == "candidate"
    assert transition["to_state"] == "qualified"


def test_poor_evidence_leaves_candidate_with_an_explanation(client: SqmClient) -> None:
    """Evidence below the threshold keeps the supplier a candidate and says why."""
    client.register_supplier("slowco", "SlowCo", "network_equipment", occur_time=DECISION_TIME)

    response = client.submit_qualification_evidence(
        "slowco",
        scores=POOR_SCORES,
        certificates=certificates_for_network_equipment(),
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=DECISION_TIME,
    )

    assert response.supplier.state == pb.LIFECYCLE_STATE_CANDIDATE
    assert response.decisions
    assert not any(d.fired for d in response.decisions)
    failed = [c for d in response.decisions for c in d.conditions if c.fact == "weighted_score"]
    assert failed
    assert not failed[0].held
    assert failed[0].actual.number_value == 40


def test_certificate_expired_at_decision_time_does_not_qualify(client: SqmClient) -> None:
    """A certificate that expired before the decision's time is not counted."""
    client.register_supplier("lapsed", "Lapsed Ltd", "network_equipment", occur_time=DECISION_TIME)
    expired = certificates_for_network_equipment(valid_until=DECISION_TIME)

    response = client.submit_qualification_evidence(
        "lapsed",
        scores=GOOD_SCORES,
        certificates=expired,
        site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
        occur_time=DECISION_TIME,
    )

    assert response.supplier.state == pb.LIFECYCLE_STATE_CANDIDATE
    missing = [
        c for d in response.decisions for c in d.conditions if c.fact == "certificates_missing"
    ]
    assert missing
    assert missing[0].actual.number_value == 3


def test_list_suppliers_pages_through_every_supplier_in_id_order(client: SqmClient) -> None:
    """ListSuppliers with a small page size returns each supplier once, in id order."""
    ids = [f"supplier-{n:02d}" for n in range(7)]
    for supplier_id in reversed(ids):
        client.register_supplier(supplier_id, supplier_id, "software")

    listed = [s.supplier_id for s in client.list_suppliers(page_size=3)]

    assert listed == ids


def test_retry_with_same_request_id_returns_first_result_and_writes_nothing(
    client: SqmClient,
) -> None:
    """A request retried with its request id is answered again, not recorded twice."""
    client.register_supplier("retry-co", "Retry Co", "network_equipment", occur_time=DECISION_TIME)
    first = client.submit_qualification_evidence(
        "retry-co",
        scores=GOOD_SCORES,
        certificates=certificates_for_network_equipment(),
        occur_time=DECISION_TIME,
        request_id="req-evidence-1",
    )
    events_before = list(client.list_supplier_events("retry-co"))

    again = client.submit_qualification_evidence(
        "retry-co",
        scores=GOOD_SCORES,
        certificates=certificates_for_network_equipment(),
        occur_time=DECISION_TIME,
        request_id="req-evidence-1",
    )

    assert again == first
    assert list(client.list_supplier_events("retry-co")) == events_before


def test_history_filters_by_event_type_and_time_across_pages(
    client: SqmClient, server: ServerProcess
) -> None:
    """Filtering by type and time returns exactly the matching events, page after page."""
    client.register_supplier(
        "filter-co", "Filter Co", "network_equipment", occur_time=DECISION_TIME
    )
    for day in range(1, 6):
        client.submit_qualification_evidence(
            "filter-co",
            scores={"capability": 10.0 * day},
            occur_time=DECISION_TIME + timedelta(days=day),
        )
    all_events = list(client.list_supplier_events("filter-co"))
    wanted = [
        e.version
        for e in all_events
        if e.type == "QualificationEvidenceSubmitted"
        and e.occur_time.ToDatetime(tzinfo=UTC) >= DECISION_TIME + timedelta(days=2)
        and e.occur_time.ToDatetime(tzinfo=UTC) < DECISION_TIME + timedelta(days=5)
    ]
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(DECISION_TIME + timedelta(days=2))
    end.FromDatetime(DECISION_TIME + timedelta(days=5))
    found: list[int] = []
    token = ""
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        while True:
            response = stub.ListSupplierEvents(
                api.ListSupplierEventsRequest(
                    parent="suppliers/filter-co",
                    page_size=1,
                    page_token=token,
                    event_types=["QualificationEvidenceSubmitted"],
                    start_time=start,
                    end_time=end,
                ),
                timeout=5,
            )
            found.extend(e.version for e in response.events)
            token = response.next_page_token
            if not token:
                break
        assert found == wanted
        assert len(found) == 3
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListSupplierEvents(
                api.ListSupplierEventsRequest(parent="suppliers/filter-co", event_types=["Nope"]),
                timeout=5,
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
