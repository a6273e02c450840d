"""Outbox consumers: a consented award or an accepted purchase order becomes a contract."""

from __future__ import annotations

from uuid import UUID

from marketplace.contracts import service
from marketplace.core import outbox


@outbox.consumer("contracts.sources", topics=["award.consented", "order.accepted"])
async def create_contracts(events: list[outbox.OutboxEvent]) -> None:
    """Idempotent: a contract is unique per (source_type, source_id)."""
    for ev in events:
        p = ev.payload
        if ev.topic == "award.consented":
            await service.create_from_award(
                award_id=UUID(p["award_id"]), tender_id=UUID(p["tender_id"]), lot_id=UUID(p["lot_id"]),
                supplier_org_id=UUID(p["supplier_id"]), value_cents=int(p["value"]), currency=p["currency"])
        elif ev.topic == "order.accepted":
            await service.create_from_order(
                order_id=UUID(p["order_id"]), agency_org_id=UUID(p["agency_id"]),
                supplier_org_id=UUID(p["supplier_id"]), number=p.get("number"),
                total_cents=int(p["total_cents"]), currency=p["currency"])
