"""Needs: open one, shortlist qualified suppliers, rank the shortlist (kept), award it."""

from __future__ import annotations

from typing import Any

from sqm.domain.errors import InvalidCommand
from sqm.domain.needs import NeedCommand, validate_need_command
from sqm.server.api import mapping, need_mapping, pagination
from sqm.server.api.errors import translated
from sqm.server.api.servicer_base import Context, Mapper, ServicerBase
from sqm.server.app.needs import NeedResult, NeedService
from sqm.v1 import needs_pb2 as api

NEEDS_PAGE = (50, 1000)  # (default, maximum)


class NeedMethods(ServicerBase):
    """The need resource: its standard methods and the custom ones that move it on."""

    @translated
    async def CreateNeed(  # noqa: N802 - gRPC method names are PascalCase
        self, request: api.CreateNeedRequest, context: Context
    ) -> api.CreateNeedResponse:
        """Open a need."""
        result = await self._need_command(need_mapping.create_need, request, context)
        return api.CreateNeedResponse(need=need_mapping.need(result.need), events=_events(result))

    @translated
    async def GetNeed(  # noqa: N802
        self, request: api.GetNeedRequest, context: Context
    ) -> api.GetNeedResponse:
        """Read one need."""
        state = await self._run(self._need_service().get, need_mapping.need_id(request.name))
        return api.GetNeedResponse(need=need_mapping.need(state))

    @translated
    async def ListNeeds(  # noqa: N802
        self, request: api.ListNeedsRequest, context: Context
    ) -> api.ListNeedsResponse:
        """List needs in id order."""
        size = pagination.page_size(request.page_size, *NEEDS_PAGE)
        after = pagination.decode(request.page_token, "needs") or ""
        states = await self._run(self._need_service().list_needs, str(after), size + 1)
        page, more = states[:size], len(states) > size
        token = pagination.encode("needs", page[-1].need_id) if more else ""
        return api.ListNeedsResponse(
            needs=[need_mapping.need(s) for s in page], next_page_token=token
        )

    @translated
    async def ShortlistSupplier(  # noqa: N802
        self, request: api.ShortlistSupplierRequest, context: Context
    ) -> api.ShortlistSupplierResponse:
        """Put a supplier on the need's shortlist."""
        result = await self._need_command(need_mapping.shortlist_supplier, request, context)
        return api.ShortlistSupplierResponse(
            need=need_mapping.need(result.need), events=_events(result), warning=_warning(result)
        )

    @translated
    async def RankShortlist(  # noqa: N802
        self, request: api.RankShortlistRequest, context: Context
    ) -> api.RankShortlistResponse:
        """Rank the whole shortlist and keep the ranking."""
        result = await self._need_command(need_mapping.rank_shortlist, request, context)
        latest = result.need.latest_ranking
        return api.RankShortlistResponse(
            need=need_mapping.need(result.need),
            ranking=need_mapping.ranking(latest) if latest is not None else None,
            events=_events(result),
        )

    @translated
    async def AwardNeed(  # noqa: N802
        self, request: api.AwardNeedRequest, context: Context
    ) -> api.AwardNeedResponse:
        """Award the need to a shortlisted supplier."""
        result = await self._need_command(need_mapping.award_need, request, context)
        return api.AwardNeedResponse(
            need=need_mapping.need(result.need), events=_events(result), warning=_warning(result)
        )

    async def _need_command(
        self, mapper: Mapper[NeedCommand], request: Any, context: Context
    ) -> NeedResult:
        command, request_context = self._prepare(mapper, request, context, validate_need_command)
        try:
            return await self._run(self._need_service().execute, command, request_context)
        except InvalidCommand as error:
            raise mapping.in_api_terms(error, command) from None

    def _need_service(self) -> NeedService:
        if self._needs is None:  # a servicer built without needs (some unit tests)
            raise RuntimeError("this server was built without the need service")
        return self._needs


def _warning(result: NeedResult) -> str:
    """The warning the command's event recorded (a replay answers with the one recorded)."""
    return next((str(e.payload.get("warning", "")) for e in result.events), "")


def _events(result: NeedResult) -> list[Any]:
    return [mapping.supplier_event(e) for e in result.events]
