"""Purchase orders: an agency officer orders from a catalogue offer; the supplier accepts or rejects.

Placing an order reserves stock in the same transaction through `suppliers.catalog.service.reserve`
(one guarded UPDATE, so concurrent orders never oversell) and records the region's price at that moment.
Rejection by the supplier or cancellation by the agency gives the stock back. Outbox topics:
'order.placed', 'order.accepted' (contracts may turn it into a contract), 'order.rejected',
'order.cancelled', each with {order_id, agency_id, supplier_id, offer_id, total_cents, currency}.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from marketplace.core import audit, clock, db, geo, outbox
from marketplace.core.actor import Actor, require, require_member
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.orders.domain import RELEASES_STOCK, OrderStatus, check_transition
from marketplace.orders.schemas import OrderCreate
from suppliers import service as suppliers
from suppliers.catalog import service as catalog

# Any amount of money the platform handles (marketplace.core.money.Cents); a price times a quantity can
# exceed what a bigint holds.
MAX_TOTAL_CENTS = 10**15


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": str(row["id"]), "number": row["number"], "agency_id": str(row["agency_id"]),
            "supplier_id": str(row["supplier_id"]), "offer_id": str(row["offer_id"]),
            "quantity": row["quantity"], "unit_price_cents": row["unit_price_cents"],
            "total_cents": row["total_cents"], "currency": row["currency"], "status": row["status"]}


async def place_order(*, actor: Actor, data: OrderCreate) -> dict[str, Any]:
    require(actor, "agency", "officer")
    if not geo.is_valid_ubigeo(data.delivery_ubigeo):
        raise InvalidInput(N_("{code} is not a Peruvian ubigeo (INEI district code)"), field="delivery_ubigeo",
                           rule="ubigeo", params={"code": data.delivery_ubigeo})
    region_code = geo.region_code(data.delivery_ubigeo)
    r = await catalog.reserve(offer_id=data.offer_id, region_code=region_code, quantity=data.quantity)
    total = r.unit_price_cents * data.quantity
    if total > MAX_TOTAL_CENTS:  # raising rolls the reservation back with the transaction
        raise InvalidInput(N_("The order total cannot exceed {max} céntimos"), field="quantity", rule="max_total",
                           params={"max": MAX_TOTAL_CENTS})
    now = clock.now()
    row = await db.fetchrow(
        "INSERT INTO purchase_order (agency_id, supplier_id, offer_id, product_sheet_id, product_name, unit,"
        " region_code, delivery_ubigeo, quantity, unit_price_cents, total_cents, currency, delivery_days, notes,"
        " placed_by, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        " RETURNING *",
        actor.org_id, r.supplier_id, r.offer_id, r.product_sheet_id, r.product_name, r.unit, region_code,
        data.delivery_ubigeo, data.quantity, r.unit_price_cents, total, r.currency,
        r.delivery_days, data.notes, actor.user_id, now)
    assert row is not None
    await audit.record(actor=actor, action="order.placed", entity_type="purchase_order", entity_id=row["id"],
                       data={"offer_id": str(r.offer_id), "quantity": data.quantity,
                             "unit_price_cents": r.unit_price_cents, "delivery_ubigeo": data.delivery_ubigeo})
    await outbox.emit(topic="order.placed", aggregate_type="purchase_order", aggregate_id=row["id"],
                      payload=_payload(row))
    return row


def _scope(actor: Actor) -> tuple[str, list[Any]]:
    """Which orders the actor may see: its organisation's (agency or supplier), or all for oversight."""
    if actor.via == "system" or actor.org_kind in ("oversight", "platform"):
        return "TRUE", []
    if actor.org_kind == "agency":
        return "agency_id = $1", [actor.org_id]
    if actor.org_kind == "supplier":
        return "supplier_id = $1", [actor.org_id]
    return "FALSE", []


async def read_order(*, actor: Actor, order_id: UUID) -> dict[str, Any]:
    require(actor, ("agency", "supplier", "oversight", "platform"))
    where, args = _scope(actor)
    row = await db.fetchrow(f"SELECT * FROM purchase_order WHERE id = ${len(args) + 1} AND {where}",
                            *args, order_id)
    if row is None:
        raise NotFound(N_("Order not found"))
    return row


async def list_orders(*, actor: Actor, status: str | None = None, limit: int = 50,
                      offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    require(actor, ("agency", "supplier", "oversight", "platform"))
    where, args = _scope(actor)
    if status:
        args.append(status)
        where += f" AND status = ${len(args)}"
    total = (await db.fetchrow(f"SELECT count(*) AS n FROM purchase_order WHERE {where}", *args))["n"]
    rows = await db.fetch(f"SELECT * FROM purchase_order WHERE {where} ORDER BY placed_at DESC, number DESC"
                          f" LIMIT {int(limit)} OFFSET {int(offset)}", *args)
    return rows, total


async def _decide(*, actor: Actor, order_id: UUID, new: OrderStatus, reason: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM purchase_order WHERE id = $1 FOR UPDATE", order_id)
    if row is None:
        raise NotFound(N_("Order not found"))
    owner = row["agency_id"] if new is OrderStatus.CANCELLED else row["supplier_id"]
    if not (actor.via == "system" or actor.member_of(owner)):
        if actor.member_of(row["agency_id"]) or actor.member_of(row["supplier_id"]):
            require_member(actor, owner)  # the other party: 403
        raise NotFound(N_("Order not found"))
    check_transition(OrderStatus(row["status"]), new)
    if new is OrderStatus.ACCEPTED:
        await suppliers.require_good_standing(org_id=row["supplier_id"])
    if new in RELEASES_STOCK:
        await catalog.release(offer_id=row["offer_id"], region_code=row["region_code"], quantity=row["quantity"])
    now = clock.now()
    updated = await db.fetchrow(
        "UPDATE purchase_order SET status = $2, reason = $3, decided_by = $4, decided_at = $5 WHERE id = $1"
        " RETURNING *", order_id, new.value, reason, actor.user_id, now)
    assert updated is not None
    await audit.record(actor=actor, action=f"order.{new.value}", entity_type="purchase_order", entity_id=order_id,
                       data={"reason": reason})
    await outbox.emit(topic=f"order.{new.value}", aggregate_type="purchase_order", aggregate_id=order_id,
                      payload=_payload(updated))
    return updated


async def accept_order(*, actor: Actor, order_id: UUID) -> dict[str, Any]:
    require(actor, "supplier", "supplier_admin", "bidder")
    return await _decide(actor=actor, order_id=order_id, new=OrderStatus.ACCEPTED, reason="")


async def reject_order(*, actor: Actor, order_id: UUID, reason: str) -> dict[str, Any]:
    require(actor, "supplier", "supplier_admin", "bidder")
    return await _decide(actor=actor, order_id=order_id, new=OrderStatus.REJECTED, reason=reason)


async def cancel_order(*, actor: Actor, order_id: UUID, reason: str) -> dict[str, Any]:
    require(actor, "agency", "officer")
    return await _decide(actor=actor, order_id=order_id, new=OrderStatus.CANCELLED, reason=reason)
