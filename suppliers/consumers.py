"""Outbox consumers of the supplier registry (registered on import; suppliers/jobs.py imports this).

* 'suppliers.registry_fee' (topic 'registry_fee.paid', emitted by payments when the registry fee's payment
  succeeds): a pending registration becomes active. Idempotent: a supplier that is no longer pending is
  left as it is (a redelivered event, or a fee paid again for a later year).
"""

from __future__ import annotations

import logging
from uuid import UUID

from marketplace.core import outbox
from marketplace.core.actor import SYSTEM
from suppliers import service
from suppliers.domain import Status
from suppliers.tables import Supplier

log = logging.getLogger(__name__)

REGISTRY_FEE_CONSUMER = "suppliers.registry_fee"


@outbox.consumer(REGISTRY_FEE_CONSUMER, topics=["registry_fee.paid"])
async def registry_fee_paid(events: list[outbox.OutboxEvent]) -> None:
    for ev in events:
        org_id = UUID(str(ev.payload.get("supplier_org_id") or ev.aggregate_id))
        row = await Supplier.select(Supplier.status).where(Supplier.organisation_id == org_id).first()
        if row is None:
            log.warning("registry fee paid by %s, which is not in the supplier registry", org_id)
            continue
        if row["status"] != Status.PENDING:
            continue
        reason = f"registry fee paid (payment {ev.payload.get('payment_id', '?')})"
        await service.approve_registration(actor=SYSTEM, org_id=org_id, reason=reason)
