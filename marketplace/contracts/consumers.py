"""Outbox consumers of contracts.

* 'contracts.sources' ('award.consented', 'order.accepted'): a consented award or an accepted purchase order
  becomes a contract. Idempotent: a contract is unique per (source_type, source_id).
* 'contracts.payments' ('payment.succeeded', 'payment.reversed' of a milestone's payment, emitted by
  payments): the milestone is marked paid (and the contract completed when every milestone is), or unpaid
  again. Idempotent: a milestone already in the state the event implies is left alone.
"""

from __future__ import annotations

from uuid import UUID

from marketplace.contracts import service
from marketplace.core import outbox


@outbox.consumer("contracts.sources", topics=["award.consented", "order.accepted"])
async def create_contracts(events: list[outbox.OutboxEvent]) -> None:
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


@outbox.consumer("contracts.payments", topics=["payment.succeeded", "payment.reversed"])
async def milestone_payments(events: list[outbox.OutboxEvent]) -> None:
    for ev in events:
        p = ev.payload
        if p.get("kind") != "milestone" or not p.get("milestone_id"):
            continue
        milestone_id, payment_id = UUID(p["milestone_id"]), UUID(p["payment_id"])
        if ev.topic == "payment.succeeded":
            await service.milestone_paid(milestone_id=milestone_id, payment_id=payment_id)
            continue
        if p.get("previous_state") != "succeeded":
            # Reversed without passing through 'succeeded' here (Stripe's events arrived out of order): the
            # milestone's record still says it was paid, then taken back.
            await service.milestone_paid(milestone_id=milestone_id, payment_id=payment_id)
        await service.milestone_payment_reversed(milestone_id=milestone_id, payment_id=payment_id)
