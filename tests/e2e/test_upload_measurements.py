"""End to end: UploadMeasurements, all or none unless partial acceptance, never counted twice."""

from __future__ import annotations

import math
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sqm.client import SqmClient, SqmError
from sqm.server.api.measurement_upload import MAX_LISTED_ROWS, MAX_UPLOAD_ROWS
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.process_flow import Timeline, availability_row, contracted, event_count, qualified
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def _measurements(client: SqmClient, supplier_id: str) -> list[float]:
    return [
        e.payload["measurement"]["value"]
        for e in client.list_supplier_events(supplier_id)
        if e.type == "MeasurementRecorded"
    ]


def _refused(client: SqmClient, rows: list[api.RecordMeasurementRequest]) -> SqmError:
    with pytest.raises(SqmError) as raised:
        client.upload_measurements(rows)
    return raised.value


def _rows(
    supplier_id: str, timeline: Timeline, *values: float
) -> list[api.RecordMeasurementRequest]:
    return [
        availability_row(supplier_id, v, timeline, f"{supplier_id}-{n}")
        for n, v in enumerate(values)
    ]


def test_an_upload_of_good_rows_stores_every_row_in_order(client: SqmClient) -> None:
    """Every row is recorded, in stream order, and the breaches' decisions come back."""
    timeline = Timeline()
    contracted(client, "up-co", timeline)

    response = client.upload_measurements(_rows("up-co", timeline, 99.97, 99.85, 99.99))

    assert response.accepted_count == 3
    assert list(response.rejected_rows) == []
    assert _measurements(client, "up-co") == [99.97, 99.85, 99.99]
    assert any(d.fired and d.action == "assess_penalty" for d in response.decisions)


def test_one_bad_row_without_partial_acceptance_stores_none_and_names_the_row(
    client: SqmClient,
) -> None:
    """A malformed row refuses the whole upload and is named ``measurements[i].field``."""
    timeline = Timeline()
    contracted(client, "none-co", timeline)
    before = event_count(client, "none-co")
    rows = _rows("none-co", timeline, 99.97, 99.95, 99.99)
    rows[1].ClearField("period_start_time")
    rows[2].request_id = "r" * 129  # too long (an empty one the client would fill in)

    error = _refused(client, rows)

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {f.field for f in error.bad_fields} == {
        "measurements[1].period_start_time",
        "measurements[2].request_id",
    }
    assert event_count(client, "none-co") == before


def test_a_row_the_domain_refuses_stops_rows_before_it_too(client: SqmClient) -> None:
    """An unknown objective in the last row stores nothing, not even the good rows before it."""
    timeline = Timeline()
    contracted(client, "dry-co", timeline)
    before = event_count(client, "dry-co")
    rows = _rows("dry-co", timeline, 99.97, 99.85, 99.99, 99.9)
    rows[2].objective_id = "latency"
    rows[3].unit = "minutes"

    error = _refused(client, rows)

    assert {f.field for f in error.bad_fields} == {
        "measurements[2].objective_id",
        "measurements[3].unit",
    }
    assert event_count(client, "dry-co") == before


def test_rows_are_checked_against_the_state_earlier_rows_leave(client: SqmClient) -> None:
    """A row dated before the row above it is refused: the dry run folds each row forward."""
    timeline = Timeline()
    contracted(client, "order-co", timeline)
    rows = _rows("order-co", timeline, 99.97, 99.98)
    rows.reverse()  # the later measurement first: the earlier one is then backdated

    error = _refused(client, rows)

    assert {f.field for f in error.bad_fields} == {"measurements[1].occur_time"}
    assert _measurements(client, "order-co") == []


def test_partial_acceptance_stores_good_rows_and_reports_the_rejected_ones(
    client: SqmClient,
) -> None:
    """Good rows are stored; each bad row is reported with its index, reason and fields."""
    timeline = Timeline()
    contracted(client, "part-co", timeline)
    rows = _rows("part-co", timeline, 99.97, 99.95, 99.99, 99.96)
    rows[1].unit = "hours"
    rows[2].name = "suppliers/ghost"

    response = client.upload_measurements(rows, partial_acceptance=True)

    assert response.accepted_count == 2
    rejected = {r.index: r for r in response.rejected_rows}
    assert set(rejected) == {1, 2}
    assert rejected[1].reason == "INVALID_ARGUMENT"
    assert list(rejected[1].fields) == ["measurements[1].unit"]
    assert "percent" in rejected[1].description
    assert rejected[2].reason == "SUPPLIER_NOT_FOUND"
    assert list(rejected[2].fields) == ["measurements[2].name"]
    assert _measurements(client, "part-co") == [99.97, 99.96]


def test_retrying_the_same_upload_does_not_count_twice(client: SqmClient) -> None:
    """Rows carry their own request ids: a second send of the stream records nothing new."""
    timeline = Timeline()
    contracted(client, "again-co", timeline)
    rows = _rows("again-co", timeline, 99.97, 99.85)
    first = client.upload_measurements(rows)
    count = event_count(client, "again-co")

    again = client.upload_measurements(rows)
    partially_again = client.upload_measurements(rows, partial_acceptance=True)

    assert again.accepted_count == partially_again.accepted_count == 2
    assert list(again.decisions) == list(first.decisions)
    assert event_count(client, "again-co") == count
    assert _measurements(client, "again-co") == [99.97, 99.85]


def test_an_upload_resent_after_a_partial_one_stores_only_the_fixed_row(
    client: SqmClient,
) -> None:
    """Rows stored by the first try are recognised by request id; the fixed row is added."""
    timeline = Timeline()
    contracted(client, "resume-co", timeline)
    rows = _rows("resume-co", timeline, 99.97, 99.95, 99.99)
    rows[2].unit = "hours"
    first = client.upload_measurements(rows, partial_acceptance=True)
    rows[2].unit = "percent"  # a refused row recorded nothing: its request id is still free

    response = client.upload_measurements(rows)

    assert (first.accepted_count, [r.index for r in first.rejected_rows]) == (2, [2])
    assert (response.accepted_count, list(response.rejected_rows)) == (3, [])
    assert _measurements(client, "resume-co") == [99.97, 99.95, 99.99]


def test_a_row_reusing_another_rows_request_id_is_named(client: SqmClient) -> None:
    """Two rows with one request id would be one measurement: the second is refused."""
    timeline = Timeline()
    contracted(client, "dup-co", timeline)
    rows = _rows("dup-co", timeline, 99.97, 99.95)
    rows[1].request_id = rows[0].request_id

    error = _refused(client, rows)

    assert {f.field for f in error.bad_fields} == {"measurements[1].request_id"}


def test_rows_for_a_supplier_not_under_contract_are_refused_by_index(client: SqmClient) -> None:
    """A qualified supplier has no objectives yet: its rows are named with the lifecycle reason."""
    timeline = Timeline()
    contracted(client, "ok-co", timeline)
    qualified(client, "early-co", timeline)
    rows = [
        availability_row("ok-co", 99.97, timeline, "ok-0"),
        availability_row("early-co", 99.97, timeline, "early-0"),
    ]

    response = client.upload_measurements(rows, partial_acceptance=True)
    error = _refused(client, [availability_row("early-co", 99.9, timeline, "early-1")])

    assert response.accepted_count == 1
    (rejected,) = response.rejected_rows
    assert (rejected.index, rejected.reason) == (1, "ILLEGAL_TRANSITION")
    assert "qualified" in rejected.description
    assert {f.field for f in error.bad_fields} == {"measurements[0].name"}
    assert _measurements(client, "ok-co") == [99.97]


def test_an_empty_upload_accepts_nothing(client: SqmClient) -> None:
    """A stream without rows is answered with nothing accepted and nothing rejected."""
    response = client.upload_measurements([])
    assert (response.accepted_count, list(response.rejected_rows)) == (0, [])


def test_many_bad_rows_are_listed_up_to_a_bound(client: SqmClient) -> None:
    """Hundreds of bad rows still get a readable INVALID_ARGUMENT naming the first ones."""
    timeline = Timeline()
    contracted(client, "many-co", timeline)
    rows = _rows("many-co", timeline, *[99.9] * 300)
    for row in rows:
        row.unit = "hours"

    error = _refused(client, rows)

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = [f.field for f in error.bad_fields]
    assert fields[:2] == ["measurements[0].unit", "measurements[1].unit"]
    assert len(fields) == MAX_LISTED_ROWS + 1
    assert fields[-1] == "measurements"
    assert _measurements(client, "many-co") == []


def test_rows_bad_in_every_field_still_get_a_readable_refusal(client: SqmClient) -> None:
    """Long violations of many fields are trimmed to fit the trailers, not lost to the transport."""
    rows = [
        api.RecordMeasurementRequest(name="x" * 5000, value=math.nan, request_id="r" * 500)
        for _ in range(200)
    ]

    error = _refused(client, rows)

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = [f.field for f in error.bad_fields]
    assert "measurements[0].name" in fields
    assert fields[-1] == "measurements"


def _stream(rows: list[api.RecordMeasurementRequest]) -> Iterator[api.UploadMeasurementsRequest]:
    for row in rows:
        yield api.UploadMeasurementsRequest(measurement=row)


def test_an_upload_beyond_the_row_limit_is_resource_exhausted_and_stores_nothing(
    server: ServerProcess, client: SqmClient
) -> None:
    """One row past the limit ends the call with RESOURCE_EXHAUSTED; no row is stored."""
    timeline = Timeline()
    contracted(client, "big-co", timeline)
    row = availability_row("big-co", 99.97, timeline, "big-0")
    rows = [row] + [api.RecordMeasurementRequest(name="suppliers/big-co")] * MAX_UPLOAD_ROWS

    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.UploadMeasurements(_stream(rows), timeout=60)

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.metadata["limit"]) == ("TOO_MANY_ROWS", str(MAX_UPLOAD_ROWS))
    assert _measurements(client, "big-co") == []
