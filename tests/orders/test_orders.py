"""Purchase orders over HTTP: price at ordering time, atomic stock reservation, supplier decisions."""

from __future__ import annotations

import asyncio
import json

from marketplace.core import db
from tests import factories
from tests.suppliers.factories import active_supplier, catalog_with_product, offer


async def _setup(client, settings, stock: int = 10):
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings, ubigeo="080101")
    o = await offer(client, sup, product, {"08": (2350, 3, stock), "15": (2600, 5, 50)})
    officer = await factories.login(settings, "agency", "officer", ubigeo="080101")
    return sup, o, officer


async def _stock(offer_id: str, region: str) -> int:
    return (await db.fetchrow("SELECT stock FROM offer_region WHERE offer_id = $1 AND region_code = $2",
                              offer_id, region))["stock"]


async def test_order_at_the_delivery_regions_current_price(client, settings):
    sup, o, officer = await _setup(client, settings)
    r = await client.post("/api/v1/orders", headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080108", "quantity": 4})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "placed" and order["region_code"] == "08"
    assert order["unit_price"] == {"amount": 2350, "currency": "PEN"} and order["delivery_days"] == 3
    assert order["total"] == {"amount": 9400, "currency": "PEN"}
    assert order["delivery_place"] == "Wanchaq, Cusco, Cusco" and order["supplier_id"] == str(sup.org_id)
    assert await _stock(o["id"], "08") == 6
    # a later price change does not touch the order
    await client.put(f"/api/v1/offers/{o['id']}/regions/08", json={"price": {"amount": 9999}}, headers=sup.headers)
    again = (await client.get(f"/api/v1/orders/{order['id']}", headers=officer.headers)).json()
    assert again["unit_price"]["amount"] == 2350
    # Lima is served at Lima's price
    r = await client.post("/api/v1/orders", headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "150122", "quantity": 1})
    assert r.json()["unit_price"]["amount"] == 2600
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox WHERE topic LIKE 'order.%'")]
    assert topics == ["order.placed", "order.placed"]


async def test_orders_refused_clearly(client, settings):
    sup, o, officer = await _setup(client, settings, stock=2)
    url = "/api/v1/orders"
    r = await client.post(url, headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "230101", "quantity": 1})  # Tacna
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "served"
    r = await client.post(url, headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 3})
    assert r.status_code == 409 and r.json()["type"].endswith("/out-of-stock")
    assert r.json()["errors"][0]["field"] == "quantity"
    r = await client.post(url, headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "089999", "quantity": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "delivery_ubigeo"
    r = await client.post(url, headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    r = await client.post(url, headers=sup.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 1})
    assert r.status_code == 403
    await client.post(f"/api/v1/offers/{o['id']}/pause", headers=sup.headers)
    r = await client.post(url, headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 1})
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "paused"
    assert await _stock(o["id"], "08") == 2
    assert (await db.fetchrow("SELECT count(*) AS n FROM purchase_order"))["n"] == 0


async def test_suspended_supplier_cannot_sell(client, settings):
    sup, o, officer = await _setup(client, settings)
    auditor = await factories.login(settings, "oversight", "auditor")
    r = await client.post("/api/v1/orders", headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 1})
    placed = r.json()
    await client.post(f"/api/v1/suppliers/{sup.org_id}/status", headers=auditor.headers, json={
        "status": "suspended", "reason": "sanción", "until": "2099-01-01T00:00:00Z"})
    r = await client.post("/api/v1/orders", headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 1})
    assert r.status_code == 403 and r.json()["type"].endswith("/supplier-suspended")
    # nor accept an order placed before; it may still reject it
    r = await client.post(f"/api/v1/orders/{placed['id']}/accept", headers=sup.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("/supplier-suspended")
    r = await client.post(f"/api/v1/orders/{placed['id']}/reject", json={"reason": "no podemos atender"},
                          headers=sup.headers)
    assert r.status_code == 200 and r.json()["status"] == "rejected"


async def test_twenty_concurrent_orders_for_the_last_five_units(client, settings):
    sup, o, _ = await _setup(client, settings, stock=5)
    officers = [await factories.login(settings, "agency", "officer") for _ in range(4)]

    async def order(i: int):
        return await client.post("/api/v1/orders", headers=officers[i % 4].headers,
                                 json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 1})

    responses = await asyncio.gather(*(order(i) for i in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [409] * 15, [r.text for r in responses if r.status_code not in (201, 409)]
    assert all(r.json()["type"].endswith("/out-of-stock") for r in responses if r.status_code == 409)
    assert await _stock(o["id"], "08") == 0
    assert (await db.fetchrow("SELECT count(*) AS n, sum(quantity) AS q FROM purchase_order")) == {"n": 5, "q": 5}
    # the stock reaching zero is announced to search once
    changes = [json.loads(r["payload"])["change"] if isinstance(r["payload"], str) else r["payload"]["change"]
               for r in await db.fetch("SELECT payload FROM outbox WHERE topic LIKE 'offer.%' ORDER BY id")]
    assert changes.count("out_of_stock") == 1


async def test_concurrent_orders_of_several_units_never_oversell(client, settings):
    sup, o, officer = await _setup(client, settings, stock=10)

    async def order(q: int):
        return await client.post("/api/v1/orders", headers=officer.headers,
                                 json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": q})

    responses = await asyncio.gather(*(order(q) for q in (3, 4, 3, 4, 3, 2, 4, 1)))
    sold = sum(r.json()["quantity"] for r in responses if r.status_code == 201)
    assert sold <= 10 and await _stock(o["id"], "08") == 10 - sold
    assert {r.status_code for r in responses} <= {201, 409}


async def test_supplier_accepts_or_rejects_and_rejection_returns_stock(client, settings):
    sup, o, officer = await _setup(client, settings, stock=10)
    other_supplier = await active_supplier(settings)
    place = {"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 3}
    first = (await client.post("/api/v1/orders", headers=officer.headers, json=place)).json()
    second = (await client.post("/api/v1/orders", headers=officer.headers, json=place)).json()
    assert await _stock(o["id"], "08") == 4
    # only the supplier decides
    assert (await client.post(f"/api/v1/orders/{first['id']}/accept", headers=officer.headers)).status_code == 403
    assert (await client.post(f"/api/v1/orders/{first['id']}/accept",
                              headers=other_supplier.headers)).status_code == 404
    r = await client.post(f"/api/v1/orders/{first['id']}/accept", headers=sup.headers)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    r = await client.post(f"/api/v1/orders/{first['id']}/reject", json={"reason": "tarde"}, headers=sup.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/order-already-decided")
    r = await client.post(f"/api/v1/orders/{second['id']}/reject", json={"reason": "sin transporte"},
                          headers=sup.headers)
    assert r.status_code == 200 and r.json()["reason"] == "sin transporte"
    assert await _stock(o["id"], "08") == 7
    # both parties list their orders; strangers see none
    assert (await client.get("/api/v1/orders", headers=sup.headers)).json()["total"] == 2
    assert (await client.get("/api/v1/orders?status=accepted", headers=officer.headers)).json()["total"] == 1
    assert (await client.get("/api/v1/orders", headers=other_supplier.headers)).json()["total"] == 0
    assert (await client.get(f"/api/v1/orders/{first['id']}", headers=other_supplier.headers)).status_code == 404
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_event WHERE entity_type = 'purchase_order' ORDER BY id")]
    assert actions == ["order.placed", "order.placed", "order.accepted", "order.rejected"]


async def test_agency_cancels_an_undecided_order(client, settings):
    sup, o, officer = await _setup(client, settings, stock=10)
    order = (await client.post("/api/v1/orders", headers=officer.headers,
                               json={"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 5})).json()
    r = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "presupuesto"},
                          headers=officer.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert await _stock(o["id"], "08") == 10


async def test_idempotency_key_places_one_order(client, settings):
    sup, o, officer = await _setup(client, settings, stock=10)
    headers = {**officer.headers, "Idempotency-Key": "oc-2026-0001"}
    body = {"offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 2}
    first = await client.post("/api/v1/orders", headers=headers, json=body)
    again = await client.post("/api/v1/orders", headers=headers, json=body)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert await _stock(o["id"], "08") == 8
    r = await client.post("/api/v1/orders", headers=headers, json={**body, "quantity": 3})
    assert r.status_code == 409


async def test_an_order_total_beyond_any_budget_is_refused_by_name(client, settings):
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings, ubigeo="080101")
    o = await offer(client, sup, product, {"08": (10**13, 3, 10**6)})  # the largest unit price
    officer = await factories.login(settings, "agency", "officer", ubigeo="080101")
    r = await client.post("/api/v1/orders", headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080108", "quantity": 1_000_000})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "quantity" and r.json()["errors"][0]["rule"] == "max_total"
    assert await _stock(o["id"], "08") == 10**6  # the reservation went back with the transaction
    assert (await db.fetchrow("SELECT count(*) AS n FROM purchase_order"))["n"] == 0
    r = await client.post("/api/v1/orders", headers=officer.headers,
                          json={"offer_id": o["id"], "delivery_ubigeo": "080108", "quantity": 100})
    assert r.status_code == 201 and r.json()["total"] == {"amount": 10**15, "currency": "PEN"}
