"""Catalogue use cases: catalogues and product sheets (platform), offers priced per region (suppliers),
and the stock reservation purchase orders rely on.

Called by other domains:

- `reserve(offer_id=..., region_code=..., quantity=...) -> Reservation`: in the caller's transaction,
  checks the offer is on sale (active, catalogue open, supplier in good standing, region served) and takes
  `quantity` units of that region's stock with one guarded UPDATE (`stock >= quantity`), so concurrent
  orders never oversell. Returns the region's current price, recorded by the order.
- `release(offer_id=..., region_code=..., quantity=...)`: gives the units back (a rejected order).
- `events.offer_documents(offer_ids=...)` / `events.iter_offer_documents(after=..., limit=...)` for search.

Reads and writes go through piccolo's query builder; the search documents are SQL in queries.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from piccolo.query.functions.aggregate import Count

from marketplace.core import audit, clock, geo
from marketplace.core.actor import Actor, require, require_member
from marketplace.core.errors import Conflict, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import Money
from suppliers import service as registry
from suppliers.catalog import domain, events
from suppliers.catalog.schemas import (
    CatalogCreate,
    CatalogRead,
    OfferCreate,
    OfferPage,
    OfferRead,
    OfferUpdate,
    PriceChangeRead,
    ProductSheetCreate,
    ProductSheetPage,
    ProductSheetRead,
    RegionOfferRead,
    RegionOfferUpdate,
)
from suppliers.catalog.tables import Catalog, Offer, OfferPriceChange, OfferRegion, ProductSheet
from suppliers.domain import Status, effective_status

_attributes = msgspec.json.Decoder(dict[str, Any])


class OutOfStock(Conflict):
    type = "out-of-stock"
    title = N_("Not enough stock")


class NotOnSale(Conflict):
    type = "offer-not-on-sale"
    title = N_("This offer is not on sale")


class Reservation(msgspec.Struct, frozen=True):
    offer_id: UUID
    supplier_id: UUID
    product_sheet_id: UUID
    product_name: str
    unit: str
    region_code: str
    quantity: int
    unit_price_cents: int
    currency: str
    delivery_days: int
    stock_left: int


def _is_staff(actor: Actor) -> bool:
    return actor.org_kind in ("platform", "oversight") or actor.via == "system"


# ---------------------------------------------------------------------------------------------- catalogues

def _catalog(row: dict[str, Any], product_count: int) -> CatalogRead:
    return CatalogRead(id=row["id"], code=row["code"], name=row["name"], description=row["description"],
                       status=row["status"], created_at=row["created_at"], product_count=product_count)


async def create_catalog(*, actor: Actor, data: CatalogCreate) -> CatalogRead:
    require(actor, "platform", "admin")
    try:
        (row,) = await Catalog.insert(Catalog(
            code=data.code, name=data.name.strip(), description=data.description, created_at=clock.now(),
        )).returning(*Catalog.all_columns())
    except asyncpg.UniqueViolationError:
        raise Conflict(N_("A catalogue with code {code} already exists"), field="code", rule="unique",
                       params={"code": data.code}) from None
    await audit.record(actor=actor, action="catalog.created", entity_type="catalog", entity_id=row["id"],
                       data={"code": data.code, "name": data.name})
    return _catalog(row, 0)


async def list_catalogs(*, actor: Actor) -> list[CatalogRead]:
    rows = await Catalog.select().order_by(Catalog.code)
    counts: dict[UUID, int] = {}
    if rows:
        counted = await ProductSheet.select(ProductSheet.catalog, Count()).where(
            ProductSheet.catalog.is_in([r["id"] for r in rows])).group_by(ProductSheet.catalog)
        counts = {c["catalog_id"]: c["count"] for c in counted}
    return [_catalog(r, counts.get(r["id"], 0)) for r in rows]


async def read_catalog(*, actor: Actor, catalog_id: UUID) -> CatalogRead:
    row = await Catalog.select().where(Catalog.id == catalog_id).first()
    if row is None:
        raise NotFound(N_("Catalogue not found"))
    return _catalog(row, await ProductSheet.count().where(ProductSheet.catalog == catalog_id))


async def set_catalog_status(*, actor: Actor, catalog_id: UUID, status: str) -> CatalogRead:
    """Close a catalogue (its offers leave search and cannot be ordered) or reopen it."""
    require(actor, "platform", "admin")
    row = await Catalog.select(Catalog.status).where(Catalog.id == catalog_id).lock_rows().first()
    if row is None:
        raise NotFound(N_("Catalogue not found"))
    if row["status"] != status:
        await Catalog.update({Catalog.status: status}).where(Catalog.id == catalog_id)
        await audit.record(actor=actor, action=f"catalog.{status}", entity_type="catalog", entity_id=catalog_id,
                           data={"from": row["status"], "to": status})
        await events.emit_catalog_offers(catalog_id=catalog_id,
                                         change="catalog_closed" if status == "closed" else "catalog_opened")
    return await read_catalog(actor=actor, catalog_id=catalog_id)


def _sheet(row: dict[str, Any]) -> ProductSheetRead:
    return ProductSheetRead(id=row["id"], catalog_id=row["catalog_id"], name=row["name"],
                            classification_code=row["classification_code"], unit=row["unit"],
                            attributes=_attributes.decode(row["attributes"]), description=row["description"],
                            created_at=row["created_at"])


async def create_product_sheet(*, actor: Actor, catalog_id: UUID, data: ProductSheetCreate) -> ProductSheetRead:
    require(actor, "platform", "admin")
    await read_catalog(actor=actor, catalog_id=catalog_id)
    (row,) = await ProductSheet.insert(ProductSheet(
        catalog=catalog_id, name=data.name.strip(), description=data.description, attributes=data.attributes,
        classification_code=data.classification_code, unit=data.unit.strip(), created_at=clock.now(),
    )).returning(*ProductSheet.all_columns())
    await audit.record(actor=actor, action="product_sheet.created", entity_type="product_sheet",
                       entity_id=row["id"], data={"catalog_id": str(catalog_id), "name": row["name"],
                                                  "classification_code": data.classification_code})
    return _sheet(row)


async def list_product_sheets(*, actor: Actor, catalog_id: UUID, q: str | None = None,
                              classification: str | None = None, limit: int = 50,
                              offset: int = 0) -> ProductSheetPage:
    await read_catalog(actor=actor, catalog_id=catalog_id)
    where = [ProductSheet.catalog == catalog_id]
    if classification:  # digits and a dash (the API's pattern): no LIKE wildcard in it
        where.append(ProductSheet.classification_code.like(classification + "%"))
    if q:
        where.append(ProductSheet.name.ilike("%" + q.replace("%", "").replace("_", "").replace("\\", "") + "%"))
    count, page = ProductSheet.count(), ProductSheet.select()
    for condition in where:
        count, page = count.where(condition), page.where(condition)
    rows = await page.order_by(ProductSheet.name, ProductSheet.id).limit(limit).offset(offset)
    return ProductSheetPage(items=[_sheet(r) for r in rows], total=await count, limit=limit, offset=offset)


async def read_product_sheet(*, actor: Actor, catalog_id: UUID, product_id: UUID) -> ProductSheetRead:
    row = await ProductSheet.select().where(
        (ProductSheet.id == product_id) & (ProductSheet.catalog == catalog_id)).first()
    if row is None:
        raise NotFound(N_("Product sheet not found"))
    return _sheet(row)


# ---------------------------------------------------------------------------------------------- offers

# An offer as the API shows it: its own columns, its product sheet's, its catalogue's status and its
# supplier's name and standing (piccolo joins through the foreign keys).
_OFFER_COLUMNS = (
    Offer.id, Offer.supplier, Offer.product_sheet, Offer.brand, Offer.description, Offer.status, Offer.created_at,
    Offer.updated_at,
    Offer.product_sheet._.name.as_alias("product_name"),
    Offer.product_sheet._.classification_code.as_alias("classification_code"),
    Offer.product_sheet._.unit.as_alias("unit"),
    Offer.product_sheet._.catalog.as_alias("catalog_id"),
    Offer.product_sheet._.catalog._.status.as_alias("catalog_status"),
    Offer.supplier._.legal_name.as_alias("supplier_name"),
    Offer.supplier._.status.as_alias("supplier_status"),
    Offer.supplier._.suspended_until.as_alias("suspended_until"),
)


def _on_sale(now: datetime) -> Any:
    """What the public and agencies see: active offers of open catalogues by suppliers in good standing."""
    return ((Offer.status == "active") & (Offer.product_sheet._.catalog._.status == "open")
            & registry.good_standing_where(Offer.supplier._.status, Offer.supplier._.suspended_until, now))


def _price(cents: int, currency: str = domain.CURRENCY) -> Money:
    return Money(amount=cents, currency=currency)


async def _offers(rows: list[dict[str, Any]]) -> list[OfferRead]:
    """The offers of `rows` (selected with _OFFER_COLUMNS) with the terms of every region they serve."""
    if not rows:
        return []
    terms: dict[UUID, list[RegionOfferRead]] = {}
    for r in await OfferRegion.select().where(OfferRegion.offer_id.is_in([o["id"] for o in rows])).order_by(
            OfferRegion.offer_id, OfferRegion.region_code):
        terms.setdefault(r["offer_id"], []).append(RegionOfferRead(
            region_code=r["region_code"], region_name=_region_name(r["region_code"]),
            price=_price(r["price_cents"], r["currency"]), delivery_days=r["delivery_days"], stock=r["stock"]))
    return [OfferRead(id=o["id"], supplier_id=o["supplier_id"], supplier_name=o["supplier_name"],
                      product_sheet_id=o["product_sheet_id"], product_name=o["product_name"],
                      classification_code=o["classification_code"], unit=o["unit"], catalog_id=o["catalog_id"],
                      brand=o["brand"], description=o["description"], status=o["status"],
                      regions=terms.get(o["id"], []), created_at=o["created_at"], updated_at=o["updated_at"])
            for o in rows]


def _region_name(code: str) -> str:
    region = geo.region(code)
    return region.display_name if region is not None else code


def _check_region(code: str, field: str) -> None:
    if geo.region(code) is None or len(code) != 2:
        raise InvalidInput(N_("{code} is not a Peruvian region code"), field=field, rule="region",
                           params={"code": code})


async def _own_offer(actor: Actor, offer_id: UUID) -> dict[str, Any]:
    """The offer's row, locked, if the actor manages it (its supplier's administrators, the platform)."""
    require(actor, ("supplier", "platform"), "supplier_admin", "admin")
    row = await Offer.select(Offer.id, Offer.supplier, Offer.status).where(Offer.id == offer_id).lock_rows().first()
    if row is None or (actor.org_kind == "supplier" and not actor.member_of(row["supplier_id"])):
        raise NotFound(N_("Offer not found"))
    return row


def _price_change(offer_id: UUID, region_code: str, old: int | None, new: int, actor: Actor,
                  now: datetime) -> OfferPriceChange:
    return OfferPriceChange(offer_id=offer_id, region_code=region_code, old_price_cents=old, new_price_cents=new,
                            changed_at=now, actor_user_id=actor.user_id)


async def create_offer(*, actor: Actor, supplier_id: UUID, data: OfferCreate) -> OfferRead:
    """A supplier in good standing offers a product sheet of an open catalogue in the regions it serves."""
    require(actor, "supplier", "supplier_admin")
    require_member(actor, supplier_id)
    await registry.require_good_standing(org_id=supplier_id)
    sheet = await ProductSheet.select(ProductSheet.id, ProductSheet.catalog._.status.as_alias("catalog_status")).where(
        ProductSheet.id == data.product_sheet_id).first()
    if sheet is None:
        raise InvalidInput(N_("Product sheet not found"), field="product_sheet_id", rule="exists")
    if sheet["catalog_status"] != "open":
        raise Conflict(N_("The catalogue is closed"), field="product_sheet_id", rule="catalog_open")
    seen: set[str] = set()
    prices: dict[str, int] = {}
    for i, reg in enumerate(data.regions):
        _check_region(reg.region_code, f"regions[{i}].region_code")
        if reg.region_code in seen:
            raise InvalidInput(N_("Region {code} is listed twice"), field=f"regions[{i}].region_code",
                               rule="unique", params={"code": reg.region_code})
        seen.add(reg.region_code)
        prices[reg.region_code] = domain.unit_price(reg.price, field=f"regions[{i}].price")
    now = clock.now()
    try:
        (row,) = await Offer.insert(Offer(
            product_sheet=data.product_sheet_id, supplier=supplier_id, brand=data.brand, description=data.description,
            created_at=now, updated_at=now,
        )).returning(Offer.id)
    except asyncpg.UniqueViolationError:
        raise Conflict(N_("You already have an offer on this product sheet"), field="product_sheet_id",
                       rule="unique") from None
    offer_id = row["id"]
    await OfferRegion.insert(*[OfferRegion(
        offer_id=offer_id, region_code=reg.region_code, price_cents=prices[reg.region_code], currency=domain.CURRENCY,
        delivery_days=reg.delivery_days, stock=reg.stock, updated_at=now) for reg in data.regions])
    await OfferPriceChange.insert(*[_price_change(offer_id, reg.region_code, None, prices[reg.region_code], actor, now)
                                    for reg in data.regions])
    await audit.record(actor=actor, action="offer.created", entity_type="offer", entity_id=offer_id, data={
        "product_sheet_id": str(data.product_sheet_id), "regions": prices})
    await events.emit_offer(offer_id=offer_id, change="created")
    return await read_offer(actor=actor, offer_id=offer_id)


async def read_offer(*, actor: Actor, offer_id: UUID) -> OfferRead:
    row = await Offer.select(*_OFFER_COLUMNS).where(Offer.id == offer_id).first()
    if row is None:
        raise NotFound(N_("Offer not found"))
    visible = _is_staff(actor) or actor.member_of(row["supplier_id"]) or (
        row["status"] == "active" and row["catalog_status"] == "open"
        and effective_status(row["supplier_status"], row["suspended_until"], clock.now()) is Status.ACTIVE)
    if not visible:
        raise NotFound(N_("Offer not found"))
    (offer,) = await _offers([row])
    return offer


async def list_offers(*, actor: Actor, supplier_id: UUID | None = None, product_sheet_id: UUID | None = None,
                      region: str | None = None, limit: int = 50, offset: int = 0) -> OfferPage:
    """Offers of a supplier or on a product sheet. The supplier itself, oversight and the platform see every
    offer (paused ones too); everyone else sees the offers on sale."""
    where: list[Any] = []
    if supplier_id is not None:
        where.append(Offer.supplier == supplier_id)
    if product_sheet_id is not None:
        where.append(Offer.product_sheet == product_sheet_id)
    if region:
        where.append(Offer.id.is_in(OfferRegion.select(OfferRegion.offer_id).where(OfferRegion.region_code == region)))
    if not (_is_staff(actor) or (supplier_id is not None and actor.member_of(supplier_id))):
        where.append(_on_sale(clock.now()))
    count, page = Offer.count(), Offer.select(*_OFFER_COLUMNS)
    for condition in where:
        count, page = count.where(condition), page.where(condition)
    rows = await page.order_by(Offer.product_sheet._.name, Offer.id).limit(limit).offset(offset)
    return OfferPage(items=await _offers(rows), total=await count, limit=limit, offset=offset)


async def update_offer(*, actor: Actor, offer_id: UUID, data: OfferUpdate) -> OfferRead:
    await _own_offer(actor, offer_id)
    changes = {k: v for k, v in (("brand", data.brand), ("description", data.description)) if v is not None}
    if changes:
        await Offer.update({**{Offer._meta.get_column_by_name(k): v for k, v in changes.items()},
                            Offer.updated_at: clock.now()}).where(Offer.id == offer_id)
        await audit.record(actor=actor, action="offer.updated", entity_type="offer", entity_id=offer_id,
                           data=changes)
        await events.emit_offer(offer_id=offer_id, change="updated")
    return await read_offer(actor=actor, offer_id=offer_id)


def _in_region(offer_id: UUID, region_code: str) -> Any:
    return (OfferRegion.offer_id == offer_id) & (OfferRegion.region_code == region_code)


async def set_region_terms(*, actor: Actor, offer_id: UUID, region_code: str,
                           data: RegionOfferUpdate) -> OfferRead:
    """Serve a new region or change a region's price, delivery days or stock. Price changes are kept."""
    offer = await _own_offer(actor, offer_id)
    _check_region(region_code, "region_code")
    price = domain.unit_price(data.price, field="price") if data.price is not None else None
    now = clock.now()
    current = await OfferRegion.select().where(_in_region(offer_id, region_code)).lock_rows().first()
    if current is None:
        missing = [f for f in ("price", "delivery_days", "stock") if getattr(data, f) is None]
        if missing:
            raise InvalidInput(N_("A new region needs its price, delivery days and stock"), field=missing[0],
                               rule="required")
        assert price is not None and data.delivery_days is not None and data.stock is not None
        await registry.require_good_standing(org_id=offer["supplier_id"])
        await OfferRegion.insert(OfferRegion(
            offer_id=offer_id, region_code=region_code, price_cents=price, currency=domain.CURRENCY,
            delivery_days=data.delivery_days, stock=data.stock, updated_at=now))
        await OfferPriceChange.insert(_price_change(offer_id, region_code, None, price, actor, now))
        change = "region_added"
    else:
        new_price = price if price is not None else current["price_cents"]
        days = data.delivery_days if data.delivery_days is not None else current["delivery_days"]
        stock = data.stock if data.stock is not None else current["stock"]
        await OfferRegion.update({
            OfferRegion.price_cents: new_price, OfferRegion.delivery_days: days, OfferRegion.stock: stock,
            OfferRegion.updated_at: now,
        }).where(_in_region(offer_id, region_code))
        change = "updated"
        if new_price != current["price_cents"]:
            await OfferPriceChange.insert(_price_change(offer_id, region_code, current["price_cents"], new_price,
                                                        actor, now))
            change = "price_changed"
    await Offer.update({Offer.updated_at: now}).where(Offer.id == offer_id)
    terms = {"price_cents": price, "delivery_days": data.delivery_days, "stock": data.stock}
    await audit.record(actor=actor, action=f"offer.{change}", entity_type="offer", entity_id=offer_id,
                       data={"region_code": region_code, **{k: v for k, v in terms.items() if v is not None}})
    await events.emit_offer(offer_id=offer_id, change=change)
    return await read_offer(actor=actor, offer_id=offer_id)


async def remove_region(*, actor: Actor, offer_id: UUID, region_code: str) -> OfferRead:
    await _own_offer(actor, offer_id)
    removed = await OfferRegion.delete().where(_in_region(offer_id, region_code)).returning(OfferRegion.region_code)
    if not removed:
        raise NotFound(N_("The offer does not serve this region"))
    await Offer.update({Offer.updated_at: clock.now()}).where(Offer.id == offer_id)
    await audit.record(actor=actor, action="offer.region_removed", entity_type="offer", entity_id=offer_id,
                       data={"region_code": region_code})
    await events.emit_offer(offer_id=offer_id, change="region_removed")
    return await read_offer(actor=actor, offer_id=offer_id)


async def set_offer_status(*, actor: Actor, offer_id: UUID, status: str) -> OfferRead:
    """Pause an offer (not sold, not found) or resume it."""
    offer = await _own_offer(actor, offer_id)
    if offer["status"] != status:
        if status == "active":
            await registry.require_good_standing(org_id=offer["supplier_id"])
        await Offer.update({Offer.status: status, Offer.updated_at: clock.now()}).where(Offer.id == offer_id)
        change = "paused" if status == "paused" else "resumed"
        await audit.record(actor=actor, action=f"offer.{change}", entity_type="offer", entity_id=offer_id)
        await events.emit_offer(offer_id=offer_id, change=change)
    return await read_offer(actor=actor, offer_id=offer_id)


async def price_history(*, actor: Actor, offer_id: UUID) -> list[PriceChangeRead]:
    await read_offer(actor=actor, offer_id=offer_id)
    rows = await OfferPriceChange.select().where(OfferPriceChange.offer_id == offer_id).order_by(OfferPriceChange.id)
    return [PriceChangeRead(region_code=r["region_code"],
                            old_price=_price(r["old_price_cents"]) if r["old_price_cents"] is not None else None,
                            new_price=_price(r["new_price_cents"]), changed_at=r["changed_at"]) for r in rows]


# ---------------------------------------------------------------------------------------------- stock

async def reserve(*, offer_id: UUID, region_code: str, quantity: int) -> Reservation:
    """Take `quantity` units of the region's stock for an order, at the region's current price.

    Runs in the caller's transaction. The guarded UPDATE is atomic: concurrent reservations queue on the
    row, and each re-checks `stock >= quantity` against the committed stock, so none oversells.
    """
    if quantity <= 0:
        raise InvalidInput(N_("The quantity must be at least 1"), field="quantity", rule="range")
    offer = await Offer.select(
        Offer.id, Offer.supplier, Offer.status, Offer.product_sheet, Offer.product_sheet._.name.as_alias("name"),
        Offer.product_sheet._.unit.as_alias("unit"), Offer.product_sheet._.catalog._.status.as_alias("catalog_status"),
    ).where(Offer.id == offer_id).first()
    if offer is None:
        raise NotFound(N_("Offer not found"))
    await registry.require_good_standing(org_id=offer["supplier_id"])
    if offer["status"] != "active":
        raise NotOnSale(N_("The supplier has paused this offer"), field="offer_id", rule="paused")
    if offer["catalog_status"] != "open":
        raise NotOnSale(N_("The catalogue is closed"), field="offer_id", rule="catalog_open")
    taken = await OfferRegion.update({OfferRegion.stock: OfferRegion.stock - quantity}).where(
        _in_region(offer_id, region_code) & (OfferRegion.stock >= quantity),
    ).returning(OfferRegion.price_cents, OfferRegion.currency, OfferRegion.delivery_days, OfferRegion.stock)
    if not taken:
        served = await OfferRegion.select(OfferRegion.stock).where(_in_region(offer_id, region_code)).first()
        if served is None:
            raise NotOnSale(N_("The offer does not serve region {code}"), field="delivery_ubigeo", rule="served",
                            params={"code": region_code})
        raise OutOfStock(N_("Only {stock} units left in this region"), field="quantity", rule="stock",
                         params={"stock": served["stock"]})
    (row,) = taken
    if row["stock"] == 0:
        await events.emit_offer(offer_id=offer_id, change="out_of_stock")
    return Reservation(offer_id=offer_id, supplier_id=offer["supplier_id"], product_sheet_id=offer["product_sheet_id"],
                       product_name=offer["name"], unit=offer["unit"], region_code=region_code, quantity=quantity,
                       unit_price_cents=row["price_cents"], currency=row["currency"],
                       delivery_days=row["delivery_days"], stock_left=row["stock"])


async def release(*, offer_id: UUID, region_code: str, quantity: int) -> None:
    """Give reserved units back (a rejected or cancelled order). The region may have been removed since."""
    returned = await OfferRegion.update({OfferRegion.stock: OfferRegion.stock + quantity}).where(
        _in_region(offer_id, region_code)).returning(OfferRegion.stock)
    if returned and returned[0]["stock"] == quantity:
        await events.emit_offer(offer_id=offer_id, change="back_in_stock")
