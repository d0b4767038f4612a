"""The need methods of the client: open a need, shortlist, rank the shortlist, award it.

Each mutating call generates its request id once unless given, and every retry sends that
same id, so a retried call is recorded once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from sqm.client.builders import supplier_name, timestamp
from sqm.client.process_calls import new_request_id
from sqm.client.retry import RetryingClient
from sqm.v1 import needs_pb2 as api
from sqm.v1 import resources_pb2 as pb
from sqm.v1 import supplier_service_pb2_grpc as api_grpc

Values = Mapping[str, Mapping[str, float]]


def need_name(need_id: str) -> str:
    """The resource name of a need."""
    return f"needs/{need_id}"


class NeedCalls(RetryingClient):
    """Mixed into :class:`clients.SqmClient`, which supplies the stub."""

    _stub: api_grpc.SupplierServiceStub

    def create_need(
        self,
        need_id: str,
        title: str,
        category: str,
        required_certificates: Iterable[str] = (),
        *,
        objectives: Sequence[pb.SlaObjective] = (),
        quantity: int = 0,
        budget: pb.Money | None = None,
        required_by: datetime | None = None,
        occur_time: datetime | None = None,
        request_id: str | None = None,
    ) -> api.CreateNeedResponse:
        """Open a need for ``category``; shortlisted suppliers must hold every certificate.
        ``objectives`` are its service standard (a contract signed under the award gets them
        when it names none), with the quantity, budget and required-by date when known.
        """
        need = api.Need(
            title=title, category=category, required_certificates=list(required_certificates),
            objectives=list(objectives), quantity=quantity, budget=budget,
            required_by_time=timestamp(required_by),
        )  # fmt: skip
        return self._call(self._stub.CreateNeed, api.CreateNeedRequest(
            need_id=need_id, need=need, occur_time=timestamp(occur_time),
            request_id=request_id or new_request_id(),
        ))  # fmt: skip

    def get_need(self, need_id: str) -> api.Need:
        """Read one need, with its shortlist, rankings and award."""
        return self._call(self._stub.GetNeed, api.GetNeedRequest(name=need_name(need_id))).need

    def list_needs(self, page_size: int = 0) -> Iterator[api.Need]:
        """Every need in id order, fetched a page at a time."""
        request = api.ListNeedsRequest(page_size=page_size)
        for page in self._pages(self._stub.ListNeeds, request):
            yield from page.needs

    def shortlist_supplier(
        self,
        need_id: str,
        supplier_id: str,
        *,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
    ) -> api.ShortlistSupplierResponse:
        """Put a qualified supplier that meets the need on its shortlist."""
        return self._call(self._stub.ShortlistSupplier, api.ShortlistSupplierRequest(
            name=need_name(need_id), supplier=supplier_name(supplier_id),
            occur_time=timestamp(occur_time), etag=etag,
            request_id=request_id or new_request_id(),
        ))  # fmt: skip

    def rank_shortlist(
        self,
        need_id: str,
        values: Values,
        *,
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
    ) -> api.RankShortlistResponse:
        """Rank the whole shortlist and keep the ranking; ``values`` gives, per supplier id,
        the raw cost values (price, lead time) the ranking needs.
        """
        candidates = [
            api.RankedCandidateInput(supplier=supplier_name(s), values=dict(v))
            for s, v in values.items()
        ]
        return self._call(self._stub.RankShortlist, api.RankShortlistRequest(
            name=need_name(need_id), candidates=candidates, occur_time=timestamp(occur_time),
            etag=etag, request_id=request_id or new_request_id(),
        ))  # fmt: skip

    def award_need(
        self,
        need_id: str,
        supplier_id: str,
        *,
        reason: str = "",
        occur_time: datetime | None = None,
        etag: str = "",
        request_id: str | None = None,
    ) -> api.AwardNeedResponse:
        """Award the need to a shortlisted supplier (a reason when not ranked first)."""
        return self._call(self._stub.AwardNeed, api.AwardNeedRequest(
            name=need_name(need_id), supplier=supplier_name(supplier_id), reason=reason,
            occur_time=timestamp(occur_time), etag=etag,
            request_id=request_id or new_request_id(),
        ))  # fmt: skip
