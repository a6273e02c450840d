"""Red-flag read model jobs (readmodel.py): the sync from the compiled releases' change feed every few
seconds, and every minute the recomputation of publishers whose settings changed and the population pass
(fences) for the publishers that are due. Both open their own units of work (a batch and its cursor in one
transaction) and are idempotent."""

from __future__ import annotations

from typing import Any

from arq import cron

from marketplace.core.db import unit_of_work
from marketplace.core.transactions import own_transaction
from marketplace.oversight.redflags import readmodel

SYNC_SECONDS = 60  # one run's budget; the next tick goes on from the cursor


@own_transaction  # one transaction per batch with its cursor: a large import is taken in bounded transactions
async def redflags_sync(ctx: dict[str, Any]) -> int:
    """Evaluate the processes whose compiled release changed since the last run, batch after batch, until the
    feed is read or the run's budget is spent; returns how many were evaluated."""
    settings = ctx["settings"]
    return await readmodel.sync_all(settings, batch=settings.redflags.sync_batch, seconds=SYNC_SECONDS)


@own_transaction  # a publisher recomputed under new settings is taken in bounded transactions, like the sync's
async def redflags_population(ctx: dict[str, Any]) -> int:
    """Recompute the publishers whose Cardinal settings changed (REDFLAG_SETTINGS_DIR), batch after batch
    within the run's budget; then the quartile fences and population flags of the publishers due
    (REDFLAG_FENCES_MINUTES; a publisher just recomputed is due at once). Returns the publishers whose fences
    were computed."""
    settings = ctx["settings"]
    await readmodel.apply_settings(settings, batch=settings.redflags.sync_batch, seconds=SYNC_SECONDS)
    async with unit_of_work():
        return len(await readmodel.refresh_population(settings))


FUNCTIONS: list[Any] = []
CRONS: list[Any] = [
    cron(redflags_sync, name="oversight_redflags_sync", second=set(range(2, 60, 5)), run_at_startup=True,
         timeout=300, keep_result=0, max_tries=1),
    cron(redflags_population, name="oversight_redflags_population", second=29, run_at_startup=True,
         timeout=1800, keep_result=0, max_tries=1),
]
