"""Outbox consumers: an appeal asks its bond; an upheld appeal gets its bond back.

Consumers receive only the events, not the worker's settings, so the bond rate is read from the
environment once (APPEAL_BOND_PERCENT, as Settings reads it).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from uuid import UUID

from marketplace.core import outbox
from marketplace.core.actor import SYSTEM
from marketplace.payments import service


@functools.cache
def bond_percent() -> Decimal:
    from marketplace.settings import load_settings

    return load_settings(persist_dev_keys=False).appeal_bond_percent


@outbox.consumer("payments.appeal_bonds", topics=["award.appealed"])
async def request_bonds(events: list[outbox.OutboxEvent]) -> None:
    """Each filed appeal owes a bond of APPEAL_BOND_PERCENT of its lot's estimated value. Idempotent
    (one bond per appeal: 'bond:<appeal id>')."""
    from tenders import service as tenders

    for ev in events:
        p = ev.payload
        tender = await tenders.load_tender(tender_id=UUID(p["tender_id"]))
        lot = next((lot for lot in await tenders.load_lots(tender_id=tender["id"]) if str(lot["id"]) == p["lot_id"]),
                   None)
        if lot is None or lot["estimated_value"] <= 0:
            continue
        await service.request_appeal_bond(
            actor=SYSTEM, bond_percent=bond_percent(), appeal_id=UUID(p["appeal_id"]),
            supplier_org_id=UUID(p["appellant_id"]), agency_org_id=tender["agency_id"],
            estimated_value_cents=lot["estimated_value"], currency=tender["currency"])


@outbox.consumer("payments.appeals", topics=["appeal.decided"])
async def refund_upheld_bonds(events: list[outbox.OutboxEvent]) -> None:
    """An upheld appeal gets its bond back (a Stripe Refund, run by the payments job). Idempotent."""
    for ev in events:
        if ev.payload.get("decision") != "upheld":
            continue
        appeal_id = UUID(ev.payload["appeal_id"])
        if await service.bond_paid(appeal_id=appeal_id):
            await service.refund_appeal_bond(actor=SYSTEM, appeal_id=appeal_id)
