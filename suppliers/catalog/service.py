"""Catalogue use cases: catalogues and product sheets (platform), offers priced per region (suppliers),
and the stock reservation purchase orders rely on.

Called by other domains:

- `reserve(offer_id=..., region_code=..., quantity=...) -> Reservation`: in the caller's transaction,
  checks the offer is on sale (active, catalogue open, supplier in good standing, region served) and takes
  `quantity` units of that region's stock with one guarded UPDATE (`stock >= quantity`), so concurrent
  orders never oversell. Returns the region's current price, recorded by the order.
- `release(offer_id=..., region_code=..., quantity=...)`: gives the units back (a rejected order).
- `events.offer_documents(offer_ids=...)` / `events.iter_offer_documents(after=..., limit=...)` for search.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from marketplace.core import audit, clock, db, geo
from marketplace.core.actor import Actor, require, require_member
from marketplace.core.errors import Conflict, InvalidInput, NotFound
from marketplace.core.i18n import N_
from suppliers import service as registry
from suppliers.catalog import events
from suppliers.catalog.schemas import (
    CatalogCreate,
    OfferCreate,
    OfferUpdate,
    ProductSheetCreate,
    RegionOfferUpdate,
)

_json = msgspec.json.Encoder(order="sorted")


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

async def create_catalog(*, actor: Actor, data: CatalogCreate) -> dict[str, Any]:
    require(actor, "platform", "admin")
    try:
        row = await db.fetchrow(
            "INSERT INTO catalog (code, name, description, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
            data.code, data.name.strip(), data.description, clock.now())
    except asyncpg.UniqueViolationError:
        raise Conflict(N_("A catalogue with code {code} already exists"), field="code", rule="unique",
                       params={"code": data.code}) from None
    assert row is not None
    await audit.record(actor=actor, action="catalog.created", entity_type="catalog", entity_id=row["id"],
                       data={"code": data.code, "name": data.name})
    return {**row, "product_count": 0}


_CATALOG = ("SELECT c.*, (SELECT count(*) FROM product_sheet p WHERE p.catalog_id = c.id) AS product_count"
            " FROM catalog c")


async def list_catalogs(*, actor: Actor) -> list[dict[str, Any]]:
    return await db.fetch(_CATALOG + " ORDER BY c.code")


async def read_catalog(*, actor: Actor, catalog_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow(_CATALOG + " WHERE c.id = $1", catalog_id)
    if row is None:
        raise NotFound(N_("Catalogue not found"))
    return row


async def set_catalog_status(*, actor: Actor, catalog_id: UUID, status: str) -> dict[str, Any]:
    """Close a catalogue (its offers leave search and cannot be ordered) or reopen it."""
    require(actor, "platform", "admin")
    row = await db.fetchrow("SELECT status FROM catalog WHERE id = $1 FOR UPDATE", catalog_id)
    if row is None:
        raise NotFound(N_("Catalogue not found"))
    if row["status"] != status:
        await db.execute("UPDATE catalog SET status = $2 WHERE id = $1", catalog_id, status)
        await audit.record(actor=actor, action=f"catalog.{status}", entity_type="catalog", entity_id=catalog_id,
                           data={"from": row["status"], "to": status})
        await events.emit_catalog_offers(catalog_id=catalog_id,
                                         change="catalog_closed" if status == "closed" else "catalog_opened")
    return await read_catalog(actor=actor, catalog_id=catalog_id)


async def create_product_sheet(*, actor: Actor, catalog_id: UUID, data: ProductSheetCreate) -> dict[str, Any]:
    require(actor, "platform", "admin")
    await read_catalog(actor=actor, catalog_id=catalog_id)
    row = await db.fetchrow(
        "INSERT INTO product_sheet (catalog_id, name, description, attributes, classification_code, unit,"
        " created_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) RETURNING *",
        catalog_id, data.name.strip(), data.description, _json.encode(data.attributes).decode(),
        data.classification_code, data.unit.strip(), clock.now())
    assert row is not None
    await audit.record(actor=actor, action="product_sheet.created", entity_type="product_sheet",
                       entity_id=row["id"], data={"catalog_id": str(catalog_id), "name": row["name"],
                                                  "classification_code": data.classification_code})
    return row


async def list_product_sheets(*, actor: Actor, catalog_id: UUID, q: str | None = None,
                              classification: str | None = None, limit: int = 50,
                              offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    await read_catalog(actor=actor, catalog_id=catalog_id)
    where, args = ["catalog_id = $1"], [catalog_id]
    if classification:
        args.append(classification)
        where.append(f"starts_with(classification_code, ${len(args)})")
    if q:
        args.append("%" + q.replace("%", "").replace("_", "") + "%")
        where.append(f"name ILIKE ${len(args)}")
    sql_where = " WHERE " + " AND ".join(where)
    total = (await db.fetchrow(f"SELECT count(*) AS n FROM product_sheet{sql_where}", *args))["n"]
    rows = await db.fetch(f"SELECT * FROM product_sheet{sql_where} ORDER BY name, id"
                          f" LIMIT {int(limit)} OFFSET {int(offset)}", *args)
    return rows, total


async def read_product_sheet(*, actor: Actor, catalog_id: UUID, product_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM product_sheet WHERE id = $1 AND catalog_id = $2", product_id, catalog_id)
    if row is None:
        raise NotFound(N_("Product sheet not found"))
    return row


# ---------------------------------------------------------------------------------------------- offers

_OFFER = """
SELECT o.*, p.name AS product_name, p.classification_code, p.unit, p.catalog_id, c.status AS catalog_status,
       s.legal_name AS supplier_name, s.status AS supplier_status, s.suspended_until,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('region_code', r.region_code, 'price_cents', r.price_cents,
                                                     'currency', r.currency, 'delivery_days', r.delivery_days,
                                                     'stock', r.stock) ORDER BY r.region_code)
                 FROM offer_region r WHERE r.offer_id = o.id), '[]'::jsonb) AS regions
FROM offer o
JOIN product_sheet p ON p.id = o.product_sheet_id
JOIN catalog c ON c.id = p.catalog_id
JOIN supplier s ON s.organisation_id = o.supplier_id
"""
# What the public and agencies see: offers on sale.
_ON_SALE = "o.status = 'active' AND c.status = 'open' AND " + registry.domain.good_standing_sql("s", "{now}")

_decode = msgspec.json.Decoder()


def _offer_row(row: dict[str, Any]) -> dict[str, Any]:
    regions = row["regions"]
    if isinstance(regions, (str, bytes)):
        regions = _decode.decode(regions)
    return {**row, "regions": regions}


def _check_region(code: str, field: str) -> None:
    if geo.region(code) is None or len(code) != 2:
        raise InvalidInput(N_("{code} is not a Peruvian region code"), field=field, rule="region",
                           params={"code": code})


async def _own_offer(actor: Actor, offer_id: UUID, *, lock: bool = True) -> dict[str, Any]:
    require(actor, ("supplier", "platform"), "supplier_admin", "admin")
    row = await db.fetchrow("SELECT * FROM offer WHERE id = $1" + (" FOR UPDATE" if lock else ""), offer_id)
    if row is None or (actor.org_kind == "supplier" and not actor.member_of(row["supplier_id"])):
        raise NotFound(N_("Offer not found"))
    return row


async def _record_price(offer_id: UUID, region_code: str, old: int | None, new: int, actor: Actor,
                        now) -> None:
    await db.execute(
        "INSERT INTO offer_price_change (offer_id, region_code, old_price_cents, new_price_cents, changed_at,"
        " actor_user_id) VALUES ($1, $2, $3, $4, $5, $6)", offer_id, region_code, old, new, now, actor.user_id)


async def create_offer(*, actor: Actor, supplier_id: UUID, data: OfferCreate) -> dict[str, Any]:
    """A supplier in good standing offers a product sheet of an open catalogue in the regions it serves."""
    require(actor, "supplier", "supplier_admin")
    require_member(actor, supplier_id)
    await registry.require_good_standing(org_id=supplier_id)
    sheet = await db.fetchrow(
        "SELECT p.id, c.status FROM product_sheet p JOIN catalog c ON c.id = p.catalog_id WHERE p.id = $1",
        data.product_sheet_id)
    if sheet is None:
        raise InvalidInput(N_("Product sheet not found"), field="product_sheet_id", rule="exists")
    if sheet["status"] != "open":
        raise Conflict(N_("The catalogue is closed"), field="product_sheet_id", rule="catalog_open")
    seen: set[str] = set()
    for i, reg in enumerate(data.regions):
        _check_region(reg.region_code, f"regions[{i}].region_code")
        if reg.region_code in seen:
            raise InvalidInput(N_("Region {code} is listed twice"), field=f"regions[{i}].region_code",
                               rule="unique", params={"code": reg.region_code})
        seen.add(reg.region_code)
    now = clock.now()
    try:
        row = await db.fetchrow(
            "INSERT INTO offer (product_sheet_id, supplier_id, brand, description, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $5) RETURNING id", data.product_sheet_id, supplier_id, data.brand,
            data.description, now)
    except asyncpg.UniqueViolationError:
        raise Conflict(N_("You already have an offer on this product sheet"), field="product_sheet_id",
                       rule="unique") from None
    assert row is not None
    offer_id = row["id"]
    for reg in data.regions:
        await db.execute(
            "INSERT INTO offer_region (offer_id, region_code, price_cents, delivery_days, stock, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)", offer_id, reg.region_code, reg.price_cents, reg.delivery_days,
            reg.stock, now)
        await _record_price(offer_id, reg.region_code, None, reg.price_cents, actor, now)
    await audit.record(actor=actor, action="offer.created", entity_type="offer", entity_id=offer_id, data={
        "product_sheet_id": str(data.product_sheet_id),
        "regions": {r.region_code: r.price_cents for r in data.regions}})
    await events.emit_offer(offer_id=offer_id, change="created")
    return await read_offer(actor=actor, offer_id=offer_id)


async def read_offer(*, actor: Actor, offer_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow(_OFFER + " WHERE o.id = $1", offer_id)
    if row is None:
        raise NotFound(N_("Offer not found"))
    visible = _is_staff(actor) or actor.member_of(row["supplier_id"]) or (
        row["status"] == "active" and row["catalog_status"] == "open"
        and registry.domain.effective_status(row["supplier_status"], row["suspended_until"], clock.now())
        == registry.Status.ACTIVE)
    if not visible:
        raise NotFound(N_("Offer not found"))
    return _offer_row(row)


async def list_offers(*, actor: Actor, supplier_id: UUID | None = None, product_sheet_id: UUID | None = None,
                      region: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Offers of a supplier or on a product sheet. The supplier itself, oversight and the platform see every
    offer (paused ones too); everyone else sees the offers on sale."""
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if supplier_id is not None:
        where.append(f"o.supplier_id = {arg(supplier_id)}")
    if product_sheet_id is not None:
        where.append(f"o.product_sheet_id = {arg(product_sheet_id)}")
    if region:
        where.append(f"EXISTS (SELECT 1 FROM offer_region r WHERE r.offer_id = o.id AND r.region_code = {arg(region)})")
    if not (_is_staff(actor) or (supplier_id is not None and actor.member_of(supplier_id))):
        where.append(_ON_SALE.format(now=arg(clock.now())))
    sql_where = (" WHERE " + " AND ".join(where)) if where else ""
    base = ("FROM offer o JOIN product_sheet p ON p.id = o.product_sheet_id JOIN catalog c ON c.id = p.catalog_id"
            " JOIN supplier s ON s.organisation_id = o.supplier_id")
    total = (await db.fetchrow(f"SELECT count(*) AS n {base}{sql_where}", *args))["n"]
    rows = await db.fetch(f"{_OFFER}{sql_where} ORDER BY p.name, o.id LIMIT {arg(limit)} OFFSET {arg(offset)}",
                          *args)
    return [_offer_row(r) for r in rows], total


async def update_offer(*, actor: Actor, offer_id: UUID, data: OfferUpdate) -> dict[str, Any]:
    await _own_offer(actor, offer_id)
    changes = {k: v for k, v in (("brand", data.brand), ("description", data.description)) if v is not None}
    if changes:
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changes))
        await db.execute(f"UPDATE offer SET {sets}, updated_at = ${len(changes) + 2} WHERE id = $1", offer_id,
                         *changes.values(), clock.now())
        await audit.record(actor=actor, action="offer.updated", entity_type="offer", entity_id=offer_id,
                           data=changes)
        await events.emit_offer(offer_id=offer_id, change="updated")
    return await read_offer(actor=actor, offer_id=offer_id)


async def set_region_terms(*, actor: Actor, offer_id: UUID, region_code: str,
                           data: RegionOfferUpdate) -> dict[str, Any]:
    """Serve a new region or change a region's price, delivery days or stock. Price changes are kept."""
    offer = await _own_offer(actor, offer_id)
    _check_region(region_code, "region_code")
    now = clock.now()
    current = await db.fetchrow("SELECT * FROM offer_region WHERE offer_id = $1 AND region_code = $2 FOR UPDATE",
                                offer_id, region_code)
    if current is None:
        missing = [f for f in ("price_cents", "delivery_days", "stock") if getattr(data, f) is None]
        if missing:
            raise InvalidInput(N_("A new region needs its price, delivery days and stock"), field=missing[0],
                               rule="required")
        await registry.require_good_standing(org_id=offer["supplier_id"])
        await db.execute(
            "INSERT INTO offer_region (offer_id, region_code, price_cents, delivery_days, stock, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)", offer_id, region_code, data.price_cents, data.delivery_days,
            data.stock, now)
        await _record_price(offer_id, region_code, None, data.price_cents, actor, now)
        change = "region_added"
    else:
        new_price = data.price_cents if data.price_cents is not None else current["price_cents"]
        await db.execute(
            "UPDATE offer_region SET price_cents = $3, delivery_days = $4, stock = $5, updated_at = $6"
            " WHERE offer_id = $1 AND region_code = $2", offer_id, region_code, new_price,
            data.delivery_days if data.delivery_days is not None else current["delivery_days"],
            data.stock if data.stock is not None else current["stock"], now)
        change = "updated"
        if new_price != current["price_cents"]:
            await _record_price(offer_id, region_code, current["price_cents"], new_price, actor, now)
            change = "price_changed"
    await db.execute("UPDATE offer SET updated_at = $2 WHERE id = $1", offer_id, now)
    await audit.record(actor=actor, action=f"offer.{change}", entity_type="offer", entity_id=offer_id,
                       data={"region_code": region_code, **{k: v for k, v in msgspec.structs.asdict(data).items()
                                                            if v is not None}})
    await events.emit_offer(offer_id=offer_id, change=change)
    return await read_offer(actor=actor, offer_id=offer_id)


async def remove_region(*, actor: Actor, offer_id: UUID, region_code: str) -> dict[str, Any]:
    await _own_offer(actor, offer_id)
    status = await db.execute("DELETE FROM offer_region WHERE offer_id = $1 AND region_code = $2",
                              offer_id, region_code)
    if status.endswith(" 0"):
        raise NotFound(N_("The offer does not serve this region"))
    await db.execute("UPDATE offer SET updated_at = $2 WHERE id = $1", offer_id, clock.now())
    await audit.record(actor=actor, action="offer.region_removed", entity_type="offer", entity_id=offer_id,
                       data={"region_code": region_code})
    await events.emit_offer(offer_id=offer_id, change="region_removed")
    return await read_offer(actor=actor, offer_id=offer_id)


async def set_offer_status(*, actor: Actor, offer_id: UUID, status: str) -> dict[str, Any]:
    """Pause an offer (not sold, not found) or resume it."""
    offer = await _own_offer(actor, offer_id)
    if offer["status"] != status:
        if status == "active":
            await registry.require_good_standing(org_id=offer["supplier_id"])
        await db.execute("UPDATE offer SET status = $2, updated_at = $3 WHERE id = $1", offer_id, status, clock.now())
        change = "paused" if status == "paused" else "resumed"
        await audit.record(actor=actor, action=f"offer.{change}", entity_type="offer", entity_id=offer_id)
        await events.emit_offer(offer_id=offer_id, change=change)
    return await read_offer(actor=actor, offer_id=offer_id)


async def price_history(*, actor: Actor, offer_id: UUID) -> list[dict[str, Any]]:
    await read_offer(actor=actor, offer_id=offer_id)
    return await db.fetch(
        "SELECT region_code, old_price_cents, new_price_cents, changed_at FROM offer_price_change"
        " WHERE offer_id = $1 ORDER BY id", offer_id)


# ---------------------------------------------------------------------------------------------- stock

async def reserve(*, offer_id: UUID, region_code: str, quantity: int) -> Reservation:
    """Take `quantity` units of the region's stock for an order, at the region's current price.

    Runs in the caller's transaction. The guarded UPDATE is atomic: concurrent reservations queue on the
    row, and each re-checks `stock >= quantity` against the committed stock, so none oversells.
    """
    if quantity <= 0:
        raise InvalidInput(N_("The quantity must be at least 1"), field="quantity", rule="range")
    offer = await db.fetchrow(
        "SELECT o.id, o.supplier_id, o.status, o.product_sheet_id, p.name, p.unit, c.status AS catalog_status"
        " FROM offer o JOIN product_sheet p ON p.id = o.product_sheet_id JOIN catalog c ON c.id = p.catalog_id"
        " WHERE o.id = $1", offer_id)
    if offer is None:
        raise NotFound(N_("Offer not found"))
    await registry.require_good_standing(org_id=offer["supplier_id"])
    if offer["status"] != "active":
        raise NotOnSale(N_("The supplier has paused this offer"), field="offer_id", rule="paused")
    if offer["catalog_status"] != "open":
        raise NotOnSale(N_("The catalogue is closed"), field="offer_id", rule="catalog_open")
    row = await db.fetchrow(
        "UPDATE offer_region SET stock = stock - $3 WHERE offer_id = $1 AND region_code = $2 AND stock >= $3"
        " RETURNING price_cents, currency, delivery_days, stock", offer_id, region_code, quantity)
    if row is None:
        served = await db.fetchrow("SELECT stock FROM offer_region WHERE offer_id = $1 AND region_code = $2",
                                   offer_id, region_code)
        if served is None:
            raise NotOnSale(N_("The offer does not serve region {code}"), field="delivery_ubigeo", rule="served",
                            params={"code": region_code})
        raise OutOfStock(N_("Only {stock} units left in this region"), field="quantity", rule="stock",
                         params={"stock": served["stock"]})
    if row["stock"] == 0:
        await events.emit_offer(offer_id=offer_id, change="out_of_stock")
    return Reservation(offer_id=offer_id, supplier_id=offer["supplier_id"], product_sheet_id=offer["product_sheet_id"],
                       product_name=offer["name"], unit=offer["unit"], region_code=region_code, quantity=quantity,
                       unit_price_cents=row["price_cents"], currency=row["currency"],
                       delivery_days=row["delivery_days"], stock_left=row["stock"])


async def release(*, offer_id: UUID, region_code: str, quantity: int) -> None:
    """Give reserved units back (a rejected or cancelled order). The region may have been removed since."""
    row = await db.fetchrow(
        "UPDATE offer_region SET stock = stock + $3 WHERE offer_id = $1 AND region_code = $2 RETURNING stock",
        offer_id, region_code, quantity)
    if row is not None and row["stock"] == quantity:
        await events.emit_offer(offer_id=offer_id, change="back_in_stock")
