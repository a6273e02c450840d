"""Red-flag read model jobs (readmodel.py): the sync from the compiled releases' change feed every few
seconds, and the population pass (fences) every minute for the publishers that are due. Both run in the
worker's unit of work (one transaction each: the cursor moves with the flags it wrote) and are idempotent."""

from __future__ import annotations

from typing import Any

from arq import cron

from marketplace.core.transactions import own_transaction
from marketplace.oversight.redflags import readmodel

SYNC_SECONDS = 60  # one run's budget; the next tick goes on from the cursor


@own_transaction  # one transaction per batch with its cursor: a large import is taken in bounded transactions
async def redflags_sync(ctx: dict[str, Any]) -> int:
    """Evaluate the processes whose compiled release changed since the last run, batch after batch, until the
    feed is read or the run's budget is spent; returns how many were evaluated."""
    settings = ctx["settings"]
    return await readmodel.sync_all(settings, batch=settings.redflags.sync_batch, seconds=SYNC_SECONDS)


async def redflags_population(ctx: dict[str, Any]) -> int:
    """Recompute the quartile fences and population flags of the publishers due (REDFLAG_FENCES_MINUTES)."""
    return len(await readmodel.refresh_population(ctx["settings"]))


FUNCTIONS: list[Any] = []
CRONS: list[Any] = [
    cron(redflags_sync, name="oversight_redflags_sync", second=set(range(2, 60, 5)), run_at_startup=True,
         timeout=300, keep_result=0, max_tries=1),
    cron(redflags_population, name="oversight_redflags_population", second=29, run_at_startup=True,
         timeout=1800, keep_result=0, max_tries=1),
]
