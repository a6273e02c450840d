"""Hundreds of concurrent bids straddling the deadline, against real PostgreSQL.

300 bids (12 suppliers x 25 lots, one bid per supplier and lot) are sent over the ASGI client within 0.6 s;
when about a third of them are stored, the clock jumps past the deadline, and a sweep runs
concurrently with the rest. Then: every 201 has a stored bid whose receipt verifies with the published key
and was received before the deadline; every other answer is 409 deadline-passed and stored nothing; the
opening sees exactly the bids that got a 201.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from marketplace.core import db, sealing
from tests.tenders import factories as tf

SUPPLIERS = 12
LOTS = 25


async def test_bid_rush_straddling_the_deadline(client, settings, fixed_clock):
    from tenders.jobs import sweep_tenders

    officer = await tf.officer(settings)
    suppliers = [await tf.supplier(settings) for _ in range(SUPPLIERS)]
    t = await tf.published(client, officer, lots=LOTS)
    deadline = datetime.fromisoformat(t["submission_deadline"])
    fixed_clock.set(deadline - timedelta(seconds=1))
    public_key = (await client.get("/api/v1/bids/receipt-key")).json()["public_key"]
    url = f"/api/v1/tenders/{t['id']}/bids"

    flip_at = SUPPLIERS * LOTS // 3
    flipped = asyncio.Event()

    async def one(k, s, lot, price):
        # arrivals spread over 0.6 s: bids are still arriving when the deadline passes (a worker reads the
        # clock as a bid arrives, then stores the bids it holds together: tenders/bids/batch.py)
        await asyncio.sleep(k * 0.002)
        return await client.post(url, json={"lots": [{"lot_id": lot["id"], "price": price}]}, headers=s.headers)

    watcher = await asyncpg.connect(settings.database_url)  # its own connection: the pool is saturated

    async def mover():
        # the deadline passes once about a third of the bids are stored, the rest being in flight
        try:
            while await watcher.fetchval("SELECT count(*) FROM bid") < flip_at:
                await asyncio.sleep(0.002)
        finally:
            await watcher.close()
        fixed_clock.set(deadline)
        flipped.set()

    async def sweeper():
        await flipped.wait()
        return await sweep_tenders({}, settings=settings)

    jobs = [one(i * LOTS + j, s, lot, 1000 + i * LOTS + j) for i, s in enumerate(suppliers)
            for j, lot in enumerate(t["lots"])]
    *responses, _, swept = await asyncio.gather(*jobs, mover(), sweeper())
    ok = [r.json() for r in responses if r.status_code == 201]
    late = [r for r in responses if r.status_code != 201]
    assert len(ok) >= flip_at and late, (len(ok), len(late))
    assert all(r.status_code == 409 and r.json()["type"].endswith("/deadline-passed") for r in late), \
        {r.status_code for r in late}

    rows = {r["id"]: r for r in await db.fetch("SELECT id, sha256, received_at, signature FROM bid")}
    assert len(rows) == len(ok)
    for receipt in ok:
        row = rows[UUID(receipt["bid_id"])]
        assert sealing.verify(public_key, {k: v for k, v in receipt.items() if k != "signature"},
                              receipt["signature"])
        assert row["sha256"].strip() == receipt["sha256"] and row["signature"] == receipt["signature"]
        assert row["received_at"] < deadline
    assert (await db.fetchrow("SELECT count(*) AS n FROM bid WHERE received_at >= $1", deadline))["n"] == 0

    state = (await client.get(f"/api/v1/tenders/{t['id']}")).json()["state"]
    assert state == "opening" and swept in (0, 1)
    fixed_clock.set(deadline + timedelta(seconds=1))
    opening = await tf.opened(client, fixed_clock, officer, t)
    opened = {b["bid_id"] for lot in opening["lots"] for b in lot["bids"]}
    assert opened == {r["bid_id"] for r in ok}
    assert opening["bid_count"] == len(ok)
