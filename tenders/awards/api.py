"""Award and appeal endpoints."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep, SettingsDep
from tenders.awards import service
from tenders.awards.schemas import (
    AppealCreate,
    AppealDecisionCreate,
    AppealRead,
    AwardCreate,
    AwardRead,
    AwardResult,
)


class TenderAwardsController(Controller):
    path = "/api/v1/tenders/{tender_id:uuid}/awards"
    tags = ["awards"]

    @post("/", summary="Award the lots in evaluation, or declare them desierto (officer of the owning agency)",
          status_code=201)
    async def award(self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep,
                    data: JSONBody[AwardCreate | None] = None) -> AwardResult:
        result = await service.award(actor=actor, settings=settings, tender_id=tender_id,
                                     data=data or AwardCreate())
        return result

    @get("/", summary="The tender's awards (public)")
    async def list_awards(self, tender_id: FromPath[UUID], actor: ActorDep) -> list[AwardRead]:
        return await service.list_awards(actor=actor, tender_id=tender_id)


class AwardController(Controller):
    path = "/api/v1/awards/{award_id:uuid}"
    tags = ["awards"]

    @get("/", summary="An award (public)")
    async def get_award(self, award_id: FromPath[UUID], actor: ActorDep) -> AwardRead:
        return await service.get_award(actor=actor, award_id=award_id)

    @post("/appeals", summary="Appeal the award during the standstill (a bidder of the lot)", status_code=201)
    async def file_appeal(self, award_id: FromPath[UUID], data: JSONBody[AppealCreate], actor: ActorDep,
                          settings: SettingsDep) -> AppealRead:
        result = await service.file_appeal(actor=actor, award_id=award_id, data=data,
                                           bond_percent=settings.appeal_bond_percent,
                                           tribunal_above_cents=settings.appeal_tribunal_above_cents)
        return result

    @get("/appeals", summary="The award's appeals and their decisions (public)")
    async def list_appeals(self, award_id: FromPath[UUID], actor: ActorDep) -> list[AppealRead]:
        return await service.list_appeals(actor=actor, award_id=award_id)

    @post("/appeals/{appeal_id:uuid}/decision", summary="Decide an appeal (its deciding body: the agency's head up "
          "to APPEAL_TRIBUNAL_UIT of the lot's estimated value, the Tribunal above): upheld cancels the award and "
          "reopens the lot's evaluation; dismissed lets consent proceed", status_code=200)
    async def decide(self, award_id: FromPath[UUID], appeal_id: FromPath[UUID], data: JSONBody[AppealDecisionCreate],
                     actor: ActorDep) -> AppealRead:
        result = await service.decide_appeal(actor=actor, award_id=award_id, appeal_id=appeal_id, data=data)
        return result


class AppealsController(Controller):
    path = "/api/v1/appeals"
    tags = ["awards"]

    @get("/", summary="Appeals across awards, oldest first (public); by default those awaiting a decision")
    async def list_appeals(
        self, actor: ActorDep,
        appeal_state: Annotated[str | None,
                                QueryParameter(name="state", pattern="^(pending_bond|filed|upheld|dismissed|moot)$")]
        = "filed",
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
        deciding_body: Annotated[str | None, QueryParameter(pattern="^(agency_head|tribunal)$",
                                                            description="one deciding body's work list")] = None,
    ) -> list[AppealRead]:
        return await service.pending_appeals(actor=actor, state=appeal_state, limit=limit, offset=offset,
                                             deciding_body=deciding_body)


ROUTES = [TenderAwardsController, AwardController, AppealsController]
