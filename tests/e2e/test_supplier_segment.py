"""A supplier's segment (供应商分级) under the active pack, on the supplier resource.

Through a real ``sqm serve`` on the default pack, whose segments.yaml puts a network supplier
under a contract of at least 200,000.00 CNY a month in ``strategic``, one of at least
30,000.00 in ``preferred``, and the rest in ``tactical``.
"""

from __future__ import annotations

import pytest

from sqm.client import SqmClient, contract, money
from sqm.v1 import resources_pb2 as pb
from tests.e2e.process_flow import (
    LIABILITY_LIMIT,
    OBJECTIVES,
    Timeline,
    contracted,
    qualified,
)

pytestmark = pytest.mark.e2e

FULL = pb.SUPPLIER_VIEW_FULL


def test_get_and_list_show_each_suppliers_segment_under_the_active_pack(
    client: SqmClient,
) -> None:
    """Strategic, preferred and tactical by contract size; the write's full view says so too."""
    timeline = Timeline()
    contracted(client, "mid-net", timeline)  # 125,000.00 CNY a month
    qualified(client, "big-net", timeline)
    start = timeline.step()
    signed = client.sign_contract(
        "big-net",
        contract(
            "C-BIG", monthly_fee=money("250000.00", "CNY"), liability_limit=LIABILITY_LIMIT,
            start_time=start, end_time=start.replace(year=start.year + 1), objectives=OBJECTIVES,
        ),
        occur_time=start,
        view=FULL,
    )  # fmt: skip
    client.register_supplier("new-net", "NEW", "network_equipment", occur_time=timeline.step())

    assert signed.supplier.segment == "strategic"
    assert client.get_supplier("big-net").segment == "strategic"
    assert client.get_supplier("mid-net").segment == "preferred"
    assert client.get_supplier("new-net").segment == "tactical"
    listed = {s.supplier_id: s.segment for s in client.list_suppliers(view=FULL)}
    assert listed == {"big-net": "strategic", "mid-net": "preferred", "new-net": "tactical"}


def test_the_basic_view_leaves_the_segment_out(client: SqmClient) -> None:
    """Like the other derived fields, the segment is in the full view only."""
    contracted(client, "mid-net", Timeline())

    assert client.get_supplier("mid-net", view=pb.SUPPLIER_VIEW_BASIC).segment == ""
