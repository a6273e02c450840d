"""Evaluation endpoints: scoring rules, the committee's points and qualifications, score sheets."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody

from marketplace.core.deps import ActorDep, SettingsDep
from tenders.evaluation import service
from tenders.evaluation.schemas import (
    QualificationCreate,
    QualificationRead,
    ScoreSheetRead,
    ScoringRulesRead,
    ScoringRulesWrite,
    TechnicalPointsCreate,
    TechnicalPointsRead,
)


class EvaluationController(Controller):
    path = "/api/v1/tenders/{tender_id:uuid}/evaluation"
    tags = ["evaluation"]

    @get("/rules", summary="How the tender is scored: weights, criteria, bonus policies, tie rule, rounding")
    async def get_rules(self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> ScoringRulesRead:
        return await service.get_rules(actor=actor, settings=settings, tender_id=tender_id)

    @put("/rules", summary="Set the scoring rules (officer of the owning agency, before tendering starts)")
    async def set_rules(self, tender_id: FromPath[UUID], data: JSONBody[ScoringRulesWrite],
                        actor: ActorDep, settings: SettingsDep) -> ScoringRulesRead:
        result = await service.set_rules(actor=actor, settings=settings, tender_id=tender_id, data=data)
        return result

    @post("/scores", summary="Enter technical points of a bid per criterion (evaluation committee)",
          status_code=200)
    async def enter_points(self, tender_id: FromPath[UUID], data: JSONBody[TechnicalPointsCreate],
                           actor: ActorDep) -> TechnicalPointsRead:
        result = await service.enter_points(actor=actor, tender_id=tender_id, data=data)
        return result

    @post("/qualifications", summary="Qualify or disqualify a bid, with a reason (evaluation committee)",
          status_code=200)
    async def qualify(self, tender_id: FromPath[UUID], data: JSONBody[QualificationCreate],
                      actor: ActorDep) -> QualificationRead:
        result = await service.qualify(actor=actor, tender_id=tender_id, data=data)
        return result

    @get("/score-sheets", summary="Score sheets per lot: public once written (award or desierto); the owning "
                                  "agency also sees provisional ones")
    async def score_sheets(self, tender_id: FromPath[UUID], actor: ActorDep,
                           settings: SettingsDep) -> list[ScoreSheetRead]:
        return await service.score_sheets(actor=actor, settings=settings, tender_id=tender_id)


ROUTES = [EvaluationController]
