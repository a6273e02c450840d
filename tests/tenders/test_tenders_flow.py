"""The whole path over HTTP: draft, publish, enquiries, bids with signed receipts, opening."""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.core import db, sealing
from tests.tenders import factories as tf


async def _public_key(client) -> str:
    r = await client.get("/api/v1/bids/receipt-key")
    assert r.status_code == 200 and r.json()["algorithm"] == "Ed25519"
    return r.json()["public_key"]


async def test_happy_path_draft_to_opening(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s1 = await tf.supplier(settings, ubigeo="080101")
    s2 = await tf.supplier(settings, ubigeo="150101")
    t = await tf.draft(client, officer, lots=2)
    assert t["state"] == "draft" and t["ocid"] == "ocds-test01-" + t["id"]
    assert t["procurement_method"] == "open" and [lot["state"] for lot in t["lots"]] == ["draft", "draft"]

    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["state"] == "published" and t["published_at"]
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox ORDER BY id")]
    assert "tender.published" in topics and "tender.state_changed" in topics
    published = await db.fetchrow("SELECT payload FROM outbox WHERE topic = 'tender.published'")
    import json
    payload = json.loads(published["payload"]) if isinstance(published["payload"], str) else published["payload"]
    assert payload["lots"][0]["classification_code"] == "30111601"
    assert payload["lots"][0]["delivery_ubigeo"] == "080101" and payload["agency_id"] == str(officer.org_id)

    # anonymous sees it now
    assert (await client.get(f"/api/v1/tenders/{t['id']}")).status_code == 200

    tf.to_tendering(fixed_clock, t)
    key = await _public_key(client)
    r1 = await tf.bid(client, s1, t, [100_000_00, 50_000_00], notes="Entrega en 5 días")
    r2 = await tf.bid(client, s2, t, [90_000_00])
    for rec in (r1, r2):
        assert sealing.verify(key, {k: v for k, v in rec.items() if k != "signature"}, rec["signature"])
        assert rec["ocid"] == t["ocid"] and len(rec["sha256"]) == 64 and rec["key_id"] == settings.signing_key_id
    assert r1["lots"] == sorted([t["lots"][0]["id"], t["lots"][1]["id"]])

    # the supplier reads its bid back, without content before the opening
    b = (await client.get(f"/api/v1/bids/{r1['bid_id']}", headers=s1.headers)).json()
    assert b["status"] == "live" and b["content"] is None and b["receipt"] == r1
    # a competitor and the officer cannot
    assert (await client.get(f"/api/v1/bids/{r1['bid_id']}", headers=s2.headers)).status_code == 404
    assert (await client.get(f"/api/v1/bids/{r1['bid_id']}", headers=officer.headers)).status_code == 404

    # before the deadline, nobody opens
    r = await client.post(f"/api/v1/tenders/{t['id']}/opening", headers=officer.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "deadline_not_passed"
    assert (await client.get(f"/api/v1/tenders/{t['id']}/opening")).status_code == 404

    opening = await tf.opened(client, fixed_clock, officer, t)
    assert opening["bid_count"] == 2
    lot1, lot2 = opening["lots"]
    assert [(b["supplier_id"], b["price"]["amount"]) for b in lot1["bids"]] == [(str(s2.org_id), 90_000_00),
                                                                      (str(s1.org_id), 100_000_00)]
    assert [(b["supplier_id"], b["price"]["amount"]) for b in lot2["bids"]] == [(str(s1.org_id), 50_000_00)]
    # public after opening
    assert (await client.get(f"/api/v1/tenders/{t['id']}/opening")).json() == opening
    t = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    assert t["state"] == "evaluation" and {lot["state"] for lot in t["lots"]} == {"evaluation"}
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox ORDER BY id")]
    assert topics.count("bid.received") == 2 and "tender.opened" in topics
    # content readable by the supplier and the owning agency after the opening
    b = (await client.get(f"/api/v1/bids/{r1['bid_id']}", headers=officer.headers)).json()
    assert b["content"]["notes"] == "Entrega en 5 días"
    rows = await db.fetch("SELECT lot_id, price FROM opening_entry ORDER BY price")
    assert [r["price"] for r in rows] == [50_000_00, 90_000_00, 100_000_00]


async def test_opening_with_no_bids_declares_lots_unsuccessful(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s1 = await tf.supplier(settings)
    t = await tf.published(client, officer, lots=2)
    tf.to_tendering(fixed_clock, t)
    await tf.bid(client, s1, t, [100_00])  # lot 1 only
    opening = await tf.opened(client, fixed_clock, officer, t)
    assert [lot["state"] for lot in opening["lots"]] == ["evaluation", "unsuccessful"]
    t2 = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t2)
    await tf.opened(client, fixed_clock, officer, t2)
    t2 = (await client.get(f"/api/v1/tenders/{t2['id']}")).json()
    assert t2["state"] == "unsuccessful"


async def test_sweeper_moves_tenders_by_the_clock_idempotently(client, settings, fixed_clock):
    from tenders.jobs import sweep_tenders

    officer = await tf.officer(settings)
    s1 = await tf.supplier(settings)
    t = await tf.published(client, officer)
    assert await sweep_tenders({}, settings=settings) == 0
    tf.to_tendering(fixed_clock, t)
    assert await sweep_tenders({}, settings=settings) == 1
    assert await sweep_tenders({}, settings=settings) == 0
    assert (await client.get(f"/api/v1/tenders/{t['id']}")).json()["state"] == "tendering"
    await tf.bid(client, s1, t, [100_00])
    tf.past_deadline(fixed_clock, t)
    assert await sweep_tenders({}, settings=settings) == 1
    assert (await client.get(f"/api/v1/tenders/{t['id']}")).json()["state"] == "opening"
    # The opening time comes: the clock never opens the bids (issue 17), the quorum of two people does.
    fixed_clock.set(datetime.fromisoformat(t["opening_time"]) + timedelta(seconds=1))
    assert await sweep_tenders({}, settings=settings) == 0
    assert (await client.get(f"/api/v1/tenders/{t['id']}")).json()["state"] == "opening"
    assert (await client.get(f"/api/v1/tenders/{t['id']}/opening")).status_code == 404
    await tf.confirm_opening(client, t["id"], officer.headers, tf.colleague(officer).headers)
    t = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    assert t["state"] == "evaluation"
    opening = (await client.get(f"/api/v1/tenders/{t['id']}/opening")).json()
    assert opening["bid_count"] == 1
    assert (await db.fetchrow("SELECT opened_by FROM tender_opening"))["opened_by"] == tf.colleague(officer).user_id
