"""Tender alert endpoints: a supplier's subscriptions and its notifications."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep
from suppliers.alerts import service
from suppliers.alerts.schemas import NotificationPage, NotificationRead, SubscriptionCreate, SubscriptionRead


class AlertController(Controller):
    path = "/api/v1/suppliers/{supplier_id:uuid}"
    tags = ["alerts"]

    @post("/alerts", summary="Subscribe to tenders by classification prefixes and regions")
    async def subscribe(self, supplier_id: FromPath[UUID], data: JSONBody[SubscriptionCreate],
                        actor: ActorDep) -> SubscriptionRead:
        return await service.subscribe(actor=actor, supplier_id=supplier_id, data=data)

    @get("/alerts", summary="The supplier's alert subscriptions")
    async def list_subscriptions(self, supplier_id: FromPath[UUID], actor: ActorDep) -> list[SubscriptionRead]:
        return await service.list_subscriptions(actor=actor, supplier_id=supplier_id)

    @delete("/alerts/{subscription_id:uuid}", summary="End an alert subscription")
    async def unsubscribe(self, supplier_id: FromPath[UUID], subscription_id: FromPath[UUID], actor: ActorDep) -> None:
        await service.unsubscribe(actor=actor, supplier_id=supplier_id, subscription_id=subscription_id)

    @get("/notifications", summary="Tenders the supplier's alerts matched, newest first")
    async def notifications(self, supplier_id: FromPath[UUID], actor: ActorDep, unread: FromQuery[bool] = False,
                            limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
                            offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0) -> NotificationPage:
        return await service.list_notifications(actor=actor, supplier_id=supplier_id, unread=unread, limit=limit,
                                                offset=offset)

    @post("/notifications/{notification_id:uuid}/read", status_code=200, summary="Mark a notification read")
    async def mark_read(self, supplier_id: FromPath[UUID], notification_id: FromPath[UUID],
                        actor: ActorDep) -> NotificationRead:
        return await service.mark_read(actor=actor, supplier_id=supplier_id, notification_id=notification_id)


ROUTES: list[Any] = [AlertController]
