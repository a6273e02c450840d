"""The consent job: database-driven, idempotent.

Every run reads from PostgreSQL the awards whose standstill is over (or whose lot was cancelled) and
settles each in its own transaction under the award's row lock, judged by the clock read after the lock:
consented when no appeal is open ('award.consented', which contracts consume), cancelled when its lot was
cancelled. A missed tick only delays consent to the next one; two workers running it at once settle
each award once (the second waits for the lock, then finds nothing to do).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from arq import cron
from arq.cron import CronJob
from arq.worker import Function

from marketplace.core import outbox
from marketplace.core.actor import SYSTEM
from marketplace.core.db import unit_of_work
from marketplace.core.transactions import own_transaction
from tenders.awards import service

log = logging.getLogger(__name__)


# A transaction per award, so that one award that fails does not stop the others.
@own_transaction
async def consent_awards(ctx: dict[str, Any] | None = None, *, limit: int = 200) -> int:
    """Settle every due award. Returns how many changed state."""
    changed = 0
    for award_id in await service.due_award_ids(limit=limit):
        try:
            async with unit_of_work():
                changed += await service.settle(award_id=award_id, actor=SYSTEM) is not None
        except Exception:  # one bad award must not stop the others; the next tick retries it
            log.exception("settling award %s failed", award_id)
    return changed


@outbox.consumer(service.PAID_BONDS_CONSUMER, topics=["appeal_bond.paid"])
async def admit_paid_appeals(events: list[outbox.OutboxEvent]) -> None:
    """A paid bond opens its appeal (consent waits for the decision), or lapses it when paid too late (judged
    by when it was paid, as the event says). Runs in the drain's transaction; idempotent (an appeal no longer
    waiting for its bond is left alone)."""
    for ev in events:
        await service.admit_paid_appeal(appeal_id=UUID(ev.payload["appeal_id"]), paid_at=service.bond_paid_at(ev),
                                        actor=SYSTEM)


FUNCTIONS: list[Function] = []
CRONS: list[CronJob] = [
    cron(consent_awards, name="awards_consent", second={7, 37}, run_at_startup=True, timeout=120,
         keep_result=0, max_tries=1),
]
