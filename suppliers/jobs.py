"""Supplier jobs: alert e-mails and the end of suspensions. Importing this module also registers the
outbox consumers 'suppliers.alerts' (tender.published -> notifications) and 'suppliers.registry_fee'
(registry_fee.paid -> a pending registration becomes active).

* `send_alert_emails` (kicked after the consumer commits; cron every minute as the sweeper): safe to run
  twice or in parallel, since each mail is claimed before it is sent.
* `end_suspensions` (cron every minute): suspensions past their end date become active again, with the
  status change audited and announced (their offers come back to search). Database-driven: a missed tick
  is caught up by the next one.
"""

from __future__ import annotations

from typing import Any

from arq import cron

from marketplace.core.transactions import own_transaction
from suppliers import consumers, service  # noqa: F401  (consumers: registered on import)
from suppliers.alerts import service as alerts


# Claims each mail in a transaction of its own before sending it, so a claimed mail is not resent.
@own_transaction
async def send_alert_emails(ctx: dict[str, Any]) -> int:
    total = 0
    while True:
        sent = await alerts.send_pending_emails(ctx["settings"], limit=100)
        total += sent
        if sent < 100:
            return total


async def end_suspensions(ctx: dict[str, Any]) -> int:
    return await service.end_due_suspensions()


FUNCTIONS = [send_alert_emails, end_suspensions]
CRONS = [
    cron(send_alert_emails, second=15, run_at_startup=False, unique=True),
    cron(end_suspensions, second=45, run_at_startup=False, unique=True),
]
