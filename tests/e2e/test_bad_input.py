"""End to end: bad requests get the right status, name the bad fields, and write nothing."""

from __future__ import annotations

import math

import grpc
import pytest
from grpc_health.v1 import health_pb2

from sqm.client import SqmClient, SqmError
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.evidence import DECISION_TIME, GOOD_SCORES, certificates_for_network_equipment
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def _fields(error: SqmError) -> set[str]:
    return {f.field for f in error.bad_fields}


def test_unknown_supplier_is_not_found(client: SqmClient) -> None:
    """Reading a supplier that does not exist is NOT_FOUND with a stable reason."""
    with pytest.raises(SqmError) as raised:
        client.get_supplier("nobody")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    assert raised.value.reason == "SUPPLIER_NOT_FOUND"


def test_history_of_unknown_supplier_is_not_found(client: SqmClient) -> None:
    """Listing the events of an unknown supplier is NOT_FOUND, not an empty page."""
    with pytest.raises(SqmError) as raised:
        list(client.list_supplier_events("nobody"))
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


def test_malformed_registration_names_every_bad_field(client: SqmClient) -> None:
    """A registration with a bad id, no name and no category names all three fields."""
    with pytest.raises(SqmError) as raised:
        client.register_supplier("Bad Id!", "", "")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {"category"} <= _fields(raised.value)
    assert list(client.list_suppliers()) == []


def test_domain_validation_names_id_and_name(client: SqmClient) -> None:
    """With a valid category, the id pattern and the empty name are both reported."""
    with pytest.raises(SqmError) as raised:
        client.register_supplier("Bad Id!", "  ", "software")
    assert _fields(raised.value) == {"supplier_id", "display_name"}


def test_unknown_category_is_invalid_argument(server: ServerProcess) -> None:
    """A category the active pack's catalogue does not declare is refused, naming the field
    and the pack's categories.
    """
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        request = api.RegisterSupplierRequest(
            supplier_id="enum-co", display_name="Enum", category="satellite", request_id="r-enum"
        )
        with pytest.raises(grpc.RpcError) as raised:
            stub.RegisterSupplier(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = raised.value.details() or ""
    assert "category" in details
    assert "network_equipment" in details


def test_missing_request_id_is_invalid_argument(server: ServerProcess) -> None:
    """Every mutating call needs a request id."""
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        request = api.RegisterSupplierRequest(
            supplier_id="no-rid", display_name="No Rid", category="software"
        )
        with pytest.raises(grpc.RpcError) as raised:
            stub.RegisterSupplier(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request_id" in (raised.value.details() or "")


def test_registering_an_existing_id_is_already_exists(client: SqmClient) -> None:
    """A second registration of the same id is ALREADY_EXISTS and changes nothing."""
    client.register_supplier("twice", "Twice", "software")
    with pytest.raises(SqmError) as raised:
        client.register_supplier("twice", "Other name", "it_services")
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert client.get_supplier("twice").display_name == "Twice"


def test_out_of_range_and_nan_scores_are_named(client: SqmClient) -> None:
    """Scores outside 0-100 or NaN are refused field by field; nothing is recorded."""
    client.register_supplier("scores-co", "Scores", "network_equipment")
    with pytest.raises(SqmError) as raised:
        client.submit_qualification_evidence(
            "scores-co", scores={"capability": 140.0, "price": math.nan}
        )
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(raised.value) == {"scores['capability']", "scores['price']"}
    assert len(list(client.list_supplier_events("scores-co"))) == 1


def test_unknown_criterion_is_refused_before_the_engine(client: SqmClient) -> None:
    """A score for a criterion the policy does not define is INVALID_ARGUMENT naming it."""
    client.register_supplier("crit-co", "Crit", "network_equipment")
    with pytest.raises(SqmError) as raised:
        client.submit_qualification_evidence("crit-co", scores={"charisma": 90.0})
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(raised.value) == {"scores['charisma']"}
    assert len(list(client.list_supplier_events("crit-co"))) == 1


def test_stale_etag_is_aborted_and_writes_nothing(client: SqmClient) -> None:
    """Evidence sent with an etag the supplier has moved past is ABORTED."""
    registered = client.register_supplier("etag-co", "Etag", "software")
    client.submit_qualification_evidence("etag-co", scores={"capability": 50.0})
    with pytest.raises(SqmError) as raised:
        client.submit_qualification_evidence(
            "etag-co", scores={"price": 50.0}, etag=registered.etag
        )
    assert raised.value.code == grpc.StatusCode.ABORTED
    assert raised.value.reason == "STALE_VERSION"
    assert "price" not in client.get_supplier("etag-co").scores


def test_request_id_reused_for_different_request_is_refused(client: SqmClient) -> None:
    """The same request id with different content is refused rather than answered wrongly."""
    client.register_supplier("rid-a", "A", "software", request_id="shared-id")
    with pytest.raises(SqmError) as raised:
        client.register_supplier("rid-b", "B", "software", request_id="shared-id")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.reason == "REQUEST_ID_REUSED"
    with pytest.raises(SqmError):
        client.get_supplier("rid-b")


def test_evidence_for_a_terminated_supplier_is_failed_precondition(client: SqmClient) -> None:
    """A disqualified (terminated) supplier cannot take evidence; the error names the state."""
    client.register_supplier(
        "failed-audit",
        "Failed Audit",
        "network_equipment",
        occur_time=DECISION_TIME,
    )
    disqualified = client.submit_qualification_evidence(
        "failed-audit",
        scores=GOOD_SCORES,
        certificates=certificates_for_network_equipment(),
        site_audit_result=pb.SITE_AUDIT_RESULT_FAILED,
        occur_time=DECISION_TIME,
    )
    assert disqualified.supplier.state == pb.LIFECYCLE_STATE_TERMINATED

    with pytest.raises(SqmError) as raised:
        client.submit_qualification_evidence("failed-audit", scores={"capability": 99.0})
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.metadata["current_state"] == "terminated"


def test_bad_page_token_is_invalid_argument(server: ServerProcess) -> None:
    """A page token the server did not issue is refused, naming page_token."""
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        request = api.ListSuppliersRequest(page_token="garbage")
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListSuppliers(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in (raised.value.details() or "")


def test_server_keeps_serving_after_bad_requests(server: ServerProcess, client: SqmClient) -> None:
    """After a burst of refused requests the server is still healthy and accepts good ones."""
    for _ in range(20):
        with pytest.raises(SqmError):
            client.get_supplier("Not A Valid Id")
    assert server.health() == health_pb2.HealthCheckResponse.SERVING
    created = client.register_supplier("after-burst", "After", "software")
    assert created.state == pb.LIFECYCLE_STATE_CANDIDATE


def test_backdated_evidence_is_refused_naming_occur_time(client: SqmClient) -> None:
    """Evidence dated before the supplier's last event is refused: time only moves forward."""
    client.register_supplier("late-co", "Late", "software")
    with pytest.raises(SqmError) as raised:
        client.submit_qualification_evidence(
            "late-co", scores={"capability": 80.0}, occur_time=DECISION_TIME
        )
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(raised.value) == {"occur_time"}
