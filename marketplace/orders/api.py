"""Purchase order endpoints: /api/v1/orders."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core import idempotency
from marketplace.core.deps import ActorDep
from marketplace.orders import service
from marketplace.orders.schemas import OrderCreate, OrderDecision, OrderPage, OrderRead


class OrderController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]

    @post("/", summary="Order from a catalogue offer at the delivery region's current price (agency officers); "
                       "stock is reserved. Send an Idempotency-Key header to retry safely.")
    async def place(self, request: Request[Any, Any, Any], data: JSONBody[OrderCreate],
                    actor: ActorDep) -> Response[OrderRead]:
        claim = await idempotency.claim(actor=actor, route="POST /api/v1/orders",
                                        key=request.headers.get(idempotency.HEADER), request=data)
        if claim.replay is None:
            body = msgspec.to_builtins(await service.place_order(actor=actor, data=data))
            await claim.store(status=201, response=body)
        if claim.replay is not None:  # the first answer, as it was given (even one stored before a schema change)
            return Response(claim.replay.response, status_code=claim.replay.status)
        return Response(body, status_code=201)

    @get("/", summary="Orders of your organisation (oversight and the platform see all)")
    async def list_orders(
        self, actor: ActorDep,
        status: Annotated[str | None, QueryParameter(pattern="^(placed|accepted|rejected|cancelled)$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> OrderPage:
        return await service.list_orders(actor=actor, status=status, limit=limit, offset=offset)

    @get("/{order_id:uuid}", summary="An order")
    async def read(self, order_id: FromPath[UUID], actor: ActorDep) -> OrderRead:
        return await service.read_order(actor=actor, order_id=order_id)

    @post("/{order_id:uuid}/accept", status_code=200, summary="The supplier accepts the order")
    async def accept(self, order_id: FromPath[UUID], actor: ActorDep) -> OrderRead:
        return await service.accept_order(actor=actor, order_id=order_id)

    @post("/{order_id:uuid}/reject", status_code=200, summary="The supplier rejects the order; the stock returns")
    async def reject(self, order_id: FromPath[UUID], data: JSONBody[OrderDecision], actor: ActorDep) -> OrderRead:
        return await service.reject_order(actor=actor, order_id=order_id, reason=data.reason)

    @post("/{order_id:uuid}/cancel", status_code=200,
          summary="The agency cancels an order the supplier has not decided yet; the stock returns")
    async def cancel(self, order_id: FromPath[UUID], data: JSONBody[OrderDecision], actor: ActorDep) -> OrderRead:
        return await service.cancel_order(actor=actor, order_id=order_id, reason=data.reason)


ROUTES: list[Any] = [OrderController]
