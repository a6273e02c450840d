"""The auction job: database-driven clock moves and awards, idempotent.

Every run reads from PostgreSQL each auction whose start or end has come (or whose award is pending) and
settles it (`service.settle`: under the auction row lock, judged by the clock read after it). The live
rooms do the same at the exact moment for the auctions they serve, and any read does it lazily; a missed
tick only delays a close nobody is watching, and two runs at once move each auction once.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.worker import Function

from marketplace.core.transactions import own_transaction
from tenders.auctions import service

log = logging.getLogger(__name__)


# A transaction per auction move (service.settle), so that one auction that fails does not stop the others.
@own_transaction
async def sweep_auctions(ctx: dict[str, Any], *, limit: int = 200) -> int:
    """Start, close and award every due auction (under the worker's `ctx["settings"]`). Returns how many
    were looked at."""
    settings = ctx["settings"]
    ids = await service.due_ids(limit=limit)
    for auction_id in ids:
        try:
            await service.settle(auction_id=auction_id, settings=settings)
        except Exception:  # one bad auction must not stop the others; the next tick retries it
            log.exception("settling auction %s failed", auction_id)
    return len(ids)


FUNCTIONS: list[Function] = []
CRONS: list[CronJob] = [
    cron(sweep_auctions, name="auctions_sweep", second=set(range(0, 60, 2)), run_at_startup=True, timeout=120,
         keep_result=0, max_tries=1),
]
