"""Time travel is for drills: AdvanceTime beyond the wall clock needs ``sqm serve --drill``."""

from __future__ import annotations

import re
import time
import urllib.request
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


def test_drill_mode_is_visible_on_the_metrics_endpoint(database: Path) -> None:
    """An operator sees drill mode at a glance: sqm_drill_mode is 1 on a --drill server."""
    server = ServerProcess(database, "--drill", "--metrics-port", "0").start()
    try:
        url = _metrics_url(server)
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            text = response.read().decode()
    finally:
        server.stop()
    assert "sqm_drill_mode 1.0" in text


def _metrics_url(server: ServerProcess) -> str:
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        for line in server.output:
            found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", line)
            if found:
                return found[1]
        time.sleep(0.05)
    raise AssertionError("\n".join(server.output))
