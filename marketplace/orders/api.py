"""Purchase order endpoints: /api/v1/orders."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core import geo, idempotency
from marketplace.core.deps import ActorDep
from marketplace.orders import service
from marketplace.orders.schemas import OrderCreate, OrderDecision, OrderPage, OrderRead


def order_read(row: dict[str, Any]) -> OrderRead:
    return OrderRead(
        id=row["id"], number=row["number"], agency_id=row["agency_id"], supplier_id=row["supplier_id"],
        offer_id=row["offer_id"], product_sheet_id=row["product_sheet_id"], product_name=row["product_name"],
        unit=row["unit"], region_code=row["region_code"], delivery_ubigeo=row["delivery_ubigeo"],
        delivery_place=geo.display_name(row["delivery_ubigeo"]), quantity=row["quantity"],
        unit_price_cents=row["unit_price_cents"], total_cents=row["total_cents"], currency=row["currency"],
        delivery_days=row["delivery_days"], notes=row["notes"], status=row["status"], reason=row["reason"],
        placed_at=row["placed_at"], decided_at=row["decided_at"])


class OrderController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]

    @post("/", summary="Order from a catalogue offer at the delivery region's current price (agency officers); "
                       "stock is reserved. Send an Idempotency-Key header to retry safely.")
    async def place(self, request: Request, data: JSONBody[OrderCreate], actor: ActorDep) -> Response[OrderRead]:
        claim = await idempotency.claim(actor=actor, route="POST /api/v1/orders",
                                        key=request.headers.get(idempotency.HEADER), request=data)
        if claim.replay is None:
            result = order_read(await service.place_order(actor=actor, data=data))
            await claim.store(status=201, response=msgspec.to_builtins(result))
        if claim.replay is not None:
            return Response(msgspec.convert(claim.replay.response, OrderRead), status_code=claim.replay.status)
        return Response(result, status_code=201)

    @get("/", summary="Orders of your organisation (oversight and the platform see all)")
    async def list_orders(
        self, actor: ActorDep,
        status: Annotated[str | None, QueryParameter(pattern="^(placed|accepted|rejected|cancelled)$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> OrderPage:
        rows, total = await service.list_orders(actor=actor, status=status, limit=limit, offset=offset)
        return OrderPage(items=[order_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/{order_id:uuid}", summary="An order")
    async def read(self, order_id: FromPath[UUID], actor: ActorDep) -> OrderRead:
        return order_read(await service.read_order(actor=actor, order_id=order_id))

    @post("/{order_id:uuid}/accept", status_code=200, summary="The supplier accepts the order")
    async def accept(self, order_id: FromPath[UUID], actor: ActorDep) -> OrderRead:
        row = await service.accept_order(actor=actor, order_id=order_id)
        return order_read(row)

    @post("/{order_id:uuid}/reject", status_code=200, summary="The supplier rejects the order; the stock returns")
    async def reject(self, order_id: FromPath[UUID], data: JSONBody[OrderDecision], actor: ActorDep) -> OrderRead:
        row = await service.reject_order(actor=actor, order_id=order_id, reason=data.reason)
        return order_read(row)

    @post("/{order_id:uuid}/cancel", status_code=200,
          summary="The agency cancels an order the supplier has not decided yet; the stock returns")
    async def cancel(self, order_id: FromPath[UUID], data: JSONBody[OrderDecision], actor: ActorDep) -> OrderRead:
        row = await service.cancel_order(actor=actor, order_id=order_id, reason=data.reason)
        return order_read(row)


ROUTES: list[Any] = [OrderController]
