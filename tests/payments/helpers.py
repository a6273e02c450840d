"""Running the payments jobs as the worker would, and delivering signed webhooks over HTTP."""

from __future__ import annotations

from typing import Any

import marketplace.payments.jobs  # noqa: F401  (registers the payments consumers)
from marketplace import worker
from marketplace.payments import service
from tests.stripe_server import signed


async def run_jobs(settings) -> None:
    """Run every payment and event job due, through the job functions (what the sweeper enqueues)."""
    ctx: dict[str, Any] = {"settings": settings, "job_try": 1}
    for _ in range(5):
        payments, events = await service.pending_work(older_than_seconds=-10**9)
        if not payments and not events:
            return
        for payment_id in payments:
            await worker.run_job("payments_execute", ctx, str(payment_id))
        for event_id in events:
            await worker.run_job("payments_apply_event", ctx, event_id)


async def deliver(client, settings, event: dict[str, Any], **kw):
    body, headers = signed(event, settings.stripe_webhook_secret, **kw)
    return await client.post("/api/v1/payments/stripe/webhook", content=body, headers=headers)


async def request_bonds() -> None:
    """Deliver tenders' 'appeal.bond_due' events to payments: the bonds of the appeals filed are requested."""
    from tests.contracts.test_contracts_http import _drain

    await _drain("payments.appeals")


async def pay_appeal_bond(client, settings, stripe_server, appeal_id) -> None:
    """The appellant pays its appeal's bond through Stripe: payments request it ('appeal.bond_due'), the job
    creates the PaymentIntent at the local server, a signed payment_intent.succeeded arrives, and the awards
    consumer admits the appeal."""
    from uuid import UUID

    from tests.contracts.test_contracts_http import _drain

    await request_bonds()
    await run_jobs(settings)
    bond = await service.appeal_bond(appeal_id=UUID(str(appeal_id)))
    assert bond is not None and bond.stripe_object_id, bond
    r = await deliver(client, settings, stripe_server.intent_event(bond.stripe_object_id,
                                                                    "payment_intent.succeeded"))
    assert r.status_code == 200, r.text
    await run_jobs(settings)
    await _drain("awards.paid_bonds")
