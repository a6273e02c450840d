"""Demo data for evaluation and awards: tenders scored by a committee, awarded (standstill), appealed,
consented and declared desierto, each built through the services as users would, on a moved clock.

Registered in marketplace/seed.py SEEDERS as "tenders.awards.seed:seed". It needs seed_core's agencies
(with an officer and committee members) and seed_core's suppliers registered in good standing by the
suppliers seeder (list it before this one); with fewer than four such suppliers it adds nothing.
Everything happens in the seed's one transaction; the clock is moved only for this task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import clock
from marketplace.core.actor import Actor
from marketplace.core.demo import Demo, DemoOrg
from marketplace.core.money import Money
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.awards import service as awards
from tenders.awards.schemas import AppealCreate, AwardCreate, AwardResult
from tenders.bids import service as bids
from tenders.bids.schemas import BidCreate, BidLotPrice, Receipt
from tenders.evaluation import acta, committee
from tenders.evaluation import service as evaluation
from tenders.evaluation.schemas import (
    CriterionWrite,
    PointsEntry,
    QualificationCreate,
    ScoringRulesWrite,
    TechnicalPointsCreate,
)
from tenders.schemas import Category, LotCreate, MethodName, TenderCreate

log = logging.getLogger(__name__)

# Preferred bidders among seed_core's suppliers, by domicile: Cusco, Arequipa, Arequipa, Lima.
PREFERRED = ["080108", "040101", "040101", "150132"]

# The scoring rules of every scenario that has them: the technical weight, and (code, name, maximum points).
TECHNICAL_WEIGHT = Decimal("0.6")
CRITERIA: list[tuple[str, str, Decimal]] = [
    ("exp", "Experiencia del postor en la especialidad", Decimal(60)),
    ("team", "Calificación del personal clave", Decimal(40))]


def _actor(org: DemoOrg, role: str, kind: str) -> Actor:
    return Actor(user_id=org.users[role], org_id=org.id, org_kind=kind, roles=frozenset({role}), via="jwt")


async def _bidders(demo: Demo) -> list[Actor]:
    """Four of the demo's suppliers that the registry has in good standing (the suppliers seeder registers
    them; it must run before this one), the preferred domiciles first."""

    orgs = [o for o in demo.orgs.get("supplier", []) if "bidder" in o.users]
    standing = await suppliers.get_suppliers(org_ids=[o.id for o in orgs])
    active = [o for o in orgs if o.id in standing and standing[o.id].in_good_standing]
    chosen: list[DemoOrg] = []
    for ubigeo in PREFERRED:
        match = next((o for o in active if o.ubigeo == ubigeo and o not in chosen), None)
        if match is not None:
            chosen.append(match)
    chosen += [o for o in active if o not in chosen]
    return [_actor(o, "bidder", "supplier") for o in chosen[:4]]


class _Scenario:
    """One tender driven from draft to evaluation on a clock of its own."""

    def __init__(self, *, demo: Demo, settings: Settings, officer: Actor, committee: Actor,
                 start: datetime) -> None:
        self.demo, self.settings, self.officer, self.committee = demo, settings, officer, committee
        self.clock = clock.FixedClock(start)
        self.tender_id: UUID | None = None
        self.enquiry_end: Any = None
        self.opening_time: Any = None
        self.lots: list[UUID] = []
        self.bids: dict[tuple[int, int], UUID] = {}

    async def draft(self, *, title: str, method: MethodName, category: Category, lots: list[tuple[str, int, str]],
                    consultancy: bool = False, rules: bool = True, enquiry_days: int = 4,
                    deadline_days: int = 10) -> None:

        now = self.clock.now()
        data = TenderCreate(
            title=title, method=method, category=category, consultancy=consultancy,
            lots=[LotCreate(title=t, estimated_value=Money(amount=v), classification_scheme="UNSPSC",
                            classification_code="72101500",
                            quantity=Decimal(1), unit="servicio", delivery_ubigeo=u) for t, v, u in lots],
            enquiry_end=now + timedelta(days=enquiry_days), submission_deadline=now + timedelta(days=deadline_days),
            opening_time=now + timedelta(days=deadline_days, hours=1))
        self.enquiry_end = data.enquiry_end
        self.opening_time = data.opening_time
        self.tender_id = await tenders.create_tender(actor=self.officer, settings=self.settings, data=data)
        if rules:
            rules_data = ScoringRulesWrite(
                technical_weight=TECHNICAL_WEIGHT,
                criteria=[CriterionWrite(code=c, name=n, max_points=m) for c, n, m in CRITERIA])
            await evaluation.set_rules(actor=self.officer, settings=self.settings, tender_id=self.tender_id,
                                       data=rules_data)
        self.lots = [lot["id"] for lot in await tenders.load_lots(tender_id=self.tender_id)]
        await tenders.publish(actor=self.officer, settings=self.settings, tender_id=self.tender_id)

    async def bid_and_open(self, bidders: list[Actor], prices: list[dict[int, int]]) -> None:

        assert self.tender_id is not None
        self.clock.set(self.enquiry_end + timedelta(hours=1))
        for i, (who, by_lot) in enumerate(zip(bidders, prices, strict=False)):
            receipt = await bids.submit_bid(actor=who, settings=self.settings, tender_id=self.tender_id, data=BidCreate(
                lots=[BidLotPrice(lot_id=self.lots[j], price=Money(amount=p)) for j, p in by_lot.items()]))
            assert isinstance(receipt, Receipt)  # no Idempotency-Key claim: a new receipt, never a stored replay
            for j in by_lot:
                self.bids[(i, j)] = UUID(receipt.bid_id)
            self.clock.advance(hours=2)
        self.clock.set(self.opening_time + timedelta(minutes=10))
        for who in (self.officer, self.committee):  # the opening's quorum: two people of the agency
            await bids.open_tender(actor=who, settings=self.settings, tender_id=self.tender_id)

    async def score(self, bidder: int, lot: int, exp: int, team: int) -> None:

        assert self.tender_id is not None
        for member in await self.members():  # each member's own sheet; the committee's points by majority
            await evaluation.enter_points(actor=member, tender_id=self.tender_id, data=TechnicalPointsCreate(
                lot_id=self.lots[lot], bid_id=self.bids[(bidder, lot)],
                scores=[PointsEntry(criterion="exp", points=Decimal(exp)),
                        PointsEntry(criterion="team", points=Decimal(team))]))

    async def members(self) -> list[Actor]:
        """The committee: every committee member of the agency (the demo's agencies have two)."""
        assert self.tender_id is not None
        t = await tenders.load_tender(tender_id=self.tender_id)
        board, _ = await committee.members(tender=t)
        return [Actor(user_id=m.user_id, org_id=t["agency_id"], org_kind="agency", roles=frozenset({"committee"}),
                      via="jwt") for m in board]

    async def disqualify(self, bidder: int, lot: int, reason: str) -> None:

        assert self.tender_id is not None
        await evaluation.qualify(actor=self.committee, tender_id=self.tender_id, data=QualificationCreate(
            lot_id=self.lots[lot], bid_id=self.bids[(bidder, lot)], qualified=False, reason=reason))

    async def award(self) -> AwardResult:
        assert self.tender_id is not None
        first, *others = await self.members()
        drafted = await acta.draft(actor=first, settings=self.settings, tender_id=self.tender_id)
        for member in others:  # the whole committee confirms the acta before the award
            await acta.confirm(actor=member, settings=self.settings, tender_id=self.tender_id, acta_id=drafted.id,
                               dissent="")
        return await awards.award(actor=self.officer, settings=self.settings, tender_id=self.tender_id,
                                  data=AwardCreate())


async def seed(demo: Demo) -> None:
    """Five tenders past their opening: evaluated, awarded (standstill), appealed, consented, desierto."""
    agencies = {org.name: org for org in demo.orgs.get("agency", [])}
    cusco = agencies.get("Gobierno Regional del Cusco")
    arequipa = agencies.get("Municipalidad Provincial de Arequipa")
    if cusco is None or arequipa is None or not demo.orgs.get("oversight"):
        return  # seed_core did not run: nothing to build on
    settings = demo.settings()
    bidders = await _bidders(demo)
    if len(bidders) < 4:
        log.warning("awards demo skipped: fewer than 4 suppliers in good standing (run the suppliers seeder first)")
        return
    a, b, c, d = bidders
    real_now = clock.now()

    def scenario(agency: DemoOrg, start: datetime) -> _Scenario:
        return _Scenario(demo=demo, settings=settings, officer=_actor(agency, "officer", "agency"),
                         committee=_actor(agency, "committee", "agency"), start=start)

    async def run(s: _Scenario, body: Callable[[_Scenario], Awaitable[None]]) -> None:
        token = clock.use(s.clock)  # this task only: the rest of the process keeps the real clock
        try:
            await body(s)
        finally:
            clock._current.reset(token)

    # 1. Consented: two lots in Cusco, awarded 40 days ago; the standstill passed without appeal.
    async def consented(s: _Scenario) -> None:
        await s.draft(title="Mantenimiento preventivo de locales de salud de la provincia del Cusco",
                      method="simplified_award", category="services",
                      lots=[("Centros de salud de Wanchaq y Santiago", 15_000_000, "080108"),
                            ("Puestos de salud de Anta", 18_000_000, "080301")])
        await s.bid_and_open([a, b, c], [{0: 12_800_000, 1: 16_500_000}, {0: 13_500_000, 1: 15_900_000},
                                         {0: 11_900_000, 1: 17_200_000}])
        for bidder, lot, exp, team in [(0, 0, 52, 34), (1, 0, 45, 30), (2, 0, 50, 28), (0, 1, 55, 36),
                                       (1, 1, 57, 35), (2, 1, 40, 30)]:
            await s.score(bidder, lot, exp, team)
        result = await s.award()
        s.clock.advance(days=20)
        for outcome in result.lots:
            if outcome.award:
                await awards.settle(award_id=outcome.award.id)

    await run(scenario(cusco, real_now - timedelta(days=70)), consented)

    # 2. Desierto: the only bid was disqualified.
    async def desierto(s: _Scenario) -> None:
        await s.draft(title="Consultoría para el expediente técnico del mercado de Anta",
                      method="public_contest", category="services", consultancy=True,
                      lots=[("Expediente técnico", 19_000_000, "080301")], enquiry_days=11, deadline_days=23)
        await s.bid_and_open([d], [{0: 18_500_000}])
        await s.disqualify(0, 0, "No acreditó la colegiatura del jefe de proyecto")
        await s.award()

    await run(scenario(arequipa, real_now - timedelta(days=50)), desierto)

    # 3. Awarded, in standstill now (awarded two hours ago).
    async def standstill(s: _Scenario) -> None:
        await s.draft(title="Servicio de limpieza de instituciones educativas de Arequipa",
                      method="simplified_award", category="services",
                      lots=[("Instituciones educativas del Cercado", 9_000_000, "040101")])
        await s.bid_and_open([c, d, b], [{0: 8_100_000}, {0: 7_600_000}, {0: 8_400_000}])
        for bidder, exp, team in [(0, 55, 36), (1, 40, 25), (2, 48, 30)]:
            await s.score(bidder, 0, exp, team)
        await s.award()

    await run(scenario(arequipa, real_now - timedelta(days=10, hours=3)), standstill)

    # 4. Appealed: awarded yesterday; a losing bidder appealed; the Tribunal (a lot above 50 UIT) has not decided.
    async def appealed(s: _Scenario) -> None:
        await s.draft(title="Mantenimiento de vías vecinales de Anta",
                      method="simplified_award", category="works",
                      lots=[("Camino vecinal Anta - Pucyura", 60_000_000, "080301")])
        await s.bid_and_open([a, b, d], [{0: 55_000_000}, {0: 57_500_000}, {0: 51_000_000}])
        for bidder, exp, team in [(0, 50, 32), (1, 58, 38), (2, 35, 20)]:
            await s.score(bidder, 0, exp, team)
        result = await s.award()
        s.clock.advance(hours=20)
        winner = result.lots[0].award
        assert winner is not None
        loser = next(x for x in (a, b, d) if x.org_id != winner.supplier_id)
        await awards.file_appeal(actor=loser, award_id=winner.id, data=AppealCreate(
            grounds="El comité no valoró la experiencia acreditada en obras similares de la región."))

    await run(scenario(cusco, real_now - timedelta(days=11, hours=1)), appealed)

    # 5. Evaluated, not yet awarded: the committee's points are in; the officer has not awarded.
    async def evaluated(s: _Scenario) -> None:
        await s.draft(title="Servicio de vigilancia de la sede regional",
                      method="simplified_award", category="services",
                      lots=[("Sede central", 14_000_000, "080101")])
        await s.bid_and_open([a, c], [{0: 13_200_000}, {0: 12_700_000}])
        await s.score(0, 0, 56, 35)
        await s.score(1, 0, 49, 31)

    await run(scenario(cusco, real_now - timedelta(days=11)), evaluated)

