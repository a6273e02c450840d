"""Purchase orders: an agency officer orders from a catalogue offer; the supplier accepts or rejects.

Placing an order reserves stock in the same transaction through `suppliers.catalog.service.reserve`
(one guarded UPDATE, so concurrent orders never oversell) and records the region's price at that moment.
Rejection by the supplier or cancellation by the agency gives the stock back. Outbox topics:
'order.placed', 'order.accepted' (contracts may turn it into a contract), 'order.rejected',
'order.cancelled', each with {order_id, number, agency_id, supplier_id, offer_id, quantity,
unit_price_cents, total_cents, currency, status}.

Reads and writes go through piccolo's query builder and return OrderRead.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from marketplace.core import audit, clock, geo, outbox
from marketplace.core.actor import Actor, require, require_member
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import Money
from marketplace.orders.domain import RELEASES_STOCK, OrderStatus, check_transition
from marketplace.orders.schemas import OrderCreate, OrderPage, OrderRead
from marketplace.orders.tables import PurchaseOrder
from suppliers import service as suppliers
from suppliers.catalog import service as catalog

# Any amount of money the platform handles (marketplace.core.money.Cents); a price times a quantity can
# exceed what a bigint holds.
MAX_TOTAL_CENTS = 10**15

_ALL = PurchaseOrder.all_columns()


def _read(row: dict[str, Any]) -> OrderRead:
    return OrderRead(
        id=row["id"], number=row["number"], agency_id=row["agency_id"], supplier_id=row["supplier_id"],
        offer_id=row["offer_id"], product_sheet_id=row["product_sheet_id"], product_name=row["product_name"],
        unit=row["unit"], region_code=row["region_code"], delivery_ubigeo=row["delivery_ubigeo"],
        delivery_place=geo.display_name(row["delivery_ubigeo"]), quantity=row["quantity"],
        unit_price=Money(amount=row["unit_price_cents"], currency=row["currency"]),
        total=Money(amount=row["total_cents"], currency=row["currency"]), delivery_days=row["delivery_days"],
        notes=row["notes"], status=row["status"], reason=row["reason"], placed_at=row["placed_at"],
        decided_at=row["decided_at"])


def _payload(order: OrderRead) -> dict[str, Any]:
    """The outbox payload of an order event (its shape predates the API's Money objects and stays)."""
    return {"order_id": str(order.id), "number": order.number, "agency_id": str(order.agency_id),
            "supplier_id": str(order.supplier_id), "offer_id": str(order.offer_id), "quantity": order.quantity,
            "unit_price_cents": order.unit_price.amount, "total_cents": order.total.amount,
            "currency": order.total.currency, "status": order.status}


async def place_order(*, actor: Actor, data: OrderCreate) -> OrderRead:
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
    (row,) = await PurchaseOrder.insert(PurchaseOrder(
        agency_id=actor.org_id, supplier_id=r.supplier_id, offer_id=r.offer_id, product_sheet_id=r.product_sheet_id,
        product_name=r.product_name, unit=r.unit, region_code=region_code, delivery_ubigeo=data.delivery_ubigeo,
        quantity=data.quantity, unit_price_cents=r.unit_price_cents, total_cents=total, currency=r.currency,
        delivery_days=r.delivery_days, notes=data.notes, placed_by=actor.user_id, placed_at=clock.now(),
    )).returning(*_ALL)
    order = _read(row)
    await audit.record(actor=actor, action="order.placed", entity_type="purchase_order", entity_id=order.id,
                       data={"offer_id": str(r.offer_id), "quantity": data.quantity,
                             "unit_price_cents": r.unit_price_cents, "delivery_ubigeo": data.delivery_ubigeo})
    await outbox.emit(topic="order.placed", aggregate_type="purchase_order", aggregate_id=order.id,
                      payload=_payload(order))
    return order


def _scope(actor: Actor) -> Any:
    """Which orders the actor may see: its organisation's (agency or supplier), or all for oversight; None for
    no order at all."""
    if actor.via == "system" or actor.org_kind in ("oversight", "platform"):
        return PurchaseOrder.id.is_not_null()
    if actor.org_kind == "agency":
        return PurchaseOrder.agency_id == actor.org_id
    if actor.org_kind == "supplier":
        return PurchaseOrder.supplier_id == actor.org_id
    return None


async def read_order(*, actor: Actor, order_id: UUID) -> OrderRead:
    require(actor, ("agency", "supplier", "oversight", "platform"))
    scope = _scope(actor)
    row = None if scope is None else await PurchaseOrder.select().where(
        (PurchaseOrder.id == order_id) & scope).first()
    if row is None:
        raise NotFound(N_("Order not found"))
    return _read(row)


async def list_orders(*, actor: Actor, status: str | None = None, limit: int = 50, offset: int = 0) -> OrderPage:
    require(actor, ("agency", "supplier", "oversight", "platform"))
    scope = _scope(actor)
    if scope is None:
        return OrderPage(items=[], total=0, limit=limit, offset=offset)
    if status:
        scope = scope & (PurchaseOrder.status == status)
    total = await PurchaseOrder.count().where(scope)
    rows = await PurchaseOrder.select().where(scope).order_by(
        PurchaseOrder.placed_at, PurchaseOrder.number, ascending=False).limit(limit).offset(offset)
    return OrderPage(items=[_read(r) for r in rows], total=total, limit=limit, offset=offset)


async def _decide(*, actor: Actor, order_id: UUID, new: OrderStatus, reason: str) -> OrderRead:
    row = await PurchaseOrder.select().where(PurchaseOrder.id == order_id).lock_rows().first()
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
    (updated,) = await PurchaseOrder.update({
        PurchaseOrder.status: new.value, PurchaseOrder.reason: reason, PurchaseOrder.decided_by: actor.user_id,
        PurchaseOrder.decided_at: clock.now(),
    }).where(PurchaseOrder.id == order_id).returning(*_ALL)
    order = _read(updated)
    await audit.record(actor=actor, action=f"order.{new.value}", entity_type="purchase_order", entity_id=order_id,
                       data={"reason": reason})
    await outbox.emit(topic=f"order.{new.value}", aggregate_type="purchase_order", aggregate_id=order_id,
                      payload=_payload(order))
    return order


async def accept_order(*, actor: Actor, order_id: UUID) -> OrderRead:
    require(actor, "supplier", "supplier_admin", "bidder")
    return await _decide(actor=actor, order_id=order_id, new=OrderStatus.ACCEPTED, reason="")


async def reject_order(*, actor: Actor, order_id: UUID, reason: str) -> OrderRead:
    require(actor, "supplier", "supplier_admin", "bidder")
    return await _decide(actor=actor, order_id=order_id, new=OrderStatus.REJECTED, reason=reason)


async def cancel_order(*, actor: Actor, order_id: UUID, reason: str) -> OrderRead:
    require(actor, "agency", "officer")
    return await _decide(actor=actor, order_id=order_id, new=OrderStatus.CANCELLED, reason=reason)
