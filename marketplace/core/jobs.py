"""Core jobs: outbox draining, the outbox sweeper, audit chaining and checkpoints.

Every job here may run twice, and in parallel with itself, on one worker or several:
* `outbox_drain` is a kick, enqueued after commit by `outbox.emit()`. Each consumer drains in its own task
  (one per consumer and process, coalesced), under its own advisory try-lock, and the cursor moves in the
  batch's transaction, so a second run delivers nothing twice.
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

from marketplace.core import audit, outbox
from marketplace.core.transactions import own_transaction

log = logging.getLogger(__name__)

@own_transaction  # each consumer's drain runs in tasks of its own, a transaction per batch
async def outbox_drain(ctx: dict[str, Any]) -> None:
    """Start every consumer's drain, each in its own task of this process (outbox.request_drain), and
    return: a consumer's delivery waits for its own drain only, and one still running is asked to go round
    once more. The job does not wait for them: a job waiting on a slow consumer's drain kept its fixed id
    busy, so later kicks were dropped and the fast consumers waited for the sweeper. While committed rows
    wait behind an older running transaction, a drainer looks again every 20 ms for a second; after that
    the sweeper. The worker's shutdown lets running drains finish (outbox.stop_drainers)."""
    await outbox.request_drain(wait=False)


@own_transaction  # a transaction per consumer and batch, so one failing consumer holds back no other
async def outbox_sweep(ctx: dict[str, Any]) -> int:
    """The sweeper: drain every consumer that has rows beyond its cursor."""
    results = await outbox.drain_all()
    delivered = sum(r.delivered for r in results.values())
    if delivered:
        log.info("outbox sweeper delivered %d events a kick did not", delivered)
    return delivered


@own_transaction  # a transaction per batch of deleted rows: short locks on a big table
async def outbox_prune(ctx: dict[str, Any]) -> int:
    """Delete outbox rows every consumer has passed, once older than OUTBOX_RETENTION_DAYS."""
    days = getattr(ctx.get("settings"), "outbox_retention_days", None) or 7
    return await outbox.prune(older_than=timedelta(days=days))


@own_transaction  # a transaction per batch of chained events
async def audit_chain(ctx: dict[str, Any]) -> int:
    """Chain pending audit events; sign a checkpoint when AUDIT_CHECKPOINT_EVERY / _SECONDS say so."""
    return await audit.chain_pending(ctx.get("settings"))


FUNCTIONS: list[Any] = [
    # keep_result=0: no result key, so the same job id (the follow-up) can be enqueued again at once
    func(outbox_drain, name=outbox.DRAIN_JOB, keep_result=0, timeout=120, max_tries=3),
    func(audit_chain, name="audit_chain", keep_result=0, timeout=300, max_tries=1),
]
CRONS: list[Any] = [
    cron(outbox_sweep, name="outbox_sweep", second=set(range(60)), run_at_startup=True,
         timeout=120, keep_result=0, max_tries=1),
    cron(outbox_prune, name="outbox_prune", minute=17, second=0, timeout=1800, keep_result=0, max_tries=1),
    cron(audit_chain, name="audit_chain_cron", second=set(range(0, 60, 5)), run_at_startup=True,
         timeout=300, keep_result=0, max_tries=1),
]
