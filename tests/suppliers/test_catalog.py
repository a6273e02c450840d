"""Catalogues, product sheets and offers over HTTP: regional prices, price history, pausing, and what search
is told through the outbox."""

from __future__ import annotations

import json

from marketplace.core import db
from suppliers.catalog import events
from tests import factories
from tests.suppliers.factories import active_supplier, catalog_with_product, offer, registered_supplier


async def _events(topic: str | None = None) -> list[dict]:
    rows = await db.fetch("SELECT topic, payload FROM outbox WHERE topic LIKE 'offer.%' ORDER BY id")
    out = [{"topic": r["topic"], **(json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"])}
           for r in rows]
    return [e for e in out if topic is None or e["topic"] == topic]


async def test_catalogue_and_product_sheets(client, settings):
    catalog, product, admin = await catalog_with_product(client, settings)
    assert product["attributes"] == {"gramaje": 80, "formato": "A4", "color": "blanco"}
    assert product["classification_code"] == "14111507" and product["unit"] == "paquete x 500"
    listed = (await client.get(f"/api/v1/catalogs/{catalog['id']}/products?classification=1411")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == product["id"]
    assert (await client.get(f"/api/v1/catalogs/{catalog['id']}/products?q=bond")).json()["total"] == 1
    assert (await client.get(f"/api/v1/catalogs/{catalog['id']}")).json()["product_count"] == 1
    # only the platform manages catalogues
    officer = await factories.login(settings, "agency", "officer")
    r = await client.post("/api/v1/catalogs", json={"code": "X1", "name": "x"}, headers=officer.headers)
    assert r.status_code == 403
    r = await client.post("/api/v1/catalogs", json={"code": catalog["code"], "name": "x"}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "code"
    r = await client.post(f"/api/v1/catalogs/{catalog['id']}/products", headers=admin.headers,
                          json={"name": "x", "classification_code": "abc", "unit": "u"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "classification_code"


async def test_offer_with_regional_prices_and_price_history(client, settings):
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings, ubigeo="080101", mype=True)
    o = await offer(client, sup, product, {"08": (2350, 2, 100), "03": (2490, 4, 40)})
    assert [(r["region_code"], r["region_name"], r["price"]) for r in o["regions"]] == [
        ("03", "Apurímac", {"amount": 2490, "currency": "PEN"}), ("08", "Cusco", {"amount": 2350, "currency": "PEN"})]
    assert o["status"] == "active" and o["product_name"] == "Papel bond A4 80 g"
    # a price change is kept in the history; stock and delivery days alone are not price changes
    r = await client.put(f"/api/v1/offers/{o['id']}/regions/08", json={"price": {"amount": 2290, "currency": "PEN"}},
                         headers=sup.headers)
    assert r.status_code == 200, r.text
    r = await client.put(f"/api/v1/offers/{o['id']}/regions/08", json={"stock": 120}, headers=sup.headers)
    assert [x for x in r.json()["regions"] if x["region_code"] == "08"][0] == {
        "region_code": "08", "region_name": "Cusco", "price": {"amount": 2290, "currency": "PEN"}, "delivery_days": 2,
        "stock": 120}
    history = (await client.get(f"/api/v1/offers/{o['id']}/price-history")).json()
    assert [(h["region_code"], h["old_price"] and h["old_price"]["amount"], h["new_price"]) for h in history] == [
        ("08", None, {"amount": 2350, "currency": "PEN"}), ("03", None, {"amount": 2490, "currency": "PEN"}),
        ("08", 2350, {"amount": 2290, "currency": "PEN"})]
    # a new region needs full terms; an unknown region is refused
    r = await client.put(f"/api/v1/offers/{o['id']}/regions/15", json={"price": {"amount": 2600}}, headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "required"
    r = await client.put(f"/api/v1/offers/{o['id']}/regions/99",
                         json={"price": {"amount": 2600}, "delivery_days": 5, "stock": 1}, headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "region"
    # search is told: created, then price_changed with the new document
    upserts = await _events("offer.upserted")
    assert [e["change"] for e in upserts] == ["created", "price_changed", "updated"]
    doc = upserts[1]["document"]
    assert doc["supplier_ubigeo"] == "080101" and doc["supplier_mype"] is True and doc["searchable"] is True
    assert {r["region_code"]: r["price_cents"] for r in doc["regions"]} == {"03": 2490, "08": 2290}
    assert upserts[1]["offer_id"] == o["id"] and upserts[1]["supplier_org_id"] == str(sup.org_id)


async def test_offer_validation_and_ownership(client, settings):
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings)
    other = await active_supplier(settings)
    url = f"/api/v1/suppliers/{sup.org_id}/offers"
    body = {"product_sheet_id": product["id"], "regions": [
        {"region_code": "15", "price": {"amount": 100}, "delivery_days": 1, "stock": 1},
        {"region_code": "15", "price": {"amount": 100}, "delivery_days": 1, "stock": 1}]}
    r = await client.post(url, json=body, headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "regions[1].region_code", "rule": "unique", "message": r.json()["detail"]}
    body["regions"] = [{"region_code": "15", "price": {"amount": 0}, "delivery_days": 1, "stock": 1}]
    r = await client.post(url, json=body, headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "regions[0].price.amount"
    assert r.json()["rule"] == "range"
    body["regions"] = [{"region_code": "15", "price": {"amount": 100}, "delivery_days": 1, "stock": -1}]
    assert (await client.post(url, json=body, headers=sup.headers)).status_code == 422
    body["regions"] = [{"region_code": "15", "price": {"amount": 100}, "delivery_days": 1, "stock": 1}]
    assert (await client.post(url, json=body, headers=other.headers)).status_code == 403
    r = await client.post(url, json=body, headers=sup.headers)
    assert r.status_code == 201
    assert (await client.post(url, json=body, headers=sup.headers)).status_code == 409
    o = r.json()
    r = await client.post(f"/api/v1/offers/{o['id']}/pause", headers=other.headers)
    assert r.status_code == 404
    assert (await db.fetchrow("SELECT count(*) AS n FROM offer"))["n"] == 1
    # a pending supplier cannot offer
    pending = await registered_supplier(settings, status="pending")
    r = await client.post(f"/api/v1/suppliers/{pending.org_id}/offers", json=body, headers=pending.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("/supplier-pending")


async def test_paused_offers_leave_search_and_listings(client, settings):
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings)
    o = await offer(client, sup, product, {"15": (1000, 1, 10)})
    assert (await client.get(f"/api/v1/suppliers/{sup.org_id}/offers")).json()["total"] == 1
    r = await client.post(f"/api/v1/offers/{o['id']}/pause", headers=sup.headers)
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert (await client.get(f"/api/v1/suppliers/{sup.org_id}/offers")).json()["total"] == 0
    assert (await client.get(f"/api/v1/offers/{o['id']}")).status_code == 404
    # the supplier still sees and manages its paused offer
    mine = (await client.get(f"/api/v1/suppliers/{sup.org_id}/offers", headers=sup.headers)).json()
    assert mine["total"] == 1 and mine["items"][0]["status"] == "paused"
    assert [e["change"] for e in await _events("offer.deleted")] == ["paused"]
    r = await client.post(f"/api/v1/offers/{o['id']}/resume", headers=sup.headers)
    assert r.json()["status"] == "active"
    assert [e["change"] for e in await _events()][-1] == "resumed"
    assert (await client.get(f"/api/v1/offers/{o['id']}")).status_code == 200


async def test_suspended_supplier_offers_disappear_and_come_back(client, settings):
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings)
    o1 = await offer(client, sup, product, {"15": (1000, 1, 10)})
    auditor = await factories.login(settings, "oversight", "auditor")
    officer = await factories.login(settings, "agency", "officer")
    r = await client.post(f"/api/v1/suppliers/{sup.org_id}/status", headers=auditor.headers, json={
        "status": "suspended", "reason": "sanción administrativa", "until": "2099-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    deleted = await _events("offer.deleted")
    assert [(e["offer_id"], e["change"]) for e in deleted] == [(o1["id"], "supplier_suspended")]
    listed = (await client.get(f"/api/v1/suppliers/{sup.org_id}/offers", headers=officer.headers)).json()
    assert listed["total"] == 0
    assert (await client.get(f"/api/v1/offers/{o1['id']}", headers=officer.headers)).status_code == 404
    status_event = await db.fetchrow("SELECT payload FROM outbox WHERE topic = 'supplier.status_changed'"
                                     " ORDER BY id DESC LIMIT 1")
    payload = status_event["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload["supplier_org_id"] == str(sup.org_id) and payload["status"] == "suspended"
    assert payload["searchable"] is False
    (doc,) = await events.offer_documents(offer_ids=[o1["id"]])
    assert doc.searchable is False and doc.supplier_status == "suspended"
    # reinstated: back in search
    r = await client.post(f"/api/v1/suppliers/{sup.org_id}/status", headers=auditor.headers,
                          json={"status": "active", "reason": "resolución revocada"})
    assert r.status_code == 200
    last = (await _events())[-1]
    assert last["topic"] == "offer.upserted" and last["change"] == "supplier_active"
    assert (await client.get(f"/api/v1/offers/{o1['id']}", headers=officer.headers)).status_code == 200


async def test_closing_a_catalogue_removes_its_offers(client, settings):
    catalog, product, admin = await catalog_with_product(client, settings)
    sup = await active_supplier(settings)
    o = await offer(client, sup, product, {"15": (1000, 1, 10)})
    r = await client.post(f"/api/v1/catalogs/{catalog['id']}/status", json={"status": "closed"},
                          headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert [(e["offer_id"], e["change"]) for e in await _events("offer.deleted")] == [(o["id"], "catalog_closed")]
    page = await events.iter_offer_documents(limit=10)
    assert len(page) == 1 and page[0].searchable is False


async def test_prices_are_money_in_soles(client, settings):
    """Every price is {"amount": céntimos, "currency": "PEN"}: another currency, a price of 0 or a float is
    refused naming the field and the rule, and nothing is written."""
    _, product, _ = await catalog_with_product(client, settings)
    sup = await active_supplier(settings)
    url = f"/api/v1/suppliers/{sup.org_id}/offers"

    def body(price):
        return {"product_sheet_id": product["id"],
                "regions": [{"region_code": "15", "price": price, "delivery_days": 1, "stock": 1}]}

    r = await client.post(url, json=body({"amount": 2500, "currency": "USD"}), headers=sup.headers)
    assert r.status_code == 422, r.text
    assert (r.json()["field"], r.json()["rule"]) == ("regions[0].price.currency", "currency")
    r = await client.post(url, json=body({"amount": 2500, "currency": "USD"}),
                          headers={**sup.headers, "Accept-Language": "en"})
    assert "soles (PEN)" in r.json()["detail"]
    for bad in ({"amount": -5}, {"amount": 10**13 + 1}):
        r = await client.post(url, json=body(bad), headers=sup.headers)
        assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "regions[0].price.amount", "range")
    r = await client.post(url, json=body({"amount": 25.5, "currency": "PEN"}), headers=sup.headers)
    assert (r.status_code, r.json()["field"]) == (422, "regions[0].price.amount")
    r = await client.post(url, json=body(2500), headers=sup.headers)  # the old bare integer is not a price
    assert (r.status_code, r.json()["field"]) == (422, "regions[0].price")
    assert (await db.fetchrow("SELECT count(*) AS n FROM offer"))["n"] == 0

    o = await offer(client, sup, product, {"15": (2500, 1, 1)})
    r = await client.put(f"/api/v1/offers/{o['id']}/regions/15", json={"price": {"amount": 900, "currency": "EUR"}},
                         headers=sup.headers)
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "price.currency", "currency")
    r = await client.put(f"/api/v1/offers/{o['id']}/regions/15", json={"price": {"amount": 2400}},
                         headers=sup.headers)
    assert r.status_code == 200 and r.json()["regions"][0]["price"] == {"amount": 2400, "currency": "PEN"}
    history = (await client.get(f"/api/v1/offers/{o['id']}/price-history")).json()
    assert [(h["old_price"], h["new_price"]["amount"]) for h in history] == [
        (None, 2500), ({"amount": 2500, "currency": "PEN"}, 2400)]
