"""Bids that arrive together are stored by one statement (tenders/bids/batch.py): each is judged and answered
as if it had come alone, and a group that PostgreSQL refuses as a whole loses none of its good bids.

Which bids share a statement is the scheduler's business in production; here the batcher is held until every
bid of a test is queued (tf.grouped, Batcher.held), so they always form one group, in a known order."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

from marketplace.core import db, sealing
from tenders.bids import batch
from tests.tenders import factories as tf


async def _rows(sql: str, *args) -> int:
    return (await db.fetchrow(sql, *args))["n"]


async def test_bids_arriving_together_share_statements_and_each_is_complete(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    suppliers = [await tf.supplier(settings) for _ in range(6)]
    t = await tf.published(client, officer, lots=4)
    tf.to_tendering(fixed_clock, t)
    url = f"/api/v1/tenders/{t['id']}/bids"
    public_key = (await client.get("/api/v1/bids/receipt-key")).json()["public_key"]
    before = batch.batcher().grouped

    # 24 bids at once: 6 suppliers x 4 lots
    bodies = [(s, {"lots": [{"lot_id": lot["id"], "price": {"amount": 100_00 + i * 10 + j}}]})
              for i, s in enumerate(suppliers) for j, lot in enumerate(t["lots"])]
    rs = await tf.grouped([client.post(url, json=b, headers={**s.headers, "Idempotency-Key": f"k-{n}"})
                           for n, (s, b) in enumerate(bodies)])
    assert [r.status_code for r in rs] == [201] * len(bodies), [r.text for r in rs if r.status_code != 201]
    assert batch.batcher().grouped == before + len(bodies)  # one statement took the 24 (MAX_BATCH is 32)

    receipts = [r.json() for r in rs]
    ids = [UUID(x["bid_id"]) for x in receipts]
    assert await _rows("SELECT count(*) AS n FROM bid WHERE id = ANY($1)", ids) == len(bodies)
    assert await _rows("SELECT count(*) AS n FROM bid_lot WHERE bid_id = ANY($1) AND live", ids) == len(bodies)
    assert await _rows("SELECT count(*) AS n FROM audit_event WHERE action = 'bid.received'"
                       " AND entity_id = ANY($1)", [str(i) for i in ids]) == len(bodies)
    assert await _rows("SELECT count(*) AS n FROM outbox WHERE topic = 'bid.received'"
                       " AND aggregate_id = ANY($1)", [str(i) for i in ids]) == len(bodies)
    for receipt in receipts:
        assert sealing.verify(public_key, {k: v for k, v in receipt.items() if k != "signature"},
                              receipt["signature"])
    # each key answers its own receipt again, and no second bid is stored
    again = await asyncio.gather(*(client.post(url, json=b, headers={**s.headers, "Idempotency-Key": f"k-{n}"})
                                   for n, (s, b) in enumerate(bodies)))
    assert [r.json() for r in again] == receipts
    assert all(r.headers.get("idempotent-replayed") == "true" for r in again)
    assert await _rows("SELECT count(*) AS n FROM bid WHERE tender_id = $1", UUID(t["id"])) == len(bodies)

    # a bid covering several lots, among others
    t2 = await tf.published(client, officer, lots=3)
    tf.to_tendering(fixed_clock, t2)
    groups_before = batch.batcher().groups
    rs = await tf.grouped([
        client.post(f"/api/v1/tenders/{t2['id']}/bids", json=tf.bid_payload(t2, [1_00, 2_00, 3_00]),
                    headers=suppliers[0].headers),
        *(client.post(f"/api/v1/tenders/{t2['id']}/bids", json=tf.bid_payload(t2, [5_00]), headers=s.headers)
          for s in suppliers[1:])])
    assert [r.status_code for r in rs] == [201] * len(suppliers)
    multi = UUID(rs[0].json()["bid_id"])
    assert await _rows("SELECT count(*) AS n FROM bid_lot WHERE bid_id = $1", multi) == 3
    assert await _rows("SELECT count(*) AS n FROM bid_lot WHERE tender_id = $1", UUID(t2["id"])) == 3 + 5
    assert batch.batcher().groups == groups_before + 1


async def test_each_bid_of_a_group_is_judged_on_its_own(client, settings, fixed_clock):
    """Good bids are stored beside bids refused for their supplier's standing or a lot not open, and a key
    already used; every refusal gets its own problem and writes nothing, the reused key its first answer.
    (A second live bid for a lot makes PostgreSQL refuse the whole group: the next test.)"""
    officer = await tf.officer(settings)
    good = [await tf.supplier(settings) for _ in range(4)]
    suspended = await tf.supplier(settings, status="suspended")
    t = await tf.published(client, officer, lots=2)
    other = await tf.published(client, officer, lots=1)
    tf.to_tendering(fixed_clock, t)
    url = f"/api/v1/tenders/{t['id']}/bids"
    first = await client.post(url, json=tf.bid_payload(t, [9_00]), headers={**good[3].headers, "Idempotency-Key": "x"})
    assert first.status_code == 201
    groups_before = batch.batcher().groups

    rs = await tf.grouped([
        client.post(url, json=tf.bid_payload(t, [1_00]), headers=good[0].headers),
        client.post(url, json=tf.bid_payload(t, [2_00]), headers=good[1].headers),
        client.post(url, json=tf.bid_payload(t, [3_00]), headers=suspended.headers),
        client.post(url, json={"lots": [{"lot_id": other["lots"][0]["id"], "price": {"amount": 1}}]},
                    headers=good[2].headers),
        client.post(url, json=tf.bid_payload(t, [9_00]), headers={**good[3].headers, "Idempotency-Key": "x"}),
        client.post(url, json={"lots": [{"lot_id": t["lots"][1]["id"], "price": {"amount": 4_00}}]},
                    headers=good[2].headers),
    ])
    codes = [r.status_code for r in rs]
    assert codes == [201, 201, 403, 422, 201, 201], [r.text for r in rs]
    assert rs[2].json()["type"].endswith("/supplier-suspended")
    assert rs[3].json()["errors"][0]["rule"] == "lot"
    assert rs[4].json() == first.json() and rs[4].headers.get("idempotent-replayed") == "true"
    assert await _rows("SELECT count(*) AS n FROM bid WHERE tender_id = $1", UUID(t["id"])) == 4
    assert await _rows("SELECT count(*) AS n FROM bid WHERE supplier_id = $1", suspended.org_id) == 0
    assert batch.batcher().groups == groups_before + 1


async def test_a_group_refused_as_a_whole_loses_none_of_its_good_bids(client, settings, fixed_clock):
    """The same supplier's two bids for one lot, in one group: the unique index refuses the statement, so
    nothing of it is stored; each bid then goes alone: one is stored, the other is a 409, the rest are 201."""
    officer = await tf.officer(settings)
    suppliers = [await tf.supplier(settings) for _ in range(5)]
    t = await tf.published(client, officer, lots=1)
    tf.to_tendering(fixed_clock, t)
    url = f"/api/v1/tenders/{t['id']}/bids"
    twice = suppliers[0]
    groups_before = batch.batcher().groups
    rs = await tf.grouped([client.post(url, json=tf.bid_payload(t, [100_00 + i]), headers=s.headers)
                           for i, s in enumerate([twice, twice, *suppliers[1:]])])
    assert batch.batcher().groups == groups_before  # the one group statement was refused: it stored nothing
    codes = sorted(r.status_code for r in rs)
    assert codes == [201] * len(suppliers) + [409], [r.text for r in rs]
    assert [r.json()["errors"][0]["rule"] for r in rs if r.status_code == 409] == ["one_live_bid"]
    assert await _rows("SELECT count(*) AS n FROM bid WHERE tender_id = $1", UUID(t["id"])) == len(suppliers)
    stored = {UUID(r.json()["bid_id"]) for r in rs if r.status_code == 201}
    assert {r["id"] for r in await db.fetch("SELECT id FROM bid WHERE tender_id = $1", UUID(t["id"]))} == stored


async def test_late_bids_in_a_group_are_refused_and_the_early_ones_kept(client, settings, fixed_clock):
    """Each bid is judged at its own reading of the clock: within one group, those read before the deadline
    are stored, those read at or after it are refused (409 deadline-passed) and store nothing."""
    officer = await tf.officer(settings)
    suppliers = [await tf.supplier(settings) for _ in range(8)]
    t = await tf.published(client, officer, lots=1)
    url = f"/api/v1/tenders/{t['id']}/bids"
    tf.past_deadline(fixed_clock, t, microseconds=-1)  # one microsecond before the deadline
    groups_before = batch.batcher().groups
    from tenders.bids import service

    reads = 0
    real = service.clock

    class Clock:  # the bids' own readings: the fifth and later fall on the deadline itself
        @staticmethod
        def now():
            nonlocal reads
            reads += 1
            return real.now() + (timedelta(microseconds=1) if reads > 4 else timedelta())

    service.clock = Clock
    try:
        rs = await tf.grouped([client.post(url, json=tf.bid_payload(t, [100_00 + i]), headers=s.headers)
                               for i, s in enumerate(suppliers)])
    finally:
        service.clock = real
    assert batch.batcher().groups == groups_before + 1
    ok = [r for r in rs if r.status_code == 201]
    late = [r for r in rs if r.status_code != 201]
    assert len(ok) == 4 and len(late) == 4, [r.status_code for r in rs]
    assert all(r.status_code == 409 and r.json()["type"].endswith("/deadline-passed") for r in late)
    assert await _rows("SELECT count(*) AS n FROM bid WHERE tender_id = $1", UUID(t["id"])) == len(ok)
    deadline = t["submission_deadline"]
    assert await _rows("SELECT count(*) AS n FROM bid WHERE tender_id = $1 AND received_at >= $2::text::timestamptz",
                       UUID(t["id"]), deadline) == 0


async def test_one_key_twice_in_a_group_claims_it_once(client, settings, fixed_clock):
    """A client's retry racing its original, and a second request reusing the key for another bid: one bid
    under the key, the retry gets the same receipt, the other request 409 idempotency-key-reused."""
    officer = await tf.officer(settings)
    suppliers = [await tf.supplier(settings) for _ in range(4)]
    t = await tf.published(client, officer, lots=2)
    tf.to_tendering(fixed_clock, t)
    url = f"/api/v1/tenders/{t['id']}/bids"
    groups_before = batch.batcher().groups
    keyed = {**suppliers[0].headers, "Idempotency-Key": "retry-1"}
    body = tf.bid_payload(t, [100_00])
    other_lot = {"lots": [{"lot_id": t["lots"][1]["id"], "price": {"amount": 7_00}}]}
    # The original is queued first (it claims the key); its retry and the other body queue behind it.
    rs = await tf.grouped([client.post(url, json=body, headers=keyed)],
                          [client.post(url, json=body, headers=keyed),
                           client.post(url, json=other_lot, headers=keyed),
                           *(client.post(url, json=body, headers=s.headers) for s in suppliers[1:])])
    assert [r.status_code for r in rs] == [201, 201, 409, 201, 201, 201], [r.text for r in rs]
    assert rs[0].json() == rs[1].json()
    assert sorted(r.headers.get("idempotent-replayed", "") for r in rs[:2]) == ["", "true"]
    assert rs[2].json()["type"].endswith("/idempotency-key-reused")
    assert await _rows("SELECT count(*) AS n FROM bid WHERE tender_id = $1", UUID(t["id"])) == 4
    assert await _rows("SELECT count(*) AS n FROM bid WHERE supplier_id = $1", suppliers[0].org_id) == 1
    assert batch.batcher().groups == groups_before + 1
