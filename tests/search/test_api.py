"""GET /api/v1/catalog/search and GET /api/v1/tenders over HTTP, fed by the real domains through the outbox."""

from __future__ import annotations

from datetime import timedelta

from marketplace.core import clock
from tests.search.helpers import drain, offer, product
from tests.suppliers.factories import active_supplier
from tests.tenders import factories as tf


async def test_catalog_search_local_first_with_tiers_facets_and_filters(client, settings):
    cusco = await active_supplier(settings, ubigeo="080101", name="Cusco Tech SAC")
    acomayo = await active_supplier(settings, ubigeo="080201")
    lima = await active_supplier(settings, ubigeo="150101")
    sheet = await product("Computadora portátil", attributes={"procesador": "Core i5"})
    chair = await product("Silla giratoria", classification="56101504")
    await offer(lima.org_id, sheet, {"08": 240_000, "15": 230_000})
    await offer(acomayo.org_id, sheet, {"08": 250_000})
    await offer(cusco.org_id, sheet, {"08": 260_000})
    await offer(cusco.org_id, chair, {"08": 30_000})
    await drain()

    r = await client.get("/api/v1/catalog/search", params={
        "q": "computadra", "ubigeo": "080101", "facets": "region,family"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(i["supplier_id"], i["tier"], i["price"]["amount"]) for i in body["items"]] == [
        (str(cusco.org_id), "same_province", 260_000), (str(acomayo.org_id), "same_region", 250_000),
        (str(lima.org_id), "elsewhere", 240_000)]
    assert body["total"] == 3 and body["corrected_query"] == "computadora"
    assert body["facets"] == {"region": {"08": 3}, "family": {"4321": 3}}

    r = await client.get("/api/v1/catalog/search", params={"classification": "5610", "region": "08"})
    assert [i["name"] for i in r.json()["items"]] == ["Silla giratoria"]
    assert r.json()["items"][0]["tier"] is None  # no place given, no tier
    r = await client.get("/api/v1/catalog/search", params={"q": "computadora", "price_max": 235_000})
    assert [(i["region"], i["price"]["amount"]) for i in r.json()["items"]] == [("15", 230_000)]
    r = await client.get("/api/v1/catalog/search", params={"q": "computadora", "limit": 1, "offset": 1,
                                                          "ubigeo": "080101"})
    assert [i["tier"] for i in r.json()["items"]] == ["same_region"] and r.json()["total"] == 3


async def test_catalog_search_refuses_bad_input_with_422(client):
    for params, field in (({"ubigeo": "999999"}, "query.ubigeo"), ({"region": "26"}, "query.region"),
                          ({"limit": "0"}, "query.limit"), ({"price_min": "-1"}, "query.price_min"),
                          ({"price_min": "5", "price_max": "1"}, "query.price_min"),
                          ({"sort": "distance"}, "query.ubigeo"), ({"facets": "colour"}, "query.facets"),
                          ({"classification": "abc"}, "query.classification")):
        r = await client.get("/api/v1/catalog/search", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == field, (params, r.json())


async def _publish(client, officer, *, title, ubigeo, days, enquiry_days=5, **over):
    payload = tf.draft_payload(title=title, **over)
    payload["lots"][0]["delivery_ubigeo"] = ubigeo
    deadline = clock.now() + timedelta(days=days)
    payload.update(enquiry_end=(clock.now() + timedelta(days=enquiry_days)).isoformat(),
                   submission_deadline=deadline.isoformat(),
                   opening_time=(deadline + timedelta(hours=1)).isoformat())
    r = await client.post("/api/v1/tenders", json=payload, headers=officer.headers)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = await client.post(f"/api/v1/tenders/{tid}/publish", headers=officer.headers)
    assert r.status_code == 200, r.text
    return tid


async def test_tender_search_filters_and_local_first(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    cusco = await _publish(client, officer, title="Adquisición de cemento para Cusco", ubigeo="080101", days=10)
    puno = await _publish(client, officer, title="Adquisición de cemento portland", ubigeo="210101", days=20)
    lima = await _publish(client, officer, title="Servicio de consultoría en sistemas", ubigeo="150101", days=30,
                          enquiry_days=12,
                          category="services", method="public_contest")
    draft = await tf.draft(client, officer, title="Cemento en borrador")
    await drain()

    r = await client.get("/api/v1/tenders", params={"q": "cemento", "ubigeo": "080101"})
    assert r.status_code == 200, r.text
    assert [(i["id"], i["tier"]) for i in r.json()["items"]] == [(cusco, "same_province"), (puno, "adjoining_region")]
    assert draft["id"] not in {i["id"] for i in r.json()["items"]}

    r = await client.get("/api/v1/tenders", params={"region": "21"})
    assert [i["id"] for i in r.json()["items"]] == [puno]
    r = await client.get("/api/v1/tenders", params={"category": "services", "method": "public_contest"})
    assert [i["id"] for i in r.json()["items"]] == [lima]
    r = await client.get("/api/v1/tenders", params={"state": "published", "facets": "region,state"})
    assert r.json()["total"] == 3 and r.json()["facets"]["state"] == {"published": 3}
    # Without words, soonest deadline first.
    assert [i["id"] for i in r.json()["items"]] == [cusco, puno, lima]
    until = (clock.now() + timedelta(days=25)).isoformat()
    r = await client.get("/api/v1/tenders", params={"closing_to": until})
    assert {i["id"] for i in r.json()["items"]} == {cusco, puno}
    r = await client.get("/api/v1/tenders", params={"closing_to": "2026-12-01T00:00:00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.closing_to"
    r = await client.get("/api/v1/tenders", params={"method": "subasta"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.method"


async def test_odd_query_text_never_breaks_search(client):
    for q in ("\x00", "'; DROP TABLE offer; --", "&|!:*()<->", "ñandú ÁÉÍÓÚ", "a" * 200, "   "):
        for path in ("/api/v1/catalog/search", "/api/v1/tenders"):
            r = await client.get(path, params={"q": q, "ubigeo": "080101"})
            assert r.status_code == 200, (path, q, r.text)
            assert r.json()["items"] == []
