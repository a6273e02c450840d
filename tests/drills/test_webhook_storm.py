"""Drill: a Stripe webhook storm with duplicates, concurrently, and the jobs applying them run twice at once.

20 suppliers each pay their registry fee; Stripe then delivers every fee's payment_intent.succeeded five
times (plus unrelated event types), 120+ signed requests all in flight together, in shuffled order, while
two event-applying job runs race. Afterwards: every delivery was acknowledged, each event is stored once,
every fee is paid, and each payment has exactly the ledger entries a single clean delivery gives.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from marketplace.core import db
from tests import factories
from tests.payments.helpers import deliver, run_jobs
from tests.stripe_server import event

FEES = 20
COPIES = 5


async def _fee(client, settings) -> dict:
    supplier = await factories.login(settings, "supplier", "supplier_admin")
    r = await client.post("/api/v1/payments/registry-fee", json={}, headers=supplier.headers)
    assert r.status_code in (200, 201, 202), r.text
    return {**r.json(), "headers": supplier.headers}


async def _entries() -> Counter:
    rows = await db.fetch("SELECT payment_id FROM ledger_entry")
    return Counter(str(r["payment_id"]) for r in rows)


async def test_webhook_storm_with_duplicates_applies_each_event_once(client, pay_settings, stripe_server):
    fees = [await _fee(client, pay_settings) for _ in range(FEES + 1)]
    await run_jobs(pay_settings)  # the PaymentIntents are created at the (local) Stripe API
    intents = {}
    for f in fees:
        got = (await client.get(f"/api/v1/payments/{f['id']}", headers=f["headers"])).json()
        assert got["stripe_object_id"], got
        intents[f["id"]] = got["stripe_object_id"]

    # the baseline: one fee, one clean delivery
    first, rest = fees[0], fees[1:]
    r = await deliver(client, pay_settings, stripe_server.intent_event(intents[first["id"]],
                                                                       "payment_intent.succeeded"))
    assert r.status_code < 300, r.text
    await run_jobs(pay_settings)
    baseline = (await _entries())[first["id"]]
    assert baseline >= 1

    events = [stripe_server.intent_event(intents[f["id"]], "payment_intent.succeeded") for f in rest]
    noise = [event("customer.created", {"id": f"cus_{i}", "object": "customer"}) for i in range(10)]
    storm = [e for e in events for _ in range(COPIES)] + noise + noise
    random.Random(9).shuffle(storm)

    first_stored = asyncio.Event()

    async def delivered(e):
        r = await deliver(client, pay_settings, e)
        first_stored.set()
        return r

    async def jobs_twice():  # two job runs race each other and the deliveries still in flight
        await first_stored.wait()
        await asyncio.gather(run_jobs(pay_settings), run_jobs(pay_settings))

    responses, _ = await asyncio.gather(asyncio.gather(*(delivered(e) for e in storm)), jobs_twice())
    assert all(r.status_code < 300 for r in responses), Counter(r.status_code for r in responses)
    await asyncio.gather(run_jobs(pay_settings), run_jobs(pay_settings))
    await run_jobs(pay_settings)

    stored = await db.fetch("SELECT id, count(*) OVER (PARTITION BY id) AS n FROM stripe_event")
    assert all(row["n"] == 1 for row in stored)
    assert {e["id"] for e in events} <= {row["id"] for row in stored}
    states = {str(r["id"]): r["state"] for r in await db.fetch("SELECT id, state FROM payment")}
    assert all(states[f["id"]] == states[first["id"]] for f in rest), states
    entries = await _entries()
    assert {f["id"]: entries[f["id"]] for f in rest} == {f["id"]: baseline for f in rest}
