"""Outbox consumers: an upheld appeal gets its bond back.

(An appeal's bond is requested by the appeals service in the transaction that files the appeal.)
"""

from __future__ import annotations

from uuid import UUID

from marketplace.core import outbox
from marketplace.core.actor import SYSTEM
from marketplace.payments import service


@outbox.consumer("payments.appeals", topics=["appeal.decided"])
async def refund_upheld_bonds(events: list[outbox.OutboxEvent]) -> None:
    """An upheld appeal gets its bond back (a Stripe Refund, run by the payments job). Idempotent."""
    for ev in events:
        if ev.payload.get("decision") != "upheld":
            continue
        appeal_id = UUID(ev.payload["appeal_id"])
        if await service.bond_paid(appeal_id=appeal_id):
            await service.refund_appeal_bond(actor=SYSTEM, appeal_id=appeal_id)
