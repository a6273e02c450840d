"""Core jobs: outbox draining, the outbox sweeper, audit chaining and checkpoints.

Every job here may run twice, and in parallel with itself, on one worker or several:
* `outbox_drain` is a kick, enqueued after commit by `outbox.emit()`. Each consumer drains under its own
  advisory try-lock, and the cursor moves in the batch's transaction, so a second run delivers nothing twice.
* `outbox_sweep` (cron, every second) is the safety net, database-driven: it drains whatever lies beyond a
  cursor, so an enqueue lost between commit and Redis, or a worker killed mid-job, only delays an event.
* `outbox_prune` (cron, hourly) deletes rows every consumer has passed, after OUTBOX_RETENTION_DAYS.
* `audit_chain` (cron, every 5 s) chains finished audit events and signs checkpoints when due; a second
  chainer finds the advisory lock taken and returns.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from arq import cron, func

from marketplace.core import audit, outbox, queue

log = logging.getLogger(__name__)

FOLLOW_UP_JOB_ID = outbox.FOLLOW_UP_JOB_ID
FOLLOW_UP_DELAY = 0.5  # seconds


async def outbox_drain(ctx: dict[str, Any]) -> int:
    """Drain every consumer. When committed rows wait behind an older running transaction, ask for one
    coalesced follow-up shortly, so they are not left to the sweeper."""
    results = await outbox.drain_all()
    if any(r.held_back for r in results.values()):
        pool = queue.get_pool()
        if pool is not None and not str(ctx.get("job_id", "")).startswith(FOLLOW_UP_JOB_ID):
            try:
                await pool.enqueue_job(outbox.DRAIN_JOB, _job_id=f"{FOLLOW_UP_JOB_ID}:{pool.default_queue_name}",
                                       _defer_by=FOLLOW_UP_DELAY)
            except Exception:  # the sweeper catches up
                log.warning("could not enqueue the outbox follow-up drain", exc_info=True)
    return sum(r.delivered for r in results.values())


async def outbox_sweep(ctx: dict[str, Any]) -> int:
    """The sweeper: drain every consumer that has rows beyond its cursor."""
    results = await outbox.drain_all()
    delivered = sum(r.delivered for r in results.values())
    if delivered:
        log.info("outbox sweeper delivered %d events a kick did not", delivered)
    return delivered


async def outbox_prune(ctx: dict[str, Any]) -> int:
    """Delete outbox rows every consumer has passed, once older than OUTBOX_RETENTION_DAYS."""
    days = getattr(ctx.get("settings"), "outbox_retention_days", None) or 7
    return await outbox.prune(older_than=timedelta(days=days))


async def audit_chain(ctx: dict[str, Any]) -> int:
    """Chain pending audit events; sign a checkpoint when AUDIT_CHECKPOINT_EVERY / _SECONDS say so."""
    return await audit.chain_pending(ctx.get("settings"))


FUNCTIONS: list = [
    # keep_result=0: no result key, so the same job id (the follow-up) can be enqueued again at once
    func(outbox_drain, name=outbox.DRAIN_JOB, keep_result=0, timeout=120, max_tries=3),
    func(audit_chain, name="audit_chain", keep_result=0, timeout=300, max_tries=1),
]
CRONS: list = [
    cron(outbox_sweep, name="outbox_sweep", second=set(range(60)), run_at_startup=True,
         timeout=120, keep_result=0, max_tries=1),
    cron(outbox_prune, name="outbox_prune", minute=17, second=0, timeout=1800, keep_result=0, max_tries=1),
    cron(audit_chain, name="audit_chain_cron", second=set(range(0, 60, 5)), run_at_startup=True,
         timeout=300, keep_result=0, max_tries=1),
]
