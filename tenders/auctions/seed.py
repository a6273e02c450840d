"""Demo data for live auctions: a finished subasta inversa (bids, a soft-close extension, closed and awarded
on its final prices) and one scheduled to start tomorrow, each built through the services on a clock of its own.

Registered in marketplace/seed.py SEEDERS as "tenders.auctions.seed:seed", after the suppliers and tenders
seeders (it bids with the demo's suppliers in good standing); with fewer than three it adds nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from marketplace.core import clock
from marketplace.core.actor import SYSTEM, Actor
from marketplace.core.demo import Demo
from marketplace.core.money import Money
from marketplace.settings import Settings
from tenders import service as tenders
from tenders.auctions import service as auctions
from tenders.auctions.schemas import AuctionCreate, LanceCreate
from tenders.bids import service as bids
from tenders.bids.schemas import BidCreate, BidLotPrice
from tenders.schemas import LotCreate, TenderCreate
from tenders.seed import Item, _actor, _suppliers


async def _opened_subasta(*, on: clock.FixedClock, settings: Settings, officer: Actor, committee: Actor,
                          suppliers: list[Actor], title: str, item: Item, ubigeo: str,
                          prices: list[float]) -> tuple[UUID, UUID]:
    """A subasta inversa with one lot, bid on and opened by the quorum (the officer and a committee member), on
    the demo clock `on` (the clock in force, which this moves). Returns (tender id, lot id)."""
    name, code, unit, qty, value = item
    now = clock.now()
    data = TenderCreate(
        title=title, method="reverse_auction", category="goods",
        description=f"{title}. Bien común con ficha técnica; precio como único factor de evaluación.",
        lots=[LotCreate(title=name, classification_scheme="UNSPSC", classification_code=code, unit=unit,
                        quantity=Decimal(qty), estimated_value=Money(amount=value), delivery_ubigeo=ubigeo)],
        enquiry_end=now + timedelta(days=2), submission_deadline=now + timedelta(days=6),
        opening_time=now + timedelta(days=6, hours=1))
    tender_id = await tenders.create_tender(actor=officer, settings=settings, data=data)
    lot_id: UUID = (await tenders.load_lots(tender_id=tender_id))[0]["id"]
    await tenders.publish(actor=officer, settings=settings, tender_id=tender_id)
    on.advance(days=3)
    for who, factor in zip(suppliers, prices, strict=False):
        await bids.submit_bid(actor=who, settings=settings, tender_id=tender_id,
                              data=BidCreate(lots=[BidLotPrice(lot_id=lot_id,
                                                               price=Money(amount=int(value * factor)))]))
    on.advance(days=3, hours=2)
    await tenders.advance_by_clock(actor=SYSTEM, settings=settings, tender_id=tender_id)  # closes
    for who in (officer, committee):  # the opening's quorum: two people of the agency
        await bids.open_tender(actor=who, settings=settings, tender_id=tender_id)
    return tender_id, lot_id


async def seed(demo: Demo) -> None:
    settings = demo.settings()
    agencies = [o for o in demo.orgs.get("agency", []) if "officer" in o.users]
    suppliers = await _suppliers(demo)
    if not agencies or len(suppliers) < 3:
        return
    real_now = clock.now()
    made: list[str] = []

    # 1. Finished: opened a week ago, auctioned three days ago with a soft-close extension, awarded.
    officer = _actor(agencies[1 % len(agencies)], "officer", "agency")
    committee = _actor(agencies[1 % len(agencies)], "committee", "agency")
    c = clock.FixedClock(real_now - timedelta(days=10))
    token = clock.use(c)
    try:
        tender_id, lot_id = await _opened_subasta(
            on=c, settings=settings, officer=officer, committee=committee, suppliers=suppliers[:4],
            title="Subasta inversa: papel bond A4 para las sedes administrativas",
            item=("Papel bond A4 80 g, paquete x 500 hojas", "14111507", "paquete", 6000, 9_600_000),
            ubigeo="150101", prices=[0.97, 0.99, 1.01, 1.03][:len(suppliers[:4])])
        start = c.now() + timedelta(days=1)
        schedule = AuctionCreate(starts_at=start, duration_seconds=900, soft_close_seconds=120,
                                 extension_seconds=120, min_decrement_percent=Decimal("0.5"))
        board = await auctions.schedule(actor=officer, settings=settings, tender_id=tender_id, lot_id=lot_id,
                                        data=schedule)
        c.set(start + timedelta(seconds=5))
        await auctions.settle(auction_id=board.id, settings=settings)
        bidders = suppliers[:4]
        steps = [(1, 60), (0, 200), (2, 420), (1, 610), (0, 840), (1, 895), (0, 1000)]  # (bidder, seconds)
        for who, at in steps:
            c.set(start + timedelta(seconds=at))
            now_board = auctions.render(await auctions.load_board(board.id), viewer=bidders[who].org_id, now=c.now())
            assert now_board.you is not None
            await auctions.place_bid(actor=bidders[who], settings=settings, auction_id=board.id,
                                     data=LanceCreate(price=Money(amount=now_board.you.next_max_price.amount - 1_000)))
        c.set(start + timedelta(hours=1))
        await auctions.settle(auction_id=board.id, settings=settings)  # closes (the extended window is over) and awards
        made.append("finished")
    finally:
        clock._current.reset(token)

    # 2. Scheduled: opened yesterday, its auction starts tomorrow at 10:00 Lima time.
    officer = _actor(agencies[2 % len(agencies)], "officer", "agency")
    committee = _actor(agencies[2 % len(agencies)], "committee", "agency")
    c = clock.FixedClock(real_now - timedelta(days=7))
    token = clock.use(c)
    try:
        tender_id, lot_id = await _opened_subasta(
            on=c, settings=settings, officer=officer, committee=committee, suppliers=suppliers[:3],
            title="Subasta inversa: cemento Portland tipo I para obras de saneamiento",
            item=("Cemento Portland tipo I, bolsa de 42.5 kg", "30111601", "bolsa", 5000, 15_500_000),
            ubigeo="080101", prices=[0.98, 1.0, 1.04])
        tomorrow = (real_now + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
        await auctions.schedule(actor=officer, settings=settings, tender_id=tender_id, lot_id=lot_id,
                                data=AuctionCreate(starts_at=tomorrow, duration_seconds=1200))
        made.append("scheduled")
    finally:
        clock._current.reset(token)
    demo.extra["auctions"] = made
