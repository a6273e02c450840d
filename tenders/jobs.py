"""The tender sweeper: database-driven clock moves (enquiries end, deadline passes; the opening waits for its quorum).

Cron ticks can be missed (arq does not catch up), so the sweeper never relies on a tick at a particular
moment: each run reads from PostgreSQL every tender a move is due for, and moves each one in its own
transaction under the tender's row lock (FOR UPDATE: the same lock bid submission holds FOR SHARE), judging
with the clock read after the lock. Running it twice, or on two workers at once, is harmless: the second
finds nothing due or waits for the lock and then finds the move already made.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.worker import Function

from marketplace.core.actor import SYSTEM
from marketplace.core.db import unit_of_work
from marketplace.core.transactions import own_transaction
from tenders import (
    consumers,  # noqa: F401  (registers the outbox consumers)
    notices,  # noqa: F401  (registers the bidder notices' outbox consumer)
    service,
)

log = logging.getLogger(__name__)


# A transaction per tender, so that one tender that fails does not stop the others.
@own_transaction
async def sweep_tenders(ctx: dict[str, Any], *, settings: Any = None, limit: int = 200) -> int:
    """Advance every tender whose enquiry end or deadline has passed. Returns how many moved."""
    settings = settings or ctx["settings"]
    moved = 0
    for tender_id in await service.due_tender_ids(limit=limit):
        try:
            async with unit_of_work():
                locked = await service.lock_tender(tender_id=tender_id)
                after = await service.advance_by_clock(actor=SYSTEM, settings=settings, tender_id=tender_id,
                                                       locked=locked)
            before = locked["state"]
            moved += before != after
        except Exception:  # one bad tender must not stop the others; the next tick retries it
            log.exception("sweeping tender %s failed", tender_id)
    return moved


FUNCTIONS: list[Function] = []
CRONS: list[CronJob] = [
    cron(sweep_tenders, name="tenders_sweep", second=set(range(0, 60, 5)), run_at_startup=True, timeout=120,
         keep_result=0, max_tries=1),
]
