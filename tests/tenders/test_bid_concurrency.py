"""Hundreds of concurrent bids straddling the deadline, against real PostgreSQL.

300 bids (12 suppliers x 25 lots, one bid per supplier and lot) over the ASGI client: a first third is
stored before the deadline; a second third has read the clock (before the deadline) and waits in the bid
batcher when the clock passes the deadline; the last third arrives after it; then the held bids' group
statements run concurrently with a closing sweep. Whichever takes the tender row first (the order is left to
PostgreSQL): every 201 has a stored bid whose receipt verifies with the published key and was received
before the deadline; every other answer is 409 deadline-passed and stored nothing; the opening sees exactly
the bids that got a 201. The batcher is held by its test seam (tf.grouped), never by a sleep.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import UUID

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

    def post(k, s, lot):
        return client.post(url, json={"lots": [{"lot_id": lot["id"], "price": {"amount": 1000 + k}}]},
                           headers=s.headers)

    requests = [post(i * LOTS + j, s, lot) for i, s in enumerate(suppliers) for j, lot in enumerate(t["lots"])]
    third = len(requests) // 3
    stored_first = await asyncio.gather(*requests[:third])
    assert [r.status_code for r in stored_first] == [201] * third, [r.text for r in stored_first][:3]

    sweeps: list[asyncio.Task] = []
    held = await tf.grouped(requests[third:2 * third],
                            lambda: fixed_clock.set(deadline),  # these have read the clock already
                            requests[2 * third:],
                            lambda: sweeps.append(asyncio.ensure_future(sweep_tenders({}, settings=settings))))
    swept = await sweeps[0]
    responses = [*stored_first, *held]
    ok = [r.json() for r in responses if r.status_code == 201]
    late = [r for r in responses if r.status_code != 201]
    assert len(ok) >= third and len(late) >= third, (len(ok), len(late))
    assert all(r.status_code == 409 and r.json()["type"].endswith("/deadline-passed") for r in late), \
        {r.status_code for r in late}
    assert all(r.status_code == 409 for r in held[third:])  # read the clock at the deadline

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
