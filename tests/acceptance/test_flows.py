"""Acceptance: whole flows over HTTP, as agency officers, suppliers, oversight and citizens go through them.

Time moves with `fixed_clock`; whatever the worker would do (the tender sweeper, the consent job, outbox
consumers, payment jobs, the audit chainer) runs here through the same job and consumer functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace import worker
from marketplace.core import audit, db, outbox, sealing
from tenders.jobs import sweep_tenders
from tests import factories, waiting
from tests.harness import personas
from tests.payments.helpers import pay_appeal_bond, run_jobs
from tests.search.helpers import drain as drain_search
from tests.suppliers.factories import active_supplier, catalog_with_product, offer
from tests.tenders.factories import open_with_quorum
from tests.tenders.test_award_http import awarded, consent_job
from tests.tenders.test_evaluation_http import draft, hdr, ok, points


async def drain_everything() -> None:
    """Every outbox consumer the worker registers, until nothing moves (consumers feed one another)."""
    worker.gather()  # imports every domain's jobs, registering their consumers

    async def settled() -> bool:
        results = await outbox.drain_all()
        if any(r.held_back or r.busy for r in results.values()):
            return False  # another session's transaction holds the watermark back
        return not any(r.delivered or r.passed for r in results.values())

    await waiting.until(settled, "every outbox consumer to be drained")


async def chain_audit(settings) -> None:
    """The audit chainer, until every event is chained (it waits for older transactions in the cluster)."""
    async def chained() -> bool:
        await audit.chain_pending(settings)
        return (await db.fetchrow("SELECT count(*) AS n FROM audit_event WHERE seq IS NULL"))["n"] == 0

    await waiting.until(chained, "every audit event to be chained")


async def test_tender_to_payment_and_public_record(client, settings, fixed_clock):
    p = await personas(settings, client)
    cusco = await active_supplier(settings, ubigeo="080101", mype=True, name="Andes Servicios S.A.C.")
    lima = await active_supplier(settings, ubigeo="150101", name="Lima Facilities S.A.")
    late = await active_supplier(settings, ubigeo="040101", name="Arequipa Tarde S.A.")

    # The officer drafts a tender with one lot delivered in Cusco, sets the scoring rules and publishes it.
    s = await draft(client, settings, fixed_clock, p, lots=((15_000_000, "080101"),))
    published = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    ocid = published["ocid"]
    assert ocid.startswith(settings.ocid_prefix)
    fixed_clock.advance(days=5)

    # Two suppliers bid and keep signed receipts that anyone can verify with the platform's public key.
    keys = ok(await client.get("/api/v1/keys"))
    receipts = {}
    for who, price in ((cusco, 11_000_000), (lima, 10_000_000)):
        body = {"lots": [{"lot_id": s.lot_ids[0], "price": {"amount": price}}]}
        receipt = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/bids", json=body,
                                       headers=hdr(settings, who)), 201)
        assert receipt["key_id"] == keys["key_id"] and receipt["ocid"] == ocid
        signed_part = {k: v for k, v in receipt.items() if k != "signature"}
        assert sealing.verify(keys["public_key"], signed_part, receipt["signature"])
        assert not sealing.verify(keys["public_key"], {**signed_part, "sha256": "0" * 64}, receipt["signature"])
        receipts[who.org_id] = receipt
        fixed_clock.advance(minutes=3)
    s.bids = {(0, 0): receipts[cusco.org_id]["bid_id"], (1, 0): receipts[lima.org_id]["bid_id"]}

    # A third supplier comes a minute after the deadline: refused, nothing written.
    fixed_clock.set(s.deadline - timedelta(hours=1) + timedelta(minutes=1))
    r = await client.post(f"/api/v1/tenders/{s.tender_id}/bids", headers=hdr(settings, late),
                          json={"lots": [{"lot_id": s.lot_ids[0], "price": {"amount": 9_000_000}}]})
    assert r.status_code == 409 and r.json()["type"].endswith("/deadline-passed"), r.text
    assert (await db.fetchrow("SELECT count(*) AS n FROM bid WHERE supplier_id = $1", late.org_id))["n"] == 0

    # The opening time comes: the sweeper (the worker's cron) closes the tender, and the quorum of two people
    # of the agency (the officer and the committee member) opens the bids.
    fixed_clock.set(s.deadline + timedelta(minutes=1))
    await sweep_tenders({}, settings=settings)
    await open_with_quorum(client, settings, p, s.tender_id)
    tender = ok(await client.get(f"/api/v1/tenders/{s.tender_id}", headers=hdr(settings, p.officer)))
    assert tender["state"] == "evaluation", tender["state"]

    # The committee scores, the officer awards: the Cusco MYPE wins on quality and its bonuses.
    await points(client, settings, p, s, 0, 0, 58, 38)
    await points(client, settings, p, s, 1, 0, 40, 20)
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    award = result["lots"][0]["award"]
    assert award["supplier_id"] == str(cusco.org_id) and award["state"] == "standstill"
    assert award["value"] == {"amount": 11_000_000, "currency": "PEN"}

    # The standstill passes without appeal: the consent job consents, the contract follows from the award.
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) + timedelta(seconds=1))
    assert await consent_job() == 1
    assert ok(await client.get(f"/api/v1/awards/{award['id']}"))["state"] == "consented"
    await drain_everything()
    contracts = ok(await client.get("/api/v1/contracts", headers=hdr(settings, p.officer)))
    assert [(c["source_type"], c["source_id"], c["supplier_org_id"]) for c in contracts] == [
        ("award", award["id"], str(cusco.org_id))]
    cid = contracts[0]["id"]
    assert ok(await client.get(f"/api/v1/contracts/{cid}", headers=hdr(settings, cusco)))["id"] == cid

    # One milestone for the whole value, signed; the supplier delivers, the agency accepts and pays.
    milestone = ok(await client.post(f"/api/v1/contracts/{cid}/milestones", headers=hdr(settings, p.officer),
                                     json={"deliverable": "Mantenimiento concluido", "due_date": "2027-03-15",
                                           "amount": {"amount": 11_000_000, "currency": "PEN"}}), 201)
    ok(await client.post(f"/api/v1/contracts/{cid}/sign", headers=hdr(settings, p.officer), json={
        "period_start": "2027-01-04", "period_end": "2027-06-30",
        "guarantee": {"kind": "bank_letter", "amount": {"amount": 1_100_000, "currency": "PEN"},
                      "issuer": "Banco de la Nación",
                      "reference": "CF-2027-0001", "expires_on": "2027-12-31"}}))
    delivery = ok(await client.post(f"/api/v1/contracts/{cid}/deliveries", headers=hdr(settings, cusco),
                                    json={"milestone_id": milestone["id"]}), 201)
    ok(await client.post(f"/api/v1/contracts/{cid}/deliveries/{delivery['id']}/accept",
                         headers=hdr(settings, p.officer), json={}))
    paid = ok(await client.post(f"/api/v1/contracts/{cid}/milestones/{milestone['id']}/payments",
                                headers=hdr(settings, p.officer), json={"external_reference": "SIAF-2027-000001"}),
              202)
    assert paid["method"] == "treasury" and paid["state"] == "succeeded"
    assert paid["amount"] == {"amount": 11_000_000, "currency": "PEN"}
    await drain_everything()  # payments tell contracts ('payment.succeeded'): the milestone is paid
    got = ok(await client.get(f"/api/v1/contracts/{cid}", headers=hdr(settings, cusco)))
    assert got["state"] == "completed"
    assert (got["balance"]["paid"]["amount"], got["balance"]["outstanding"]["amount"]) == (11_000_000, 0)

    # A citizen, signed in as nobody, follows the money.
    await drain_everything()
    history = ok(await client.get("/api/v1/oversight/awards", params={"supplier_ruc": (await db.fetchrow(
        "SELECT ruc FROM supplier WHERE organisation_id = $1", cusco.org_id))["ruc"]}))["items"]
    assert [(h["award_id"], h["supplier_name"], h["value"]) for h in history] == [
        (award["id"], "Andes Servicios S.A.C.", 11_000_000)]
    package = ok(await client.get(f"/ocds/records/{ocid}"))
    compiled = package["records"][0]["compiledRelease"]
    assert compiled["ocid"] == ocid and compiled["tender"]["id"]
    assert [a["id"] for a in compiled["awards"]] == [award["id"]]
    assert [a["suppliers"][0]["name"] for a in compiled["awards"]] == ["Andes Servicios S.A.C."]
    assert len(compiled["contracts"]) == 1 and compiled["contracts"][0]["awardID"] == award["id"]
    await chain_audit(settings)
    report = ok(await client.get("/api/v1/audit/verify"))
    assert report["ok"] is True and report["events_checked"] > 0 and report["first_broken"] is None
    page = await client.get(f"/tenders/{s.tender_id}")
    assert page.status_code == 200 and "Andes Servicios S.A.C." in page.text


async def test_catalogue_purchase_local_supplier_first(client, settings):
    _, product, _ = await catalog_with_product(client, settings)
    cusco = await active_supplier(settings, ubigeo="080101", name="Papelera Cusqueña E.I.R.L.")
    lima = await active_supplier(settings, ubigeo="150101", name="Distribuidora Limeña S.A.")
    # Lima is cheaper in Cusco too; locality comes first.
    cusco_offer = await offer(client, cusco, product, {"08": (2_400, 3, 20)})
    await offer(client, lima, product, {"08": (2_200, 6, 50), "15": (2_000, 2, 50)})
    await drain_search()

    officer = await factories.login(settings, "agency", "officer", ubigeo="080101")
    found = ok(await client.get("/api/v1/catalog/search", params={"q": "papel bond", "ubigeo": "080108"},
                                headers=officer.headers))
    assert [(i["supplier_id"], i["tier"]) for i in found["items"]][:2] == [
        (str(cusco.org_id), "same_province"), (str(lima.org_id), "elsewhere")]
    first = found["items"][0]
    assert first["offer_id"] == cusco_offer["id"] and first["region"] == "08"
    assert first["price"] == {"amount": 2_400, "currency": "PEN"}

    order = ok(await client.post("/api/v1/orders", headers=officer.headers, json={
        "offer_id": first["offer_id"], "delivery_ubigeo": "080108", "quantity": 5}), 201)
    assert (order["status"], order["total"], order["supplier_id"]) == (
        "placed", {"amount": 12_000, "currency": "PEN"}, str(cusco.org_id))
    accepted = ok(await client.post(f"/api/v1/orders/{order['id']}/accept", headers=cusco.headers))
    assert accepted["status"] == "accepted"

    await drain_everything()
    contracts = ok(await client.get("/api/v1/contracts", headers=officer.headers))
    assert [(c["source_type"], c["source_id"], c["value"], c["supplier_org_id"]) for c in contracts] == [
        ("order", order["id"], {"amount": 12_000, "currency": "PEN"}, str(cusco.org_id))]
    assert ok(await client.get(f"/api/v1/contracts/{contracts[0]['id']}", headers=cusco.headers))["id"] == \
        contracts[0]["id"]


async def test_appeal_with_bond_dismissed_then_consent(client, pay_settings, stripe_server, fixed_clock):
    settings = pay_settings
    p = await personas(settings, client)
    s, award, loser, winner = await awarded(client, settings, fixed_clock, p)
    fixed_clock.advance(days=1)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(await client.post(url, json={"grounds": "El postor ganador no acreditó su experiencia."},
                                  headers=hdr(settings, loser)), 201)
    assert appeal["state"] == "pending_bond"
    # Paid through Stripe (the local server, a signed webhook): the appeal is admitted, consent waits.
    await pay_appeal_bond(client, settings, stripe_server, appeal["id"])
    admitted = ok(await client.get(url))[0]
    assert (admitted["state"], admitted["award_state"]) == ("filed", "appealed")
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) + timedelta(days=1))
    assert await consent_job() == 0
    # The agency's head (the lot is below 50 UIT) dismisses it after the standstill: the decision consents the
    # award; the contract follows.
    head = await factories.login(settings, "agency", "agency_head", org_id=p.agency_id)
    decision = ok(await client.post(f"{url}/{appeal['id']}/decision", headers=hdr(settings, head),
                                    json={"decision": "dismissed", "reason": "La experiencia fue acreditada"}))
    assert (decision["state"], decision["award_state"]) == ("dismissed", "consented")
    await drain_everything()
    await run_jobs(settings)
    assert stripe_server.created == {"payment_intent": 1}  # a dismissed appeal's bond is not refunded
    decided = ok(await client.get(url))[0]
    assert decided["state"] == "dismissed", decided
    assert await consent_job() == 0  # already consented, exactly once
    got = ok(await client.get(f"/api/v1/awards/{award['id']}"))
    assert got["state"] == "consented", got
    await drain_everything()
    contracts = ok(await client.get("/api/v1/contracts", headers=hdr(settings, winner)))
    assert [(c["source_type"], c["source_id"]) for c in contracts] == [("award", award["id"])]
