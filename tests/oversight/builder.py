"""Tenders driven through the tenders, bids, evaluation and awards services on a moved clock, for the
oversight tests: price-only (no scoring rules) unless told, goods, lots with given classifications."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import db
from marketplace.core.actor import Actor
from marketplace.core.money import Money
from marketplace.settings import override
from tests import factories


def actor_of(login: Any, kind: str, role: str) -> Actor:
    return Actor(user_id=login.user_id, org_id=login.org_id, org_kind=kind, roles=frozenset({role}), via="jwt")


async def agency(settings) -> tuple[Actor, Actor]:
    officer = await factories.login(settings, "agency", "officer")
    committee = await factories.login(settings, "agency", "committee", org_id=officer.org_id)
    return actor_of(officer, "agency", "officer"), actor_of(committee, "agency", "committee")


async def suppliers(settings, n: int) -> list[Actor]:
    from tests.suppliers.factories import registered_supplier

    return [actor_of(await registered_supplier(settings, ubigeo="150101"), "supplier", "bidder") for _ in range(n)]


def with_env(settings, **env: str):
    """`settings` with these REDFLAG_* / STAGE_LIMIT_DAYS values, parsed and checked as the environment's."""
    return override(settings, env)


class Tender:
    def __init__(self, settings, clock, officer: Actor, committee: Actor) -> None:
        self.settings, self.clock, self.officer, self.committee = settings, clock, officer, committee
        self.id: UUID | None = None
        self.lots: list[UUID] = []
        self.bids: dict[tuple[int, int], UUID] = {}
        self.data: Any = None

    async def publish(self, *, method: str = "simplified_award", codes: list[str] | None = None,
                      deadline_days: int = 10, enquiry_days: int = 4, value: int = 10_000_000) -> Tender:
        from tenders import service as tenders
        from tenders.schemas import LotCreate, TenderCreate

        now = self.clock.now()
        codes = codes or ["30111601"]
        self.data = TenderCreate(
            title="Adquisición de prueba", method=method, category="goods",
            lots=[LotCreate(title=f"Lote {i + 1}", estimated_value=Money(amount=value), classification_scheme="UNSPSC",
                            classification_code=code, quantity=Decimal(10), unit="unidad", delivery_ubigeo="150101")
                  for i, code in enumerate(codes)],
            enquiry_end=now + timedelta(days=enquiry_days), submission_deadline=now + timedelta(days=deadline_days),
            opening_time=now + timedelta(days=deadline_days, hours=1))
        async with db.unit_of_work():
            self.id = await tenders.create_tender(actor=self.officer, settings=self.settings, data=self.data)
            self.lots = [lot["id"] for lot in await tenders.load_lots(tender_id=self.id)]
            await tenders.publish(actor=self.officer, settings=self.settings, tender_id=self.id)
        return self

    async def bid(self, who: Actor, prices: dict[int, int], *, minutes_before_deadline: int | None = None) -> None:
        """A bid; by default an hour after the enquiries end (each later bid an hour later)."""
        from tenders.bids import service as bids
        from tenders.bids.schemas import BidCreate, BidLotPrice

        if minutes_before_deadline is not None:
            self.clock.set(self.data.submission_deadline - timedelta(minutes=minutes_before_deadline))
        elif self.clock.now() < self.data.enquiry_end:
            self.clock.set(self.data.enquiry_end + timedelta(hours=1))
        else:
            self.clock.advance(hours=1)
        await self.sweep()
        async with db.unit_of_work():
            receipt = await bids.submit_bid(actor=who, settings=self.settings, tender_id=self.id, data=BidCreate(
                lots=[BidLotPrice(lot_id=self.lots[j], price=Money(amount=p)) for j, p in prices.items()]))
        index = len({k[0] for k in self.bids})
        for j in prices:
            self.bids[(index, j)] = UUID(receipt.bid_id)

    async def sweep(self) -> None:
        """What the tenders sweeper job does when the clock passes a date."""
        from tenders.jobs import sweep_tenders

        await sweep_tenders({"settings": self.settings}, settings=self.settings)

    async def open(self) -> None:
        from tenders.bids import service as bids

        self.clock.set(self.data.submission_deadline + timedelta(minutes=1))
        await self.sweep()  # tendering -> opening at the deadline
        self.clock.set(self.data.opening_time + timedelta(minutes=10))
        for who in (self.officer, self.committee):  # the opening's quorum: two people of the agency
            async with db.unit_of_work():
                await bids.open_tender(actor=who, settings=self.settings, tender_id=self.id)

    async def disqualify(self, bidder: int, lot: int = 0) -> None:
        from tenders.evaluation import service as evaluation
        from tenders.evaluation.schemas import QualificationCreate

        async with db.unit_of_work():
            await evaluation.qualify(actor=self.committee, tender_id=self.id, data=QualificationCreate(
                lot_id=self.lots[lot], bid_id=self.bids[(bidder, lot)], qualified=False, reason="No cumple"))

    async def qualify(self, bidder: int, lot: int = 0) -> None:
        from tenders.evaluation import service as evaluation
        from tenders.evaluation.schemas import QualificationCreate

        async with db.unit_of_work():
            await evaluation.qualify(actor=self.committee, tender_id=self.id, data=QualificationCreate(
                lot_id=self.lots[lot], bid_id=self.bids[(bidder, lot)], qualified=True))

    async def award(self) -> Any:
        from tenders.awards import service as awards
        from tenders.awards.schemas import AwardCreate

        async with db.unit_of_work():
            return await awards.award(actor=self.officer, settings=self.settings, tender_id=self.id,
                                      data=AwardCreate())
