"""Oversight jobs: the outbox consumers (award history, stage history, OCDS releases), stuck-tender alarms
and the daily OCDS bulk files. All idempotent (see each function)."""

from __future__ import annotations

import logging
from typing import Any

from arq import cron

from marketplace.core.db import unit_of_work
from marketplace.core.transactions import own_transaction
from marketplace.oversight import (
    consumers,  # noqa: F401  (registers the outbox consumers)
    projection,
)
from marketplace.oversight.imports import harvest
from marketplace.oversight.imports import service as imports
from marketplace.oversight.ocds import publisher
from marketplace.oversight.stages import service as stages

log = logging.getLogger(__name__)


async def stage_alarms(ctx: dict[str, Any]) -> int:
    """Raise alarms for tenders stuck past STAGE_LIMIT_DAYS and notify their agencies (once each)."""
    return await stages.raise_alarms(ctx["settings"])


@own_transaction  # reads only, for minutes: no long transaction holding back vacuum
async def ocds_bulk(ctx: dict[str, Any]) -> int:
    """Write the gzip JSON Lines file of each finished day that has none yet, and today's so far (hourly)."""
    return len(await publisher.write_bulk(ctx["settings"]))


@own_transaction  # one transaction per harvested page with its cursor: a failed page must not undo the others
async def ocds_harvest(ctx: dict[str, Any]) -> int:
    """Harvest the OCDS feeds that are due (own transactions: one per page with its cursor, see harvest.py),
    then compile any of our own processes that has no compiled release yet. Returns new releases."""
    results = await harvest.harvest_due(ctx["settings"])
    async with unit_of_work():
        await imports.backfill_own()
    await projection.catch_up()
    return sum(r.releases_new for r in results)


@own_transaction  # one transaction per batch of the feed with its cursor: a backlog is not one huge transaction
async def project_compiled(ctx: dict[str, Any]) -> int:
    """Bring the award history and stage times of imported processes up to date (projection.py)."""
    return await projection.catch_up()


FUNCTIONS: list[Any] = []
CRONS: list[Any] = [
    cron(stage_alarms, name="oversight_stage_alarms", minute={3, 18, 33, 48}, second=11, run_at_startup=True,
         timeout=300, keep_result=0, max_tries=1),
    cron(ocds_harvest, name="oversight_ocds_harvest", minute=set(range(0, 60, 5)), second=41, run_at_startup=False,
         timeout=3600, keep_result=0, max_tries=1),
    cron(project_compiled, name="oversight_project_compiled", second=53, run_at_startup=True, timeout=3600,
         keep_result=0, max_tries=1),
    cron(ocds_bulk, name="oversight_ocds_bulk", minute={7}, second=23, run_at_startup=True, timeout=1800,
         keep_result=0, max_tries=1),
]
