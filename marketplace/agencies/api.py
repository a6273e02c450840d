"""/api/v1/agencies: register (platform admin), public list and detail."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.agencies import service
from marketplace.agencies.schemas import AgencyCreate, AgencyCreated, AgencyPage, AgencyRead, Level
from marketplace.core.deps import ActorDep


class AgencyController(Controller):
    path = "/api/v1/agencies"
    tags = ["agencies"]

    @post("/", summary="Register an agency and its first administrator (platform admins)")
    async def create(self, data: JSONBody[AgencyCreate], actor: ActorDep) -> AgencyCreated:
        return await service.create_agency(actor=actor, data=data)

    @get("/", summary="Agencies by name (public), one page at a time", security=[])
    async def list_agencies(
        self,
        actor: ActorDep,
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="page size")] = 50,
        after: Annotated[str | None,
                         QueryParameter(max_length=600, description="`next_cursor` of the previous page")] = None,
        level: FromQuery[Level | None] = None,
        region: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{2}([0-9]{4})?$",
                                                description="region code (2 digits) or any ubigeo in it")] = None,
        q: Annotated[str | None, QueryParameter(max_length=100, description="part of the name")] = None,
    ) -> AgencyPage:
        return await service.list_agencies(actor=actor, limit=limit, after=after, level=level, region=region, q=q)

    @get("/{agency_id:uuid}", summary="An agency (public)", security=[])
    async def detail(self, agency_id: FromPath[UUID], actor: ActorDep) -> AgencyRead:
        return await service.get_agency(actor=actor, agency_id=agency_id)


ROUTES = [AgencyController]
