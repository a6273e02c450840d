"""Outbox consumers of the tenders package.

'tenders.contracts' on 'contract.signed': the lot of a contract that comes from an award moves from
awarded to contracted (and the tender with it). From then on the lot and the tender can no longer be
cancelled, and stage alarms and the public pages see the procedure as contracted.

Idempotent: a lot already contracted is left alone; a lot in any other state (its award was reopened or
cancelled in between) is logged and skipped rather than jamming the consumer.
"""

from __future__ import annotations

import logging
from uuid import UUID

from marketplace.core import outbox
from marketplace.core.actor import SYSTEM
from tenders import service
from tenders.domain import Action, State

log = logging.getLogger(__name__)


@outbox.consumer("tenders.contracts", topics=["contract.signed"])
async def contract_signed(events: list[outbox.OutboxEvent]) -> None:
    # Contracts sit above tenders: what this needs comes in the event (contract_id, source_type, tender_id,
    # lot_id), never from contracts' service.
    for e in events:
        p = e.payload
        if p.get("source_type") != "award" or not p.get("tender_id") or not p.get("lot_id"):
            continue
        contract_id, tender_id, lot_id = p["contract_id"], UUID(p["tender_id"]), UUID(p["lot_id"])
        t = await service.lock_tender(tender_id=tender_id)
        lot = next((x for x in await service.load_lots(tender_id=tender_id) if x["id"] == lot_id), None)
        if lot is None or lot["state"] == State.CONTRACTED.value:
            continue
        if lot["state"] != State.AWARDED.value:
            log.warning("contract %s signed but its lot %s is %s: not marked contracted", contract_id, lot_id,
                        lot["state"])
            continue
        await service.apply_lot_action(actor=SYSTEM, tender_id=tender_id, lot_id=lot_id, action=Action.CONTRACT,
                                       locked=t)
