"""End to end: ranking a shortlist by weighted sum and TOPSIS under the active policy."""

from __future__ import annotations

import math

import grpc
import pytest

from sqm.client import SqmClient
from sqm.v1 import needs_pb2 as needs_api
from sqm.v1 import supplier_service_pb2 as api
from sqm.v1 import supplier_service_pb2_grpc as api_grpc
from tests.e2e.evidence import DECISION_TIME, GOOD_SCORES
from tests.e2e.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def _scored(client: SqmClient, supplier_id: str, scores: dict[str, float]) -> None:
    client.register_supplier(
        supplier_id, supplier_id, "network_equipment", occur_time=DECISION_TIME
    )
    client.submit_qualification_evidence(supplier_id, scores=scores, occur_time=DECISION_TIME)


def _rank(
    server: ServerProcess, *candidates: needs_api.RankedCandidateInput
) -> api.RankCandidatesResponse:
    with grpc.insecure_channel(server.address) as channel:
        stub = api_grpc.SupplierServiceStub(channel)
        return stub.RankCandidates(api.RankCandidatesRequest(candidates=candidates), timeout=10)


def test_a_shortlist_is_ranked_by_both_methods_with_a_report(
    server: ServerProcess, client: SqmClient
) -> None:
    """The stronger candidate ranks first by weighted sum and TOPSIS; the report says why."""
    _scored(client, "strong-co", GOOD_SCORES)
    _scored(client, "weak-co", {name: score - 20 for name, score in GOOD_SCORES.items()})

    # Price (CNY a month) and lead time (days) are cost criteria: raw values, lower is better.
    response = _rank(
        server,
        needs_api.RankedCandidateInput(
            supplier="suppliers/weak-co", values={"price": 130000, "delivery_lead_time": 45}
        ),
        needs_api.RankedCandidateInput(
            supplier="suppliers/strong-co", values={"price": 120000, "delivery_lead_time": 30}
        ),
    )

    assert [c.supplier for c in response.candidates] == ["suppliers/strong-co", "suppliers/weak-co"]
    assert [c.weighted_rank for c in response.candidates] == [1, 2]
    assert [c.topsis_rank for c in response.candidates] == [1, 2]
    assert response.methods_agree
    assert len(response.policy_version) == 64
    assert any(line.startswith("1. strong-co") for line in response.report)


def test_ranking_names_what_is_wrong_with_the_shortlist(
    server: ServerProcess, client: SqmClient
) -> None:
    """Unknown suppliers are NOT_FOUND; NaN values and missing scores are INVALID_ARGUMENT."""
    _scored(client, "partial-co", {"capability": 80.0})
    with pytest.raises(grpc.RpcError) as unknown:
        _rank(server, needs_api.RankedCandidateInput(supplier="suppliers/nobody"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.RpcError) as nan:
        _rank(
            server,
            needs_api.RankedCandidateInput(
                supplier="suppliers/partial-co", values={"price": math.nan}
            ),
        )
    assert nan.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "candidates[0].values['price']" in (nan.value.details() or "")

    with pytest.raises(grpc.RpcError) as no_price:
        _rank(server, needs_api.RankedCandidateInput(supplier="suppliers/partial-co"))
    assert no_price.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "candidates[0].values['price']" in (no_price.value.details() or "")

    raw = {"price": 100000, "delivery_lead_time": 20}
    with pytest.raises(grpc.RpcError) as unscored:
        _rank(server, needs_api.RankedCandidateInput(supplier="suppliers/partial-co", values=raw))
    assert unscored.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "candidates" in (unscored.value.details() or "")
