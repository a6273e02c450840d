"""Outbox consumers: what tenders' awards tell payments about appeal bonds.

* 'appeal.bond_due' (an appeal filed that owes a bond; its amount was set by tenders.awards): the bond's
  payment is requested (a PaymentIntent created by the payments job; the appellant pays it).
* 'appeal.bond_refund_due' (an appeal that will never be heard: lapsed with the standstill, mooted by a
  cancelled lot or another upheld appeal, or paid after it lapsed) and 'appeal.decided' with the decision
  'upheld': a paid bond goes back to the appellant (a Stripe Refund, run by the payments job).

Every handler is idempotent (the bond and its refund are unique per appeal), so a redelivered event changes
nothing; they run in the drain's transaction.
"""

from __future__ import annotations

from uuid import UUID

from marketplace.core import outbox
from marketplace.core.actor import SYSTEM
from marketplace.payments import service

TOPICS = ["appeal.bond_due", "appeal.bond_refund_due", "appeal.decided"]


@outbox.consumer("payments.appeals", topics=TOPICS)
async def appeal_bonds(events: list[outbox.OutboxEvent]) -> None:
    for ev in events:
        p = ev.payload
        appeal_id = UUID(p["appeal_id"])
        if ev.topic == "appeal.bond_due":
            await service.request_appeal_bond(
                actor=SYSTEM, appeal_id=appeal_id, supplier_org_id=UUID(p["appellant_id"]),
                agency_org_id=UUID(p["agency_id"]) if p.get("agency_id") else None,
                amount_cents=int(p["bond_cents"]), currency=p.get("currency") or "PEN")
        elif (ev.topic == "appeal.bond_refund_due" or p.get("decision") == "upheld") and await service.bond_paid(
                appeal_id=appeal_id):
            await service.refund_appeal_bond(actor=SYSTEM, appeal_id=appeal_id)
