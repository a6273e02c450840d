"""Sealed bids over HTTP: who may bid, deadlines, idempotency, replace and withdraw, and sealing at rest."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import datetime, timedelta

from marketplace.core import db, sealing
from tests.harness import check_matrix, personas
from tests.tenders import factories as tf


async def _count(table: str) -> int:
    return (await db.fetchrow(f"SELECT count(*) AS n FROM {table}"))["n"]


async def test_who_may_bid(client, settings, fixed_clock):
    p = await personas(settings, client)
    t = await tf.published(client, p.officer)
    tf.to_tendering(fixed_clock, t)
    await p.refresh(settings)
    url = f"/api/v1/tenders/{t['id']}/bids"
    body = tf.bid_payload(t, [100_00])
    responses = await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.auditor: 403, p.admin: 403,
        p.bidder: 403,  # an organisation of kind supplier that is not in the registry
    }, json=body)
    assert responses["bidder"].json()["type"].endswith("/supplier-not-registered")
    for status, problem in (("suspended", "supplier-suspended"), ("disqualified", "supplier-disqualified"),
                            ("pending", "supplier-pending")):
        s = await tf.supplier(settings, status=status)
        r = await client.post(url, json=body, headers=s.headers)
        assert r.status_code == 403 and r.json()["type"].endswith("/" + problem), r.text
    assert await _count("bid") == 0
    ok = await tf.supplier(settings)
    await tf.bid(client, ok, t, [100_00])
    assert await _count("bid") == 1
    # a suspension ends by itself at its end date: the statement's SQL rule and the registry's agree, to the
    # microsecond (the bid's own clock reading decides)
    ends = fixed_clock.now() + timedelta(days=3)
    served = await tf.supplier(settings, status="suspended", until=ends)
    serving = await tf.supplier(settings, status="suspended", until=ends + timedelta(microseconds=1))
    fixed_clock.set(ends)
    await tf.bid(client, served, t, [99_00])
    r = await client.post(url, json=body, headers=serving.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("/supplier-suspended"), r.text
    assert await _count("bid") == 2


async def test_bid_refusals_write_nothing(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s = await tf.supplier(settings)
    t = await tf.published(client, officer, lots=2)
    url = f"/api/v1/tenders/{t['id']}/bids"
    # during the enquiry period
    r = await client.post(url, json=tf.bid_payload(t, [1]), headers=s.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "enquiry_period_running"
    tf.to_tendering(fixed_clock, t)
    lot = t["lots"][0]["id"]
    cases = [
        ({"lots": []}, "lots"),
        ({"lots": [{"lot_id": lot, "price": {"amount": -1}}]}, "lots[0].price.amount"),
        ({"lots": [{"lot_id": lot, "price": {"amount": 1, "currency": "USD"}}]}, "lots[0].price.currency"),
        ({"lots": [{"lot_id": lot, "price": {"amount": 1}}, {"lot_id": lot, "price": {"amount": 2}}]},
         "lots[1].lot_id"),
        ({"lots": [{"lot_id": t["id"], "price": {"amount": 1}}]}, "lots[0].lot_id"),
        ({"lots": [{"lot_id": lot, "price": {"amount": 1}}], "documents": [{"title": "x", "filename": "x.pdf",
                                                                "content": "not base64!"}]}, "documents[0].content"),
        ({"lots": [{"lot_id": lot, "price": {"amount": 1}}], "extra": True}, "extra"),
    ]
    for body, field in cases:
        r = await client.post(url, json=body, headers=s.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == field, (body, r.json())
    # a draft is invisible; a bid twice on a lot is refused
    d = await tf.draft(client, officer)
    r = await client.post(f"/api/v1/tenders/{d['id']}/bids", json={"lots": [{"lot_id": d["lots"][0]["id"],
                                                                            "price": {"amount": 1}}]},
                          headers=s.headers)
    assert r.status_code == 404
    await tf.bid(client, s, t, [100_00])
    r = await client.post(url, json=tf.bid_payload(t, [90_00]), headers=s.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "one_live_bid"
    # the other lot alone is fine
    r = await client.post(url, json={"lots": [{"lot_id": t["lots"][1]["id"], "price": {"amount": 5}}]},
                          headers=s.headers)
    assert r.status_code == 201
    assert await _count("bid") == 2
    # after the deadline: 409 DeadlinePassed, nothing stored
    tf.past_deadline(fixed_clock, t, microseconds=0)
    s2 = await tf.supplier(settings)
    r = await client.post(url, json=tf.bid_payload(t, [80_00]), headers=s2.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/deadline-passed")
    assert await _count("bid") == 2
    # on a cancelled tender
    t2 = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t2)
    await client.post(f"/api/v1/tenders/{t2['id']}/cancel", json={"reason": "Anulado"}, headers=officer.headers)
    r = await client.post(f"/api/v1/tenders/{t2['id']}/bids", json=tf.bid_payload(t2, [1]), headers=s.headers)
    assert r.status_code == 409


async def test_idempotency_key(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s = await tf.supplier(settings)
    t = await tf.published(client, officer, lots=2)
    tf.to_tendering(fixed_clock, t)
    url = f"/api/v1/tenders/{t['id']}/bids"
    body = tf.bid_payload(t, [100_00])
    h = {**s.headers, "Idempotency-Key": "bid-001"}
    first = await client.post(url, json=body, headers=h)
    assert first.status_code == 201
    fixed_clock.advance(seconds=5)
    again = await client.post(url, json=body, headers=h)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post(url, json=tf.bid_payload(t, [99_00]), headers=h)
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")
    assert await _count("bid") == 1
    # the same key by another supplier is another scope
    s2 = await tf.supplier(settings)
    r = await client.post(url, json=body, headers={**s2.headers, "Idempotency-Key": "bid-001"})
    assert r.status_code == 201 and r.json()["bid_id"] != first.json()["bid_id"]
    # bid ids are UUIDv7 (marketplace/core/ids.py): a later bid's id sorts after an earlier one's
    ids = [uuid.UUID(x.json()["bid_id"]) for x in (first, r)]
    assert [i.version for i in ids] == [7, 7] and ids[0] < ids[1]
    # concurrent duplicates: one bid, one answer
    s3 = await tf.supplier(settings)
    h3 = {**s3.headers, "Idempotency-Key": "dup"}
    b3 = {"lots": [{"lot_id": t["lots"][1]["id"], "price": {"amount": 7}}]}
    results = await asyncio.gather(*[client.post(url, json=b3, headers=h3) for _ in range(8)])
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["bid_id"] for r in results}) == 1
    assert await _count("bid") == 3
    # a refused request leaves no key: after the deadline the same key is judged afresh (409 deadline)
    tf.past_deadline(fixed_clock, t)
    s4 = await tf.supplier(settings)
    r = await client.post(url, json=body, headers={**s4.headers, "Idempotency-Key": "late"})
    assert r.status_code == 409 and r.json()["type"].endswith("/deadline-passed")
    assert (await db.fetchrow("SELECT count(*) AS n FROM idempotency_key WHERE key = 'late'"))["n"] == 0
    r = await client.post(url, json=body, headers={**s4.headers, "Idempotency-Key": ""})
    assert r.status_code == 422


async def test_replace_and_withdraw(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s = await tf.supplier(settings)
    rival = await tf.supplier(settings)
    t = await tf.published(client, officer, lots=2)
    tf.to_tendering(fixed_clock, t)
    key = (await client.get("/api/v1/bids/receipt-key")).json()["public_key"]
    first = await tf.bid(client, s, t, [100_00])
    bid_url = f"/api/v1/bids/{first['bid_id']}"
    # a rival cannot touch it
    assert (await client.put(bid_url, json=tf.bid_payload(t, [1]), headers=rival.headers)).status_code == 404
    assert (await client.delete(bid_url, headers=rival.headers)).status_code == 404
    assert (await client.delete(bid_url, headers=officer.headers)).status_code == 403
    fixed_clock.advance(minutes=1)
    r = await client.put(bid_url, json=tf.bid_payload(t, [95_00, 40_00]), headers=s.headers)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["bid_id"] == first["bid_id"] and second["sha256"] != first["sha256"]
    assert second["received_at"] > first["received_at"] and len(second["lots"]) == 2
    assert sealing.verify(key, {k: v for k, v in second.items() if k != "signature"}, second["signature"])
    bid = (await client.get(bid_url, headers=s.headers)).json()
    assert bid["version"] == 2 and bid["receipt"] == second

    # withdraw a second bid, then bid again on the freed lot
    other = await tf.bid(client, rival, t, [90_00])
    r = await client.delete(f"/api/v1/bids/{other['bid_id']}", headers=rival.headers)
    assert r.status_code == 204
    assert (await client.delete(f"/api/v1/bids/{other['bid_id']}", headers=rival.headers)).status_code == 409
    assert (await client.put(f"/api/v1/bids/{other['bid_id']}", json=tf.bid_payload(t, [1]),
                             headers=rival.headers)).status_code == 409
    third = await tf.bid(client, rival, t, [91_00])

    tf.past_deadline(fixed_clock, t)
    assert (await client.put(bid_url, json=tf.bid_payload(t, [1]), headers=s.headers)).status_code == 409
    assert (await client.delete(bid_url, headers=s.headers)).status_code == 409
    opening = await tf.opened(client, fixed_clock, officer, t)
    assert [(b["bid_id"], b["price"]["amount"]) for b in opening["lots"][0]["bids"]] == [(third["bid_id"], 91_00),
                                                                               (first["bid_id"], 95_00)]
    assert [(b["bid_id"], b["price"]["amount"]) for b in opening["lots"][1]["bids"]] == [(first["bid_id"], 40_00)]
    assert opening["bid_count"] == 2


async def test_sealed_content_is_unreadable_before_opening_and_readable_after(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s = await tf.supplier(settings)
    t = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t)
    price = 987_654_321
    secret_note = "ZANAHORIA-SECRETA-42"
    doc = b"propuesta tecnica CONFIDENCIAL-XYZ"
    rec = await tf.bid(client, s, t, [price], notes=secret_note, documents=[
        {"title": "Propuesta", "filename": "p.txt", "media_type": "text/plain",
         "content": base64.b64encode(doc).decode()}], )
    needles = [str(price), "9876543", secret_note, "CONFIDENCIAL-XYZ", base64.b64encode(doc).decode()[:16]]

    async def dump() -> str:
        # every row of every table, as text (what a database dump shows); bytea as hex and as raw text
        tables = [r["t"] for r in await db.fetch(
            "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")]
        parts = []
        for table in tables:
            for row in await db.fetch(f'SELECT t::text AS x FROM "{table}" t'):
                parts.append(row["x"])
        for row in await db.fetch("SELECT sealed FROM bid"):
            parts.append(bytes(row["sealed"]).decode("latin-1"))
        return "\n".join(parts)

    text = await dump()
    for needle in needles:
        assert needle not in text, f"{needle!r} is readable in the database before the opening"
    # nobody reads it before the opening, officers included
    assert (await client.get(f"/api/v1/bids/{rec['bid_id']}", headers=officer.headers)).status_code == 404
    assert (await client.get(f"/api/v1/bids/{rec['bid_id']}", headers=s.headers)).json()["content"] is None
    assert (await client.get(f"/api/v1/tenders/{t['id']}/opening", headers=officer.headers)).status_code == 404

    await tf.opened(client, fixed_clock, officer, t)
    text = await dump()
    assert str(price) in text and secret_note in text
    content = (await client.get(f"/api/v1/bids/{rec['bid_id']}", headers=officer.headers)).json()["content"]
    assert content["notes"] == secret_note and content["lots"][0]["price"] == {"amount": price, "currency": "PEN"}
    assert base64.b64decode(content["documents"][0]["content"]) == doc


async def test_sealed_bid_is_bound_to_its_row(client, settings, fixed_clock):
    """A sealed blob moved to another bid's row does not open: the opening excludes it as corrupt."""
    officer = await tf.officer(settings)
    a = await tf.supplier(settings)
    b = await tf.supplier(settings)
    t = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t)
    ra = await tf.bid(client, a, t, [100_00])
    rb = await tf.bid(client, b, t, [200_00])
    async with db.unit_of_work():
        await db.execute("UPDATE bid SET sealed = (SELECT sealed FROM bid WHERE id = $1),"
                         " sha256 = (SELECT sha256 FROM bid WHERE id = $1) WHERE id = $2",
                         __import__("uuid").UUID(ra["bid_id"]), __import__("uuid").UUID(rb["bid_id"]))
    opening = await tf.opened(client, fixed_clock, officer, t)
    assert opening["excluded"] == [{"bid_id": rb["bid_id"], "supplier_id": str(b.org_id), "reason": "corrupt"}]
    assert [x["bid_id"] for x in opening["lots"][0]["bids"]] == [ra["bid_id"]]


async def test_deadline_is_exclusive(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    s = await tf.supplier(settings)
    t = await tf.published(client, officer)
    deadline = datetime.fromisoformat(t["submission_deadline"])
    fixed_clock.set(deadline - timedelta(microseconds=1))
    await tf.bid(client, s, t, [1])
    fixed_clock.set(deadline)
    s2 = await tf.supplier(settings)
    r = await client.post(f"/api/v1/tenders/{t['id']}/bids", json=tf.bid_payload(t, [1]), headers=s2.headers)
    assert r.status_code == 409
