"""Payments jobs: run a requested payment against Stripe, apply a stored webhook event, sweep leftovers,
raise alarms for payments stuck in 'requested'.

Jobs may run more than once (arq is at-least-once): each is safe to, through the payment row's lock and
state, the operation's idempotency key at Stripe, and the stored event's `applied_at`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq import Retry, cron

from marketplace.core import queue
from marketplace.core.transactions import own_transaction
from marketplace.payments import consumers, service  # noqa: F401  (consumers register themselves)
from marketplace.settings import Settings


def _settings(ctx: dict[str, Any]) -> Settings:
    settings: Settings = ctx["settings"]  # the worker's, given at its start-up (marketplace.worker)
    return settings


# Its own transactions: Stripe is called between them, never while one is open (service.execute_payment).
@own_transaction
async def payments_execute(ctx: dict[str, Any], payment_id: str) -> str | None:
    try:
        return await service.execute_payment(settings=_settings(ctx), payment_id=UUID(payment_id))
    except service.RetryLater as exc:
        tries = ctx.get("job_try", 1)
        raise Retry(defer=min(300, 5 * 2 ** min(tries, 6))) from exc


async def payments_apply_event(ctx: dict[str, Any], event_id: str) -> str | None:
    return await service.apply_event(event_id=event_id)


async def payments_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Re-enqueue payments still 'requested' and events not applied (a lost enqueue only delays them)."""
    payments, events = await service.pending_work()
    for payment_id in payments:
        await queue.enqueue(service.EXECUTE_JOB, str(payment_id))
    for event_id in events:
        await queue.enqueue(service.APPLY_EVENT_JOB, event_id)
    return {"payments": len(payments), "events": len(events)}


async def payments_alarms(ctx: dict[str, Any]) -> int:
    """Alarm (once per payment) when a payment stays 'requested' past PAYMENT_STUCK_MINUTES; clear the alarms
    of payments that moved on. Returns how many were raised."""
    return await service.raise_alarms(settings=_settings(ctx))


FUNCTIONS = [payments_execute, payments_apply_event, payments_sweep, payments_alarms]
CRONS = [cron(payments_sweep, second={0}, run_at_startup=True),
         cron(payments_alarms, second={30}, run_at_startup=True, keep_result=0, max_tries=1)]
