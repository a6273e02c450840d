"""Evaluation endpoints: scoring rules, the committee's points and qualifications, score sheets."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody

from marketplace.core.deps import ActorDep, SettingsDep
from tenders.evaluation import acta, committee, service
from tenders.evaluation.schemas import (
    ActaConfirm,
    ActaRead,
    CommitteeRead,
    CommitteeWrite,
    MemberScoreRead,
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

    @get("/committee", summary="The tender's evaluation committee (public)")
    async def get_committee(self, tender_id: FromPath[UUID], actor: ActorDep) -> CommitteeRead:
        return await committee.read_committee(actor=actor, tender_id=tender_id)

    @put("/committee", summary="Designate the evaluation committee: 2 to 9 committee members of the agency, and "
                               "how many of them open the bids (officer of the owning agency, before the opening)")
    async def designate(self, tender_id: FromPath[UUID], data: JSONBody[CommitteeWrite], actor: ActorDep,
                        settings: SettingsDep) -> CommitteeRead:
        result = await committee.designate(actor=actor, settings=settings, tender_id=tender_id, user_ids=data.members,
                                           opening_quorum=data.opening_quorum)
        return result

    @get("/member-sheets", summary="Each committee member's own points per bid and criterion (the owning agency "
                                   "during the evaluation; public once awarded)")
    async def member_sheets(self, tender_id: FromPath[UUID], actor: ActorDep) -> list[MemberScoreRead]:
        return await committee.member_sheets(actor=actor, tender_id=tender_id)

    @post("/acta", summary="Draft the evaluation record of the lots in evaluation (a committee member; drafting "
                           "confirms it)", status_code=201)
    async def draft_acta(self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> ActaRead:
        result = await acta.draft(actor=actor, settings=settings, tender_id=tender_id)
        return result

    @post("/acta/confirm", summary="Confirm the latest acta, with a dissenting opinion if any (a committee member)",
          status_code=200)
    async def confirm_acta(self, tender_id: FromPath[UUID], data: JSONBody[ActaConfirm], actor: ActorDep,
                           settings: SettingsDep) -> ActaRead:
        result = await acta.confirm(actor=actor, settings=settings, tender_id=tender_id, acta_id=data.acta_id,
                                    dissent=data.dissent)
        return result

    @get("/acta", summary="The committee's latest acta and who confirmed it (the owning agency during the "
                          "evaluation; public once awarded)")
    async def get_acta(self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> ActaRead:
        return await acta.get_acta(actor=actor, settings=settings, tender_id=tender_id)


ROUTES = [EvaluationController]
