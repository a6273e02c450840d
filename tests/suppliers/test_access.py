"""Who may do what: role x ownership x endpoint for the registry, catalogue, alerts and orders."""

from __future__ import annotations

from tests import factories
from tests.suppliers.factories import active_supplier, catalog_with_product, offer, registered_supplier


async def test_access_matrix(client, settings):
    _, product, platform = await catalog_with_product(client, settings)
    _, product2, _ = await catalog_with_product(client, settings)
    own = await active_supplier(settings, ubigeo="080101")
    own_bidder = await factories.login(settings, "supplier", "bidder", org_id=own.org_id)
    other = await active_supplier(settings)
    officer = await factories.login(settings, "agency", "officer")
    auditor = await factories.login(settings, "oversight", "auditor")
    o = await offer(client, own, product, {"08": (1000, 2, 100)})
    order = (await client.post("/api/v1/orders", headers=officer.headers, json={
        "offer_id": o["id"], "delivery_ubigeo": "080101", "quantity": 1})).json()
    actors = {"anonymous": {}, "officer": officer.headers, "own_admin": own.headers,
              "own_bidder": own_bidder.headers, "other_supplier": other.headers, "auditor": auditor.headers,
              "platform": platform.headers}

    async def codes(method: str, url: str, body=None, body_for=None):
        out = {}
        for name, headers in actors.items():
            payload = body_for(name) if body_for else body
            r = await client.request(method, url, headers=headers, json=payload)
            out[name] = r.status_code
        return out

    assert await codes("PATCH", f"/api/v1/suppliers/{own.org_id}", {"mype": True}) == {
        "anonymous": 401, "officer": 403, "own_admin": 200, "own_bidder": 403, "other_supplier": 403,
        "auditor": 403, "platform": 200}
    assert await codes("POST", f"/api/v1/suppliers/{own.org_id}/status", {
        "status": "suspended", "reason": "prueba de acceso", "until": "2099-01-01T00:00:00Z"}) == {
        "anonymous": 401, "officer": 403, "own_admin": 403, "own_bidder": 403, "other_supplier": 403,
        "auditor": 200, "platform": 200}
    await client.post(f"/api/v1/suppliers/{own.org_id}/status", headers=auditor.headers,
                      json={"status": "active", "reason": "fin de la prueba"})
    assert await codes("POST", "/api/v1/catalogs", body_for=lambda n: {"code": f"AC-{n}", "name": "x"}) == {
        "anonymous": 401, "officer": 403, "own_admin": 403, "own_bidder": 403, "other_supplier": 403,
        "auditor": 403, "platform": 201}
    offer_body = {"product_sheet_id": product2["id"],
                  "regions": [{"region_code": "08", "price": {"amount": 100, "currency": "PEN"}, "delivery_days": 1,
                               "stock": 1}]}
    assert await codes("POST", f"/api/v1/suppliers/{own.org_id}/offers", offer_body) == {
        "anonymous": 401, "officer": 403, "own_admin": 201, "own_bidder": 403, "other_supplier": 403,
        "auditor": 403, "platform": 403}
    assert await codes("PUT", f"/api/v1/offers/{o['id']}/regions/08", {"stock": 50}) == {
        "anonymous": 401, "officer": 403, "own_admin": 200, "own_bidder": 403, "other_supplier": 404,
        "auditor": 403, "platform": 200}
    assert await codes("GET", f"/api/v1/suppliers/{own.org_id}/notifications") == {
        "anonymous": 401, "officer": 403, "own_admin": 200, "own_bidder": 200, "other_supplier": 403,
        "auditor": 403, "platform": 403}
    assert await codes("GET", f"/api/v1/orders/{order['id']}") == {
        "anonymous": 401, "officer": 200, "own_admin": 200, "own_bidder": 200, "other_supplier": 404,
        "auditor": 200, "platform": 200}
    assert await codes("POST", "/api/v1/orders", {"offer_id": o["id"], "delivery_ubigeo": "080101",
                                                  "quantity": 1}) == {
        "anonymous": 401, "officer": 201, "own_admin": 403, "own_bidder": 403, "other_supplier": 403,
        "auditor": 403, "platform": 403}
    # a pending registration is seen by itself, oversight and the platform only
    pending = await registered_supplier(settings, status="pending")
    actors["pending_self"] = pending.headers
    got = await codes("GET", f"/api/v1/suppliers/{pending.org_id}")
    assert got == {"anonymous": 404, "officer": 404, "own_admin": 404, "own_bidder": 404, "other_supplier": 404,
                   "auditor": 200, "platform": 200, "pending_self": 200}
