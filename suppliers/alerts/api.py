"""Tender alert endpoints: a supplier's subscriptions and its notifications."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep
from suppliers.alerts import service
from suppliers.alerts.schemas import NotificationPage, NotificationRead, SubscriptionCreate, SubscriptionRead


def _sub(row: dict[str, Any]) -> SubscriptionRead:
    return SubscriptionRead(id=row["id"], supplier_id=row["supplier_id"], name=row["name"],
                            classification_prefixes=list(row["classification_prefixes"]),
                            region_codes=list(row["region_codes"]), email=row["email"], active=row["active"],
                            created_at=row["created_at"])


def _note(row: dict[str, Any]) -> NotificationRead:
    data = row["data"]
    if isinstance(data, str):
        data = msgspec.json.decode(data)
    return NotificationRead(id=row["id"], subscription_id=row["subscription_id"], tender_id=row["tender_id"],
                            title=row["title"], data=data, email_status=row["email_status"],
                            emailed_at=row["emailed_at"], read_at=row["read_at"], created_at=row["created_at"])


class AlertController(Controller):
    path = "/api/v1/suppliers/{supplier_id:uuid}"
    tags = ["alerts"]

    @post("/alerts", summary="Subscribe to tenders by classification prefixes and regions")
    async def subscribe(self, supplier_id: FromPath[UUID], data: JSONBody[SubscriptionCreate],
                        actor: ActorDep) -> SubscriptionRead:
        row = await service.subscribe(actor=actor, supplier_id=supplier_id, data=data)
        return _sub(row)

    @get("/alerts", summary="The supplier's alert subscriptions")
    async def list_subscriptions(self, supplier_id: FromPath[UUID], actor: ActorDep) -> list[SubscriptionRead]:
        return [_sub(r) for r in await service.list_subscriptions(actor=actor, supplier_id=supplier_id)]

    @delete("/alerts/{subscription_id:uuid}", summary="End an alert subscription")
    async def unsubscribe(self, supplier_id: FromPath[UUID], subscription_id: FromPath[UUID], actor: ActorDep) -> None:
        await service.unsubscribe(actor=actor, supplier_id=supplier_id, subscription_id=subscription_id)

    @get("/notifications", summary="Tenders the supplier's alerts matched, newest first")
    async def notifications(self, supplier_id: FromPath[UUID], actor: ActorDep, unread: FromQuery[bool] = False,
                            limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
                            offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0) -> NotificationPage:
        rows, total, unread_count = await service.list_notifications(actor=actor, supplier_id=supplier_id,
                                                                     unread=unread, limit=limit, offset=offset)
        return NotificationPage(items=[_note(r) for r in rows], total=total, unread=unread_count, limit=limit,
                                offset=offset)

    @post("/notifications/{notification_id:uuid}/read", status_code=200, summary="Mark a notification read")
    async def mark_read(self, supplier_id: FromPath[UUID], notification_id: FromPath[UUID],
                        actor: ActorDep) -> NotificationRead:
        row = await service.mark_read(actor=actor, supplier_id=supplier_id, notification_id=notification_id)
        return _note(row)


ROUTES: list[Any] = [AlertController]
