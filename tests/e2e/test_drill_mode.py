"""Time travel is for drills: AdvanceTime beyond the wall clock needs ``sqm serve --drill``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.e2e.process_flow import advance_time
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def test_advancing_time_far_into_the_future_is_refused_outside_drills(
    server: ServerProcess,
) -> None:
    """Ten days ahead of the wall clock: FAILED_PRECONDITION, reason TIME_TRAVEL_REFUSED."""
    with pytest.raises(grpc.RpcError) as refused:
        advance_time(server.address, datetime.now(UTC) + timedelta(days=10))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    assert info.reason == "TIME_TRAVEL_REFUSED"
    assert "--drill" in status.message


def test_advancing_time_within_the_allowed_skew_is_accepted(server: ServerProcess) -> None:
    """A minute ahead is within the default five minutes of skew: accepted without drills."""
    advance_time(server.address, datetime.now(UTC) + timedelta(minutes=1))


def test_a_drill_server_advances_time_and_logs_it_with_the_actor(database: Path) -> None:
    """With --drill the same request is accepted, and the start and the advance are logged."""
    server = ServerProcess(database, "--drill").start()
    try:
        advance_time(server.address, datetime.now(UTC) + timedelta(days=10))
    finally:
        server.stop()
    output = "\n".join(server.output)
    assert "drill=on" in output
    assert "AdvanceTime to " in output
    assert " by anonymous (drill)" in output
