"""Demo data for tenders: one or more tenders in every state up to evaluation, with sealed bids and openings,
built through the services as users would, each on a clock of its own (moved only for its task).

Registered in marketplace/seed.py SEEDERS as "tenders.seed:seed", after the suppliers seeder (it bids with
the demo's suppliers in good standing) and before tenders.awards.seed (evaluated and awarded tenders).
States made here: draft, published (enquiries open, with questions and answers), tendering (sealed bids
waiting), opening (deadline passed, bids not opened yet), evaluation (opened), cancelled, unsuccessful
(desierto: no bids), and an amended tender with a reconfirmed bid.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import clock
from marketplace.core.actor import SYSTEM, Actor
from marketplace.core.demo import Demo, DemoOrg
from marketplace.core.money import Money
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.bids import service as bids
from tenders.bids.schemas import BidCreate, BidLotPrice, Receipt
from tenders.schemas import (
    Category,
    EnquiryCreate,
    LotCreate,
    LotUpdate,
    MethodName,
    TenderCreate,
    TenderUpdate,
)

# (title, UNSPSC code, unit, quantity, estimated value in céntimos)
Item = tuple[str, str, str, int, int]
GOODS: list[Item] = [
    ("Cemento Portland tipo I, bolsa de 42.5 kg", "30111601", "bolsa", 4000, 12_400_000),
    ("Carpetas escolares unipersonales", "56121502", "unidad", 600, 14_700_000),
    ("Paracetamol 500 mg, tabletas", "51142106", "caja x 100", 2500, 3_750_000),
    ("Fierro corrugado de 1/2 pulgada", "30102204", "varilla", 8000, 32_000_000),
    ("Kits de aseo escolar", "53131608", "kit", 3000, 6_000_000),
    ("Computadoras de escritorio", "43211507", "unidad", 80, 28_000_000),
]
SERVICES: list[Item] = [
    ("Servicio de limpieza de locales", "76111501", "mes", 12, 18_000_000),
    ("Mantenimiento de vías vecinales", "72141103", "km", 25, 45_000_000),
]


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid one-page PDF (Helvetica, WinAnsi text): the demo's bases are real files a browser opens."""
    def text(s: str) -> str:
        return s.encode("cp1252", "replace").decode("latin-1").replace("\\", "\\\\").replace("(", "\\(") \
            .replace(")", "\\)")

    body = ["BT /F1 16 Tf 56 780 Td (" + text(title) + ") Tj ET"]
    body += [f"BT /F1 11 Tf 56 {750 - 16 * i} Td ({text(line)}) Tj ET" for i, line in enumerate(lines)]
    stream = "\n".join(body).encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>"
               b" /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _actor(org: DemoOrg, role: str, kind: str) -> Actor:
    return Actor(user_id=org.users[role], org_id=org.id, org_kind=kind, roles=frozenset({role}), via="jwt")


async def _suppliers(demo: Demo) -> list[Actor]:
    orgs = [o for o in demo.orgs.get("supplier", []) if "bidder" in o.users]
    standing = await suppliers.get_suppliers(org_ids=[o.id for o in orgs])
    return [_actor(o, "bidder", "supplier") for o in orgs if o.id in standing and standing[o.id].in_good_standing]


class _Story:
    """One tender on a clock of its own."""

    def __init__(self, *, settings: Settings, officer: Actor, start: datetime) -> None:
        self.settings, self.officer = settings, officer
        self.clock = clock.FixedClock(start)
        self.tender_id: Any = None
        self.lots: list[Any] = []

    async def draft(self, *, title: str, method: MethodName, category: Category, items: list[Item], ubigeo: str,
                    enquiry_days: float, deadline_days: float, consultancy: bool = False) -> None:
        now = self.clock.now()
        deadline = now + timedelta(days=deadline_days)
        data = TenderCreate(
            title=title, method=method, category=category, consultancy=consultancy,
            description=f"{title}. Entrega en el lugar indicado por cada ítem; bases en los documentos.",
            lots=[LotCreate(title=t, classification_scheme="UNSPSC", classification_code=code, unit=unit,
                            quantity=Decimal(q), estimated_value=Money(amount=value), delivery_ubigeo=ubigeo)
                  for t, code, unit, q, value in items],
            enquiry_end=now + timedelta(days=enquiry_days), submission_deadline=deadline,
            opening_time=deadline + timedelta(hours=1))
        self.tender_id = await tenders.create_tender(actor=self.officer, settings=self.settings, data=data)
        self.lots = [lot["id"] for lot in await tenders.load_lots(tender_id=self.tender_id)]

    async def document(self, title: str, text: str, reason: str | None = None) -> None:
        self.documents = getattr(self, "documents", 0) + 1
        await tenders.upload_document(actor=self.officer, tender_id=self.tender_id, title=title,
                                      filename=title.lower().replace(" ", "_") + ".pdf", media_type="application/pdf",
                                      content=demo_pdf(title, [text]), reason=reason)

    async def publish(self) -> None:
        if not getattr(self, "documents", 0):  # every public demo tender has its bases, as a real one would
            await self.document("Bases del procedimiento", "Requisitos, plazos, forma de pago y penalidades.")
            await self.document("Especificaciones técnicas", "Características, cantidades y lugar de entrega.")
        await tenders.publish(actor=self.officer, settings=self.settings, tender_id=self.tender_id)

    def at(self, **delta: float) -> None:
        self.clock.advance(**delta)

    async def bid(self, who: Actor, prices: list[int | None], notes: str = "") -> Receipt:
        lots = [BidLotPrice(lot_id=lot, price=Money(amount=p))
                for lot, p in zip(self.lots, prices, strict=False) if p is not None]
        receipt = await bids.submit_bid(actor=who, settings=self.settings, tender_id=self.tender_id,
                                        data=BidCreate(lots=lots, notes=notes))
        assert isinstance(receipt, Receipt)  # no Idempotency-Key claim: a new receipt, never a stored replay
        return receipt

    async def sweep(self) -> None:
        await tenders.advance_by_clock(actor=SYSTEM, settings=self.settings, tender_id=self.tender_id)

    async def open(self, colleague: Actor) -> None:
        """The officer and a colleague of its agency confirm the opening: the quorum of two opens the bids."""
        for who in (self.officer, colleague):
            await bids.open_tender(actor=who, settings=self.settings, tender_id=self.tender_id)


async def seed(demo: Demo) -> None:
    settings = demo.settings()
    agencies = [o for o in demo.orgs.get("agency", []) if "officer" in o.users]
    suppliers = await _suppliers(demo)
    if not agencies or len(suppliers) < 3:
        return
    rng = demo.rng
    real_now = clock.now()
    made: dict[str, int] = {}

    def officer(i: int) -> Actor:
        return _actor(agencies[i % len(agencies)], "officer", "agency")

    def price(value: int, _quantity: int) -> int:
        return int(value * rng.uniform(0.82, 1.05))

    async def story(name: str, start: datetime, i: int, fn: Callable[[_Story], Awaitable[None]]) -> None:
        s = _Story(settings=settings, officer=officer(i), start=start)
        token = clock.use(s.clock)
        try:
            await fn(s)
        finally:
            clock._current.reset(token)
        made[name] = made.get(name, 0) + 1

    def _committee(s: _Story) -> Actor:
        """A committee member of the story officer's agency (with the officer, the opening's quorum)."""
        return _actor(next(a for a in agencies if a.id == s.officer.org_id), "committee", "agency")

    def pick(n: int) -> list[Item]:
        return rng.sample(GOODS, n)

    async def draft(s: _Story) -> None:
        await s.draft(title="Adquisición de útiles de escritorio para sedes regionales", method="price_comparison",
                      category="goods", items=pick(1), ubigeo=agencies[0].ubigeo or "150101", enquiry_days=2,
                      deadline_days=6)

    async def published(s: _Story) -> None:
        items = pick(2)
        await s.draft(title="Adquisición de materiales de construcción para obras de saneamiento",
                      method="simplified_award", category="goods", items=items, ubigeo="080101",
                      enquiry_days=4, deadline_days=12)
        await s.document("Bases administrativas", "Bases del procedimiento: requisitos, plazos y penalidades.")
        await s.publish()
        s.at(hours=20)
        q = await tenders.ask(actor=suppliers[0], tender_id=s.tender_id, data=EnquiryCreate(
            question="¿Se aceptan entregas parciales en dos armadas?", lot_id=s.lots[0]))
        await tenders.answer(actor=s.officer, tender_id=s.tender_id, enquiry_id=q.id,
                             text="Sí, en un máximo de dos armadas dentro del plazo de ejecución.")
        await tenders.ask(actor=suppliers[1], tender_id=s.tender_id,
                          data=EnquiryCreate(question="¿El precio debe incluir el flete hasta el almacén?"))

    async def tendering(s: _Story) -> None:
        items = pick(2)
        await s.draft(title="Adquisición de mobiliario y equipos para instituciones educativas",
                      method="simplified_award", category="goods", items=items, ubigeo="040101",
                      enquiry_days=3, deadline_days=9)
        await s.publish()
        s.at(days=4)
        for who in suppliers[:3]:
            await s.bid(who, [price(v, q) for *_, q, v in items], notes="Garantía de 12 meses.")
        s.at(days=1)
        await s.sweep()

    async def opening(s: _Story) -> None:
        items = pick(1)
        await s.draft(title="Adquisición de medicamentos para establecimientos de salud",
                      method="reverse_auction",
                      category="goods", items=items, ubigeo="200101", enquiry_days=2, deadline_days=6)
        await s.publish()
        s.at(days=3)
        for who in suppliers[:3]:
            await s.bid(who, [price(v, q) for *_, q, v in items])
        s.at(days=3, minutes=10)  # the deadline passed; the opening is at deadline + 1 h
        await s.sweep()

    async def evaluation(s: _Story) -> None:
        items = pick(2)
        await s.draft(title="Adquisición de kits escolares y equipos de cómputo", method="simplified_award",
                      category="goods", items=items, ubigeo="130101", enquiry_days=3, deadline_days=9)
        await s.publish()
        s.at(days=4)
        for who in suppliers[:4]:
            await s.bid(who, [price(v, q) for *_, q, v in items])
        s.at(days=5, hours=2)
        await s.sweep()  # closes at the deadline; the opening time has come
        await s.open(_committee(s))

    async def amended(s: _Story) -> None:
        items = pick(1)
        await s.draft(title="Adquisición de fierro corrugado para la obra del mercado central",
                      method="simplified_award", category="goods", items=items, ubigeo="210101",
                      enquiry_days=3, deadline_days=9)
        await s.publish()
        s.at(days=4)
        receipt = await s.bid(suppliers[0], [price(items[0][4], items[0][3])])
        await s.bid(suppliers[1], [price(items[0][4], items[0][3])])
        s.at(days=3, hours=12)
        await tenders.update_tender(actor=s.officer, tender_id=s.tender_id, data=TenderUpdate(
            reason="Se amplía la cantidad requerida por modificación del expediente técnico",
            lot_changes=[LotUpdate(id=s.lots[0], quantity=Decimal(items[0][3]) * Decimal("1.2"))]))
        s.at(hours=6)
        await bids.confirm_bid(actor=suppliers[0], settings=settings, bid_id=UUID(receipt.bid_id))
        await s.sweep()

    async def cancelled(s: _Story) -> None:
        await s.draft(title="Servicio de limpieza de locales institucionales", method="public_contest",
                      category="services", items=[SERVICES[0]], ubigeo="160101", enquiry_days=10, deadline_days=23)
        await s.publish()
        s.at(days=2)
        await tenders.cancel(actor=s.officer, tender_id=s.tender_id,
                             reason="Se declaró la nulidad del requerimiento por falta de certificación presupuestal")

    async def unsuccessful(s: _Story) -> None:
        await s.draft(title="Servicio de mantenimiento de vías vecinales", method="simplified_award",
                      category="services", items=[SERVICES[1]], ubigeo="080801", enquiry_days=3, deadline_days=9)
        await s.publish()
        s.at(days=9, hours=2)
        await s.sweep()
        await s.open(_committee(s))  # no bids: desierto

    await story("draft", real_now, 0, draft)
    await story("published", real_now - timedelta(days=1), 1, published)
    await story("tendering", real_now - timedelta(days=5), 2, tendering)
    await story("opening", real_now - timedelta(days=6, minutes=20), 3, opening)
    await story("evaluation", real_now - timedelta(days=12), 4, evaluation)
    await story("amended", real_now - timedelta(days=8), 5, amended)
    await story("cancelled", real_now - timedelta(days=3), 6, cancelled)
    await story("unsuccessful", real_now - timedelta(days=15), 7, unsuccessful)
    demo.extra["tenders"] = made
