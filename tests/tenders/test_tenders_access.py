"""Who may do what to a tender: role x ownership x endpoint, and every refused transition over HTTP."""

from __future__ import annotations

from datetime import timedelta

from marketplace.core import clock, db
from tests.harness import check_matrix, personas
from tests.tenders import factories as tf


async def test_create_draft_matrix(client, settings):
    p = await personas(settings, client)
    await check_matrix(client, "POST", "/api/v1/tenders", {
        p.anonymous: 401, p.bidder: 403, p.auditor: 403, p.admin: 403, p.committee: 403,
        p.other_officer: 201, p.officer: 201,
    }, json=lambda _: tf.draft_payload())


async def test_draft_visible_only_to_owning_agency(client, settings):
    p = await personas(settings, client)
    t = await tf.draft(client, p.officer)
    url = f"/api/v1/tenders/{t['id']}"
    await check_matrix(client, "GET", url, {
        p.anonymous: 404, p.other_officer: 404, p.bidder: 404, p.auditor: 404, p.admin: 404,
        p.committee: 200, p.officer: 200,
    })
    # and nobody else may edit or publish it (existence hidden)
    await check_matrix(client, "PATCH", url, {
        p.anonymous: 404, p.other_officer: 404, p.bidder: 404, p.auditor: 404, p.admin: 404,
        p.committee: 403, p.officer: 200,
    }, json={"title": "Nuevo título"})
    await check_matrix(client, "POST", url + "/publish", {
        p.anonymous: 404, p.other_officer: 404, p.bidder: 404, p.auditor: 404, p.admin: 404,
        p.committee: 403, p.officer: 200,
    })
    # published: public
    await check_matrix(client, "GET", url, {
        p.anonymous: 200, p.other_officer: 200, p.bidder: 200, p.auditor: 200, p.admin: 200,
        p.committee: 200, p.officer: 200,
    })


async def test_cancel_matrix_and_reason(client, settings):
    p = await personas(settings, client)
    t = await tf.published(client, p.officer)
    url = f"/api/v1/tenders/{t['id']}/cancel"
    r = await client.post(url, json={}, headers=p.officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.other_officer: 403, p.bidder: 403, p.auditor: 403, p.admin: 403, p.committee: 403,
        p.officer: 200,
    }, json={"reason": "Presupuesto recortado"})
    t = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    assert t["state"] == "cancelled" and t["cancel_reason"] == "Presupuesto recortado"
    assert {lot["state"] for lot in t["lots"]} == {"cancelled"}
    # cancelling twice, editing or publishing a cancelled tender: 409
    for method, path, body in (("POST", url, {"reason": "otra vez"}),
                               ("PATCH", f"/api/v1/tenders/{t['id']}", {"title": "x", "reason": "cambio"}),
                               ("POST", f"/api/v1/tenders/{t['id']}/publish", None)):
        r = await client.request(method, path, json=body, headers=p.officer.headers)
        assert r.status_code == 409, (method, path, r.text)
    event = await db.fetchrow("SELECT payload FROM outbox WHERE topic = 'tender.cancelled'")
    assert event is not None


async def test_cancel_one_lot_then_the_last(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    t = await tf.published(client, officer, lots=2)
    lot1, lot2 = t["lots"]
    r = await client.post(f"/api/v1/tenders/{t['id']}/cancel", json={"reason": "Sin presupuesto",
                                                                     "lot_id": lot1["id"]}, headers=officer.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "published" and [x["state"] for x in body["lots"]] == ["cancelled", "published"]
    # no bids on a cancelled lot
    sup = await tf.supplier(settings)
    tf.to_tendering(fixed_clock, t)
    r = await client.post(f"/api/v1/tenders/{t['id']}/bids", json={"lots": [{"lot_id": lot1["id"],
                                                                                          "price": {"amount": 1}}]},
                          headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "lot"
    r = await client.post(f"/api/v1/tenders/{t['id']}/cancel", json={"reason": "Sin presupuesto",
                                                                     "lot_id": lot2["id"]}, headers=officer.headers)
    assert r.json()["state"] == "cancelled"


async def test_publish_refusals(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    # no timeline
    t = await tf.draft(client, officer, enquiry_end=None, submission_deadline=None, opening_time=None)
    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "required"
    # too short for the method (licitación pública needs 22 days)
    t = await tf.draft(client, officer, method="public_tender")
    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    assert r.status_code == 422, r.text
    err = r.json()["errors"][0]
    assert (err["field"], err["rule"]) == ("submission_deadline", "min_submission_period")
    # publishing twice
    t = await tf.published(client, officer)
    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "not_allowed"
    # a draft left until its deadline passed
    t = await tf.draft(client, officer)
    fixed_clock.advance(days=11)
    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    assert r.status_code == 422


async def test_draft_validation_is_422_naming_the_field(client, settings):
    officer = await tf.officer(settings)
    cases = [
        ({"lots": [tf.lot(delivery_ubigeo="999999")]}, "lots[0].delivery_ubigeo", "ubigeo"),
        ({"lots": [tf.lot(delivery_ubigeo="080100")]}, "lots[0].delivery_ubigeo", "ubigeo"),
        ({"lots": [tf.lot(classification_scheme="CPV", classification_code="30111601")]},
         "lots[0].classification_code", "classification"),
        ({"lots": [tf.lot(quantity="0")]}, "lots[0].quantity", "range"),
        ({"lots": [tf.lot(estimated_value=-5)]}, "lots[0].estimated_value.amount", "range"),
        ({"lots": [tf.lot(estimated_value={"amount": 5, "currency": "USD"})]}, "lots[0].estimated_value.currency",
         "currency"),
        ({"lots": [tf.lot(estimated_value=150_00.5)]}, "lots[0].estimated_value", None),
        ({"lots": []}, "lots", "length"),
        ({"method": "trueque"}, "method", "enum"),
        ({"consultancy": True, "category": "goods"}, "consultancy", "consultancy_is_service"),
        ({"opening_time": (clock.now() + timedelta(days=1)).isoformat()}, "opening_time", "opening_after_deadline"),
        ({"surprise": 1}, "surprise", None),
    ]
    for over, field, rule in cases:
        r = await client.post("/api/v1/tenders", json=tf.draft_payload(**over), headers=officer.headers)
        assert r.status_code == 422, (over, r.text)
        err = r.json()["errors"][0]
        assert field in err["field"], (over, err)
        if rule:
            assert err["rule"] == rule, (over, err)
    assert (await db.fetchrow("SELECT count(*) AS n FROM tender"))["n"] == 0


async def test_opening_matrix_and_refusals(client, settings, fixed_clock):
    p = await personas(settings, client)
    t = await tf.published(client, p.officer)
    url = f"/api/v1/tenders/{t['id']}/opening"
    tf.at_opening_time(fixed_clock, t)
    await p.refresh(settings)
    # the owning agency's officer, committee member and administrator may confirm; the quorum is two
    got = await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.other_officer: 403, p.bidder: 403, p.auditor: 403, p.admin: 403, p.officer: 200,
        p.committee: 200,
    })
    assert (got["officer"].json()["opened"], got["committee"].json()["opened"]) == (False, True)
    r = await client.post(url, headers=p.agency_admin.headers)
    assert r.status_code == 409  # opened already
    r = await client.get(url)
    assert r.status_code == 200 and r.json()["bid_count"] == 0


async def test_method_mapping_and_ocid(client, settings):
    officer = await tf.officer(settings)
    expected = {"public_tender": "open", "public_contest": "open", "simplified_award": "open",
                "reverse_auction": "open", "price_comparison": "selective",
                "direct_contracting": "direct"}
    for method, ocds in expected.items():
        t = await tf.draft(client, officer, method=method, category="services", consultancy=True)
        assert t["procurement_method"] == ocds and t["consultancy"] is True
        assert t["ocid"] == settings.ocid_prefix + t["id"]
