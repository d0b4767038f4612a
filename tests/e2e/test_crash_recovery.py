"""End to end: SIGKILL right after a response loses nothing that was acknowledged."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqm.client import SqmClient
from sqm.v1 import resources_pb2 as pb
from tests.e2e.evidence import DECISION_TIME, GOOD_SCORES, certificates_for_network_equipment
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def test_sigkill_after_acknowledgement_loses_nothing(database: Path) -> None:
    """Every acknowledged supplier and event survives a SIGKILL and a restart."""
    first = ServerProcess(database).start()
    try:
        with SqmClient(first.address) as client:
            for n in range(5):
                client.register_supplier(
                    f"kill-{n}",
                    f"Kill {n}",
                    "network_equipment",
                    occur_time=DECISION_TIME,
                )
            acknowledged = client.submit_qualification_evidence(
                "kill-0",
                scores=GOOD_SCORES,
                certificates=certificates_for_network_equipment(),
                site_audit_result=pb.SITE_AUDIT_RESULT_PASSED,
                occur_time=DECISION_TIME,
                view=pb.SUPPLIER_VIEW_FULL,
            )
            history_before = list(client.list_supplier_events("kill-0"))
        first.kill()  # immediately after the last response: no graceful shutdown
    finally:
        first.kill()

    second = ServerProcess(database).start()
    try:
        with SqmClient(second.address) as client:
            assert client.get_supplier("kill-0") == acknowledged.supplier
            assert list(client.list_supplier_events("kill-0")) == history_before
            ids = [s.supplier_id for s in client.list_suppliers()]
            assert ids == [f"kill-{n}" for n in range(5)]
    finally:
        second.kill()


def test_graceful_stop_exits_cleanly_and_keeps_data(database: Path) -> None:
    """SIGTERM drains and exits 0; the data is there after a restart."""
    first = ServerProcess(database).start()
    with SqmClient(first.address) as client:
        client.register_supplier("graceful", "Graceful", "software")
    assert first.stop() == 0

    second = ServerProcess(database).start()
    try:
        with SqmClient(second.address) as client:
            assert client.get_supplier("graceful").display_name == "Graceful"
    finally:
        second.kill()
